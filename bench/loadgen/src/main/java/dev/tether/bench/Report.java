package dev.tether.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Prints one table from the JSON lines of all brokers and runs: per case its parameters, how many runs each
 * broker has and which failed, then for each metric the median over the runs per broker with its spread, and
 * the ratios Tether/Mosquitto and Tether/HiveMQ CE of the medians. A ratio above 1 means Tether's figure is
 * larger (better for rates, worse for latencies, CPU and memory). Every JSON line of a (case, broker) is one
 * run (its "run" field, where present, only orders them), except a line with a "skipped" field: the broker does
 * not run that case (e.g. cross-replica on Mosquitto), shown as one line with the reason.
 */
final class Report {
    static final List<String> ORDER = List.of("tether", "mosquitto", "hivemq");

    private Report() {
    }

    /** Median, min and max of one metric of one broker over the runs that have a value for it. */
    record Stat(int n, int runs, double median, double min, double max) {
    }

    /** All runs of one case: broker -> the runs' JSON objects, in run order. */
    static final class Case {
        final String name;
        final Map<String, List<Map<String, Object>>> runs = new LinkedHashMap<>();
        /** broker -> why it does not run this case. */
        final Map<String, String> skipped = new LinkedHashMap<>();

        Case(String name) {
            this.name = name;
        }

        Stat stat(String broker, String metric) {
            List<Map<String, Object>> rs = runs.get(broker);
            if (rs == null) {
                return null;
            }
            double[] v = rs.stream().map(r -> value(r, metric)).filter(Objects::nonNull).mapToDouble(Double::doubleValue).toArray();
            if (v.length == 0) {
                return null;
            }
            Arrays.sort(v);
            int k = v.length;
            double median = k % 2 == 1 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
            return new Stat(k, rs.size(), median, v[0], v[k - 1]);
        }

        Double median(String broker, String metric) {
            Stat s = stat(broker, metric);
            return s == null ? null : s.median();
        }

        @SuppressWarnings("unchecked")
        Set<String> metrics() {
            Set<String> out = new LinkedHashSet<>();
            for (List<Map<String, Object>> rs : runs.values()) {
                for (Map<String, Object> r : rs) {
                    Object m = r.get("metrics");
                    if (m instanceof Map<?, ?> mm) {
                        out.addAll(((Map<String, Object>) mm).keySet());
                    }
                }
            }
            return out;
        }
    }

    /** The cases in first-seen order and the brokers in the order tether, mosquitto, hivemq, others. */
    record Model(Map<String, Case> cases, List<String> brokers) {
        int maxRuns() {
            int n = 0;
            for (Case c : cases.values()) {
                for (List<Map<String, Object>> rs : c.runs.values()) {
                    n = Math.max(n, rs.size());
                }
            }
            return n;
        }
    }

    @SuppressWarnings("unchecked")
    static Model load(List<String> files) throws IOException {
        Map<String, Case> cases = new LinkedHashMap<>();
        Set<String> seen = new LinkedHashSet<>();
        for (String f : files) {
            for (String line : Files.readAllLines(Path.of(f))) {
                line = line.trim();
                if (!line.startsWith("{")) {
                    continue;
                }
                Map<String, Object> r = (Map<String, Object>) Json.parse(line);
                String broker = String.valueOf(r.get("broker"));
                seen.add(broker);
                Case c = cases.computeIfAbsent(String.valueOf(r.get("case")), Case::new);
                if (r.get("skipped") != null) {
                    c.skipped.put(broker, String.valueOf(r.get("skipped")));
                    continue;
                }
                c.runs.computeIfAbsent(broker, k -> new ArrayList<>()).add(r);
            }
        }
        for (Case c : cases.values()) {
            for (List<Map<String, Object>> rs : c.runs.values()) {
                rs.sort(Comparator.comparingDouble(r -> r.get("run") instanceof Number n ? n.doubleValue() : 0));
            }
        }
        List<String> brokers = new ArrayList<>();
        for (String b : ORDER) {
            if (seen.contains(b)) {
                brokers.add(b);
            }
        }
        for (String b : seen) {
            if (!brokers.contains(b)) {
                brokers.add(b);
            }
        }
        return new Model(cases, brokers);
    }

