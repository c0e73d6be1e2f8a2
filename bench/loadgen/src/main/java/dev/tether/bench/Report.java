package dev.tether.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Prints one table from the JSON lines of all brokers: per case its parameters, then each metric for each
 * broker and the ratios Tether/Mosquitto and Tether/HiveMQ CE. A ratio above 1 means Tether's figure is
 * larger (better for rates, worse for latencies, CPU and memory).
 */
final class Report {
    private static final List<String> ORDER = List.of("tether", "mosquitto", "hivemq");

    private Report() {
    }

    @SuppressWarnings("unchecked")
    static int print(List<String> files, PrintStream out) throws IOException {
        Map<String, Map<String, Map<String, Object>>> byCase = new LinkedHashMap<>();
        Set<String> brokers = new LinkedHashSet<>(ORDER);
        for (String f : files) {
            for (String line : Files.readAllLines(Path.of(f))) {
                line = line.trim();
                if (!line.startsWith("{")) {
                    continue;
                }
                Map<String, Object> r = (Map<String, Object>) Json.parse(line);
                String broker = String.valueOf(r.get("broker"));
                brokers.add(broker);
                byCase.computeIfAbsent(String.valueOf(r.get("case")), k -> new LinkedHashMap<>()).put(broker, r);
            }
        }
        List<String> cols = new ArrayList<>();
        for (String b : brokers) {
            for (Map<String, Map<String, Object>> c : byCase.values()) {
                if (c.containsKey(b)) {
                    cols.add(b);
                    break;
                }
            }
        }
        String fmt = "  %-32s" + " %14s".repeat(cols.size()) + " %10s %10s%n";
        List<Object> head = new ArrayList<>(List.of("metric"));
        head.addAll(cols);
        head.add("T/Mosq");
        head.add("T/HiveMQ");
        out.println("==== Tether benchmark (ratios: Tether / other; >1 = Tether's figure is larger) ====");
        int failures = 0;
        for (Map.Entry<String, Map<String, Map<String, Object>>> c : byCase.entrySet()) {
            Map<String, Map<String, Object>> rows = c.getValue();
            Map<String, Object> first = rows.values().iterator().next();
            out.println();
            out.println("## " + c.getKey() + "  " + Json.write(first.get("params")));
            for (Map.Entry<String, Map<String, Object>> e : rows.entrySet()) {
                if (!Boolean.TRUE.equals(e.getValue().get("ok"))) {
                    failures++;
                    out.println("  !! " + e.getKey() + " FAILED: " + e.getValue().get("errors"));
                }
            }
            out.printf(fmt, head.toArray());
            Set<String> metrics = new LinkedHashSet<>();
            for (Map<String, Object> r : rows.values()) {
                metrics.addAll(((Map<String, Object>) r.get("metrics")).keySet());
            }
            for (String m : metrics) {
                List<Object> cells = new ArrayList<>();
                cells.add(m);
                for (String b : cols) {
                    cells.add(fmtNum(value(rows.get(b), m)));
                }
                Double t = value(rows.get("tether"), m);
                cells.add(ratio(t, value(rows.get("mosquitto"), m)));
                cells.add(ratio(t, value(rows.get("hivemq"), m)));
                out.printf(fmt, cells.toArray());
            }
            for (Map.Entry<String, Map<String, Object>> e : rows.entrySet()) {
                Object extra = e.getValue().get("extra");
                if (extra != null) {
                    out.println("  " + e.getKey() + " extra: " + Json.write(extra));
                }
            }
        }
        out.println();
        out.println(failures == 0 ? "all cases ok" : failures + " case(s) FAILED");
        return failures == 0 ? 0 : 1;
    }

    @SuppressWarnings("unchecked")
    private static Double value(Map<String, Object> r, String metric) {
        if (r == null) {
            return null;
        }
        Object v = ((Map<String, Object>) r.get("metrics")).get(metric);
        return v instanceof Number n ? n.doubleValue() : null;
    }

    private static String fmtNum(Double v) {
        if (v == null) {
            return "n/a";
        }
        double a = Math.abs(v);
        if (a == Math.rint(a) && a < 1e12) {
            return String.format("%,d", v.longValue());
        }
        return a >= 100 ? String.format("%,.0f", v) : a >= 1 ? String.format("%.2f", v) : String.format("%.3f", v);
    }

    private static String ratio(Double t, Double o) {
        if (t == null || o == null || o == 0) {
            return "n/a";
        }
        return String.format("%.2f", t / o);
    }
}
