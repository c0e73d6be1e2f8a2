package dev.tether.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Linux /proc readings of the broker under test: CPU (utime+stime+cutime+cstime, so that the CPU of
 * PostgreSQL backends that exit is still counted through the postmaster), VmRSS and JVM NMT.
 */
final class Proc {
    /** USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK). */
    private static final double TICK_MS = 10.0;

    private final long brokerPid;
    /** A second broker process (another replica of the same broker) whose CPU counts too; 0: none. */
    private final long brokerPid2;
    private final Path pgData;

    Proc(long brokerPid, long brokerPid2, Path pgData) {
        this.brokerPid = brokerPid;
        this.brokerPid2 = brokerPid2;
        this.pgData = pgData;
    }

    boolean enabled() {
        return brokerPid > 0;
    }

    /** The broker pid(s), their descendants, and for Tether the embedded postmaster and its descendants. */
    List<Long> pids() {
        List<Long> roots = new ArrayList<>();
        if (brokerPid > 0) {
            roots.add(brokerPid);
        }
        if (brokerPid2 > 0) {
            roots.add(brokerPid2);
        }
        Long pm = postmasterPid();
        if (pm != null) {
            roots.add(pm);
        }
        Map<Long, List<Long>> children = new HashMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : ds) {
                String[] f = statFields(p.resolve("stat"));
                if (f != null) {
                    children.computeIfAbsent(Long.parseLong(f[1]), k -> new ArrayList<>())
                            .add(Long.parseLong(p.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            // fall through with roots only
        }
        List<Long> out = new ArrayList<>();
        List<Long> todo = new ArrayList<>(roots);
        while (!todo.isEmpty() && out.size() < 10_000) {
            long pid = todo.remove(todo.size() - 1);
            if (!out.contains(pid)) {
                out.add(pid);
                todo.addAll(children.getOrDefault(pid, List.of()));
            }
        }
        return out;
    }

    Long postmasterPid() {
        if (pgData == null) {
            return null;
        }
        try {
            return Long.parseLong(Files.readAllLines(pgData.resolve("postmaster.pid")).get(0).trim());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Total CPU milliseconds of the broker's processes. */
    double cpuMs() {
        double ticks = 0;
        for (long pid : pids()) {
            String[] f = statFields(Path.of("/proc", Long.toString(pid), "stat"));
            if (f != null) {
                // after "pid (comm)": f[0]=state f[1]=ppid ... f[11]=utime f[12]=stime f[13]=cutime f[14]=cstime
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
            }
        }
        return ticks * TICK_MS;
    }

    /** Fields after the ")" of /proc/pid/stat, or null if the process is gone. */
    private static String[] statFields(Path stat) {
        try {
            String s = Files.readString(stat);
            return s.substring(s.lastIndexOf(')') + 2).trim().split(" ");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static long rssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return -1;
    }

    long brokerRssKb() {
        return rssKb(brokerPid);
    }

    /** Sum of VmRSS of the PostgreSQL processes (shared buffers are counted once per process). */
    long pgRssKb() {
        Long pm = postmasterPid();
        if (pm == null) {
            return -1;
        }
        long sum = 0;
        for (long pid : pids()) {
            if (pid != brokerPid && isDescendantOrSelf(pid, pm)) {
                sum += Math.max(0, rssKb(pid));
            }
        }
        return sum;
    }

    private static boolean isDescendantOrSelf(long pid, long ancestor) {
        long p = pid;
        for (int i = 0; i < 64 && p > 1; i++) {
            if (p == ancestor) {
                return true;
            }
            String[] f = statFields(Path.of("/proc", Long.toString(p), "stat"));
            if (f == null) {
                return false;
            }
            p = Long.parseLong(f[1]);
        }
        return false;
    }

    private static final Pattern NMT = Pattern.compile(
            "^[-\\s]*([A-Za-z][A-Za-z ]*?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)", Pattern.MULTILINE);

    /** NMT summary, category -> committed KB ("Total" included), or empty if jcmd/NMT unavailable. */
    Map<String, Long> nmtCommittedKb() {
        Map<String, Long> out = new LinkedHashMap<>();
        if (brokerPid <= 0) {
            return out;
        }
        try {
            Process p = new ProcessBuilder("jcmd", Long.toString(brokerPid), "VM.native_memory", "summary")
                    .redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return out;
            }
            Matcher m = NMT.matcher(text);
            while (m.find()) {
                out.put(m.group(1).trim(), Long.parseLong(m.group(3)));
            }
            Matcher total = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB").matcher(text);
            if (total.find()) {
                out.put("Total", Long.parseLong(total.group(2)));
            }
        } catch (IOException e) {
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out;
    }

    /** Java heap in use (live and not yet collected; no GC is forced) from jcmd GC.heap_info, KB; -1 if unavailable. */
    long heapUsedKb() {
        if (brokerPid <= 0) {
            return -1;
        }
        try {
            Process p = new ProcessBuilder("jcmd", Long.toString(brokerPid), "GC.heap_info").redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            Matcher m = Pattern.compile("heap\\s+total \\d+K, used (\\d+)K").matcher(text);
            return m.find() ? Long.parseLong(m.group(1)) : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** CPU milliseconds used by this (load generator) JVM so far. */
    static double selfCpuMs() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime() / 1e6;
        }
        return Double.NaN;
    }
}