    static int print(List<String> files, PrintStream out) throws IOException {
        return print(load(files), out);
    }

    @SuppressWarnings("unchecked")
    static int print(Model model, PrintStream out) {
        List<String> cols = model.brokers();
        // Ratio columns only for the brokers present, and only when Tether is.
        List<String> others = new ArrayList<>();
        if (cols.contains("tether")) {
            for (String o : List.of("mosquitto", "hivemq")) {
                if (cols.contains(o)) {
                    others.add(o);
                }
            }
        }
        String fmt = "  %-30s" + " %11s %-6s".repeat(cols.size()) + " %8s".repeat(others.size());
        List<Object> head = new ArrayList<>(List.of("metric"));
        for (String b : cols) {
            head.add(b);
            head.add("spr");
        }
        for (String o : others) {
            head.add(o.equals("hivemq") ? "T/HiveMQ" : "T/Mosq");
        }
        int maxRuns = model.maxRuns();
        out.println("==== Tether benchmark: median of " + maxRuns + " run" + (maxRuns == 1 ? "" : "s") + " per case and broker ====");
        out.println("T/Mosq, T/HiveMQ: Tether's median / the other's median (>1 = Tether's figure is larger).");
        out.println("spr: spread of the runs, (max - min) / median; \"<=X\": median 0, max X; \"k/n\": only k of n runs had a");
        out.println("value. \"!!\": a failed run (its figures are in the medians).");
        int failures = 0;
        for (Case c : model.cases().values()) {
            out.println();
            Object params = headParams(c);
            wrap(out, "## " + c.name + "  " + Json.write(params), "     ");
            // Parameters that differ between brokers (e.g. expiry: m) or runs.
            for (Map.Entry<String, List<Map<String, Object>>> e : c.runs.entrySet()) {
                Map<String, List<String>> diffs = new LinkedHashMap<>(); // the same difference in several runs: one line
                for (Map<String, Object> r : e.getValue()) {
                    if (!(r.get("params") instanceof Map<?, ?> pm) || pm.isEmpty()) {
                        continue; // a failure line of the script (no result)
                    }
                    Map<String, Object> diff = diff((Map<String, Object>) params, (Map<String, Object>) r.get("params"));
                    if (!diff.isEmpty()) {
                        diffs.computeIfAbsent(Json.write(diff), k -> new ArrayList<>()).add(runNo(r));
                    }
                }
                diffs.forEach((d, rs) -> wrap(out, "  params of " + e.getKey() + runs(rs, e.getValue().size()) + ": " + d, "     "));
            }
            StringBuilder runsLine = new StringBuilder("  runs:");
            List<String> failed = new ArrayList<>();
            for (String b : cols) {
                List<Map<String, Object>> rs = c.runs.get(b);
                if (rs == null) {
                    continue;
                }
                int bad = 0;
                Map<String, List<String>> errors = new LinkedHashMap<>(); // the same errors in several runs: one line
                for (Map<String, Object> r : rs) {
                    if (!Boolean.TRUE.equals(r.get("ok"))) {
                        bad++;
                        errors.computeIfAbsent(Json.write(r.get("errors")), k -> new ArrayList<>()).add(runNo(r));
                    }
                }
                errors.forEach((err, which) -> failed.add("  !! " + b + runs(which, -1) + " FAILED: " + err));
                runsLine.append(' ').append(b).append(' ').append(rs.size()).append(bad > 0 ? " (" + bad + " FAILED)" : "").append(',');
                failures += bad;
            }
            runsLine.setLength(runsLine.length() - 1);
            out.println(c.runs.isEmpty() ? "  runs: none" : runsLine);
            c.skipped.forEach((b, why) -> wrap(out, "  " + b + ": skipped, " + why, "     "));
            failed.forEach(f -> wrap(out, f, "       "));
            if (c.runs.isEmpty()) {
                continue; // every broker skipped it
            }
            out.println(String.format(fmt, head.toArray()).stripTrailing());
            for (String m : c.metrics()) {
                List<Object> cells = new ArrayList<>();
                cells.add(m);
                for (String b : cols) {
                    Stat s = c.stat(b, m);
                    cells.add(s == null ? (c.runs.containsKey(b) ? "n/a" : "") : fmtNum(s.median()));
                    cells.add(spread(s));
                }
                Double t = c.median("tether", m);
                for (String o : others) {
                    cells.add(ratio(t, c.median(o, m)));
                }
                out.println(String.format(fmt, cells.toArray()).stripTrailing());
            }
            for (String b : cols) {
                List<Map<String, Object>> rs = c.runs.get(b);
                if (rs == null) {
                    continue;
                }
                Object extra = medianExtra(rs);
                if (extra != null) {
                    wrap(out, "  " + b + " extra" + (rs.size() > 1 ? " (median per key of " + rs.size() + " runs)" : "")
                            + ": " + Json.write(extra), "     ");
                }
            }
        }
        out.println();
        out.println(failures == 0 ? "all runs ok" : failures + " run(s) FAILED (the !! lines above)");
        return failures == 0 ? 0 : 1;
    }

    /** The parameters shown for a case: those of its first run that has any (Tether's first, as brokers come in order). */
    private static Object headParams(Case c) {
        for (List<Map<String, Object>> rs : c.runs.values()) {
            for (Map<String, Object> r : rs) {
                if (r.get("params") instanceof Map<?, ?> pm && !pm.isEmpty()) {
                    return pm;
                }
            }
        }
        return Map.of();
    }

    /** medians.csv: case, broker, metric, runs, values, median, min, max (for the docs and other tools). */
    static void writeCsv(Model model, Path file) throws IOException {
        StringBuilder sb = new StringBuilder("case,broker,metric,runs,values,median,min,max\n");
        for (Case c : model.cases().values()) {
            for (String m : c.metrics()) {
                for (String b : model.brokers()) {
                    Stat s = c.stat(b, m);
                    if (s != null) {
                        sb.append(c.name).append(',').append(b).append(',').append(m).append(',').append(s.runs())
                                .append(',').append(s.n()).append(',').append(num(s.median())).append(',')
                                .append(num(s.min())).append(',').append(num(s.max())).append('\n');
                    }
                }
            }
        }
        Files.writeString(file, sb);
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(Math.round(v * 1000.0) / 1000.0);
    }

    /** Prints s in lines of at most 120 characters, broken after a comma or space where possible. */
    private static void wrap(PrintStream out, String s, String indent) {
        int width = 120;
        String line = s;
        for (int guard = 0; line.length() > width && guard < 1000; guard++) {
            int cut = -1;
            for (int i = width - 1; i > indent.length() + 20; i--) {
                char ch = line.charAt(i);
                if (ch == ',' || ch == ' ') {
                    cut = i + 1;
                    break;
                }
            }
            if (cut < 0) {
                cut = width;
            }
            out.println(line.substring(0, cut).stripTrailing());
            line = indent + line.substring(cut).stripLeading();
        }
        out.println(line);
    }

    /** " run 2", " runs 1, 3", or "" when all of total runs. */
    private static String runs(List<String> which, int total) {
        if (which.size() == total) {
            return total == 1 ? "" : " (all runs)";
        }
        return (which.size() == 1 ? " run " : " runs ") + String.join(", ", which);
    }

    private static String runNo(Map<String, Object> r) {
        return r.get("run") instanceof Number n ? Long.toString(n.longValue()) : "?";
    }

    private static Map<String, Object> diff(Map<String, Object> a, Map<String, Object> b) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (a == null || b == null) {
            return out;
        }
        for (Map.Entry<String, Object> e : b.entrySet()) {
            if (!Objects.equals(a.get(e.getKey()), e.getValue())) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /** The runs' "extra" objects: a map of numbers becomes the median per key; anything else, the first run's. */
    @SuppressWarnings("unchecked")
    private static Object medianExtra(List<Map<String, Object>> rs) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map<String, Object> r : rs) {
            if (!(r.get("extra") instanceof Map<?, ?> extra)) {
                continue;
            }
            for (Map.Entry<String, Object> e : ((Map<String, Object>) extra).entrySet()) {
                if (out.containsKey(e.getKey())) {
                    continue;
                }
                if (e.getValue() instanceof Map<?, ?> inner && inner.values().stream().allMatch(v -> v instanceof Number)) {
                    Map<String, Object> med = new LinkedHashMap<>();
                    for (Object k : inner.keySet()) {
                        double[] v = rs.stream().map(x -> x.get("extra") instanceof Map<?, ?> xe && xe.get(e.getKey()) instanceof Map<?, ?> xi
                                && xi.get(k) instanceof Number n ? n.doubleValue() : Double.NaN).filter(d -> !Double.isNaN(d))
                                .mapToDouble(Double::doubleValue).sorted().toArray();
                        med.put(String.valueOf(k), v.length == 0 ? null : v.length % 2 == 1 ? v[v.length / 2]
                                : (v[v.length / 2 - 1] + v[v.length / 2]) / 2);
                    }
                    out.put(e.getKey(), med);
                } else {
                    out.put(e.getKey(), e.getValue());
                }
            }
        }
        return out.isEmpty() ? null : out;
    }

    @SuppressWarnings("unchecked")
    static Double value(Map<String, Object> r, String metric) {
        if (r == null || !(r.get("metrics") instanceof Map<?, ?> m)) {
            return null;
        }
        Object v = ((Map<String, Object>) m).get(metric);
        return v instanceof Number n ? n.doubleValue() : null;
    }

    static String fmtNum(Double v) {
        if (v == null || v.isNaN()) {
            return "n/a";
        }
        double a = Math.abs(v);
        if (a == Math.rint(a) && a < 1e12) {
            return String.format("%,d", v.longValue());
        }
        return a >= 100 ? String.format("%,.0f", v) : a >= 1 ? String.format("%.2f", v) : String.format("%.3f", v);
    }

    /** Compact spread: relative range in %, or "<=max" when the median is 0, or "k/n" when runs lack a value. */
    static String spread(Stat s) {
        if (s == null || s.runs() <= 1) {
            return "";
        }
        if (s.n() < s.runs()) {
            return s.n() + "/" + s.runs();
        }
        double range = s.max() - s.min();
        if (range == 0) {
            return "0%";
        }
        if (s.median() == 0) {
            return "<=" + compact(s.max());
        }
        double pct = 100 * range / Math.abs(s.median());
        return pct >= 999.5 ? ">999%" : pct < 1 ? "<1%" : String.format("%.0f%%", pct);
    }

    private static String compact(double v) {
        double a = Math.abs(v);
        if (a >= 1e6) {
            return String.format("%.1fM", v / 1e6);
        }
        if (a >= 1e4) {
            return String.format("%.0fk", v / 1e3);
        }
        if (a >= 1e3) {
            return String.format("%.1fk", v / 1e3);
        }
        return a >= 10 || a == Math.rint(a) ? String.format("%.0f", v) : String.format("%.1f", v);
    }

    private static String ratio(Double t, Double o) {
        if (t == null || o == null || o == 0 || t.isNaN() || o.isNaN()) {
            return "n/a";
        }
        return String.format("%.2f", t / o);
    }
}
