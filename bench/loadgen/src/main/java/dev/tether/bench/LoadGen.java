package dev.tether.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5Client;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;

/**
 * MQTT 5 load generator for Tether and the brokers it is compared with (HiveMQ MQTT client 1.3.7, async API).
 *
 * <pre>
 * java -jar loadgen.jar SCENARIO [--key value]...   run one scenario, print one JSON line (and append it to --out)
 * java -jar loadgen.jar smoke [--key value]...      tiny versions of every scenario; exit 1 if one fails
 * java -jar loadgen.jar report FILE... [--plots DIR] table of the medians over the runs of all JSON lines, with
 *                                                   Tether/other ratios; --plots: PNG charts and medians.csv in DIR
 * </pre>
 * Scenarios: connect, connect-auth, throughput, latency, resume, expiry, idle, cross-replica. Every loop is bounded in
 * count and by a deadline. Common options: --broker NAME, --host 127.0.0.1, --port 1883, --pid BROKER_PID (CPU, memory),
 * --pid2 PID (a second broker process whose CPU counts too: cross-replica), --pg-data DIR (Tether: embedded
 * PostgreSQL processes count as broker CPU), --jdbc URL (Tether: expiry, connect-auth), --jvm true (NMT via jcmd),
 * --case LABEL, --run N (written into the JSON line), --out FILE. throughput and latency also take --pub-port and
 * --sub-port (default --port): publishers connect to one, subscribers to the other. throughput --durable true
 * [--expiry 300] gives the subscribers durable sessions (Clean Start 0, that Session Expiry Interval; QoS 1 or 2).
 * --broker-cpus LIST (the broker's taskset CPU list, given by bench/run.sh) is only written into the parameters.
 */
public final class LoadGen {

    private final Map<String, String> opts;
    private final String broker;
    private final String host;
    private final int port;
    /** Where throughput/latency publishers and subscribers connect (--pub-port, --sub-port; default --port). */
    private int pubPort;
    private int subPort;
    /** Distinguishes the client ids and topics of the phases of one scenario (cross-replica). */
    private String tag = "";
    private final Proc proc;
    private final String runId = Long.toString(System.currentTimeMillis() % 100_000_000L, 36);
    private final AtomicLong seq = new AtomicLong();

    LoadGen(Map<String, String> opts) {
        this.opts = opts;
        this.broker = opt("broker", "broker");
        this.host = opt("host", "127.0.0.1");
        this.port = intOpt("port", 1883);
        this.pubPort = intOpt("pub-port", port);
        this.subPort = intOpt("sub-port", port);
        String pg = opts.get("pg-data");
        this.proc = new Proc(Long.parseLong(opt("pid", "0")), Long.parseLong(opt("pid2", "0")), pg == null ? null : Path.of(pg));
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: loadgen connect|connect-auth|throughput|latency|resume|expiry|idle|cross-replica|smoke|report [--key value]...");
            System.exit(2);
        }
        String scenario = args[0];
        if (scenario.equals("report")) {
            System.exit(report(List.of(args).subList(1, args.length)));
        }
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 1; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value, got " + args[i]);
            }
            opts.put(args[i].substring(2), args[i + 1]);
        }
        LoadGen gen = new LoadGen(opts);
        boolean ok;
        if (scenario.equals("smoke")) {
            ok = gen.smoke();
        } else {
            ok = gen.emit(gen.run(scenario, opts.getOrDefault("case", scenario)));
        }
        System.exit(ok ? 0 : 1);
    }

    /** report FILE... [--plots DIR]: the table of medians on stdout; with --plots, PNG charts and medians.csv in DIR. */
    private static int report(List<String> args) throws IOException {
        List<String> files = new ArrayList<>();
        Path plots = null;
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--plots") && i + 1 < args.size()) {
                plots = Path.of(args.get(++i));
            } else {
                files.add(args.get(i));
            }
        }
        Report.Model model = Report.load(files);
        int rc = Report.print(model, System.out);
        if (plots != null) {
            System.setProperty("java.awt.headless", "true"); // before any AWT/XChart class loads
            try {
                Files.createDirectories(plots);
                Report.writeCsv(model, plots.resolve("medians.csv"));
                for (Path p : Plots.write(model, plots)) {
                    System.err.println("plot: " + p);
                }
            } catch (IOException | RuntimeException | LinkageError e) {
                System.err.println("plots failed: " + e);
                e.printStackTrace();
                rc = rc == 0 ? 3 : rc;
            }
        }
        return rc;
    }

    // ---------------------------------------------------------------- plumbing

    private String opt(String k, String def) {
        return opts.getOrDefault(k, def);
    }

    private int intOpt(String k, int def) {
        return Integer.parseInt(opt(k, Integer.toString(def)));
    }

    private double dblOpt(String k, double def) {
        return Double.parseDouble(opt(k, Double.toString(def)));
    }

    private Result run(String scenario, String caseName) throws Exception {
        Result r = new Result(scenario, caseName, broker);
        if (opts.containsKey("run")) {
            r.run = Integer.parseInt(opts.get("run"));
        }
        if (opts.containsKey("broker-cpus")) {
            r.param("broker_cpus", opts.get("broker-cpus"));
        }
        double cpu0 = proc.enabled() ? proc.cpuMs() : Double.NaN;
        double self0 = Proc.selfCpuMs();
        long ops;
        try {
            ops = switch (scenario) {
                case "connect" -> connect(r);
                case "connect-auth" -> connectAuth(r);
                case "throughput" -> throughput(r);
                case "latency" -> latency(r);
                case "resume" -> resume(r);
                case "expiry" -> expiry(r);
                case "idle" -> idle(r);
                case "cross-replica" -> crossReplica(r);
                default -> throw new IllegalArgumentException("unknown scenario " + scenario);
            };
        } catch (Exception e) {
            r.fail("exception: " + e);
            ops = 0;
        }
        double cpu = proc.enabled() ? proc.cpuMs() - cpu0 : Double.NaN;
        double self = Proc.selfCpuMs() - self0;
        if (r.window != null) {
            // Warm-up excluded: a freshly started JVM broker spends its first seconds compiling.
            cpu = r.window.brokerCpuMs();
            self = r.window.selfCpuMs();
            ops = r.window.ops();
            r.params.putIfAbsent("cpu_counted", "measured window only (after warm-up)");
        }
        r.metric("broker_cpu_ms", cpu);
        r.metric("broker_cpu_us_per_op", ops > 0 ? cpu * 1000.0 / ops : Double.NaN);
        r.metric("loadgen_cpu_ms", self);
        r.metric("loadgen_cpu_us_per_op", ops > 0 ? self * 1000.0 / ops : Double.NaN);
        r.param("cpu_op", r.opName);
        return r;
    }

    private boolean emit(Result r) throws IOException {
        String line = Json.write(r.toMap());
        System.out.println(line);
        System.out.flush();
        String out = opts.get("out");
        if (out != null) {
            Files.writeString(Path.of(out), line + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        if (!r.ok) {
            System.err.println("FAILED " + r.caseName + " on " + broker + ": " + r.errors);
        }
        return r.ok;
    }

    private Mqtt5AsyncClient client(String id, String localIp) {
        return client(id, localIp, port);
    }

    private Mqtt5AsyncClient client(String id, String localIp, int toPort) {
        var b = Mqtt5Client.builder().identifier(id)
                .transportConfig()
                .serverAddress(new InetSocketAddress(host, toPort))
                .socketConnectTimeout(10, TimeUnit.SECONDS)
                .mqttConnectTimeout(30, TimeUnit.SECONDS);
        if (localIp != null) {
            b = b.localAddress(new InetSocketAddress(localIp, 0));
        }
        return b.applyTransportConfig().buildAsync();
    }

    private Mqtt5AsyncClient client(String id) {
        return client(id, null);
    }

    private String id(String kind, int i) {
        return "b" + runId + tag + "-" + kind + "-" + i;
    }

    /** Source address for connection i: spreads more than 20,000 connections over 127.0.0.2.. (ephemeral ports). */
    private static String localIp(int i, int total) {
        return total <= 20_000 ? null : "127.0.0." + (2 + i / 20_000);
    }

    private static long deadline(double seconds) {
        return System.nanoTime() + (long) (seconds * 1e9);
    }

    private static boolean before(long deadline) {
        return System.nanoTime() - deadline < 0;
    }

    private static long remainingMs(long deadline) {
        return Math.max(0, (deadline - System.nanoTime()) / 1_000_000);
    }

    private static byte[] payload(int size, long nanos, long seqNo) {
        byte[] p = new byte[Math.max(16, size)];
        ByteBuffer.wrap(p).putLong(nanos).putLong(seqNo);
        return p;
    }

    private static void sleepUntil(long deadlineNanos) {
        while (before(deadlineNanos)) {
            LockSupport.parkNanos(Math.min(deadlineNanos - System.nanoTime(), 50_000_000L));
        }
    }

    /** Connects clients[i] with at most inflight CONNECTs outstanding; returns the CONNACK futures. */
    private List<CompletableFuture<Mqtt5ConnAck>> connectAll(List<Mqtt5AsyncClient> clients, boolean cleanStart, long expiry,
                                                           int inflight, long deadline, Hist connackLatency, Result r) throws InterruptedException {
        Semaphore slots = new Semaphore(inflight);
        List<CompletableFuture<Mqtt5ConnAck>> out = new ArrayList<>(clients.size());
        for (Mqtt5AsyncClient c : clients) {
            if (!slots.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                r.fail("deadline while connecting (" + out.size() + " of " + clients.size() + " started)");
                break;
            }
            long t0 = System.nanoTime();
            CompletableFuture<Mqtt5ConnAck> f = c.connectWith().cleanStart(cleanStart).sessionExpiryInterval(expiry)
                    .keepAlive(120).send();
            f.whenComplete((ack, err) -> {
                if (err == null && connackLatency != null) {
                    connackLatency.recordNanos(System.nanoTime() - t0);
                }
                slots.release();
            });
            out.add(f);
        }
        return out;
    }

    private static int awaitAll(List<? extends CompletableFuture<?>> fs, long deadline, Result r, String what) {
        int ok = 0;
        String firstError = null;
        int errors = 0;
        for (CompletableFuture<?> f : fs) {
            try {
                Object v = f.get(remainingMs(deadline), TimeUnit.MILLISECONDS);
                if (v instanceof Mqtt5ConnAck ack && ack.getReasonCode().isError()) {
                    errors++;
                    firstError = firstError == null ? "CONNACK " + ack.getReasonCode() : firstError;
                } else {
                    ok++;
                }
            } catch (Exception e) {
                errors++;
                firstError = firstError == null ? e.toString() : firstError;
            }
        }
        if (errors > 0) {
            r.fail(what + ": " + errors + " failed, first: " + firstError);
        }
        return ok;
    }

    private static void disconnectAll(List<Mqtt5AsyncClient> clients, long deadline) {
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (Mqtt5AsyncClient c : clients) {
            if (c.getState().isConnected()) {
                fs.add(c.disconnect());
            }
        }
        for (CompletableFuture<Void> f : fs) {
            try {
                f.get(remainingMs(deadline), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                // best effort
            }
        }
    }

    // ---------------------------------------------------------------- 1. persistent connect rate

    private long connect(Result r) throws Exception {
        int n = intOpt("n", 2000);
        int inflight = intOpt("inflight", 100);
        int expiry = intOpt("expiry", 300);
        double timeout = Double.parseDouble(opt("timeout", "120"));
        r.param("n", n).param("inflight", inflight).param("session_expiry_s", expiry).param("clean_start", 0)
                .param("timeout_s", timeout);
        r.opName = "connect";
        long deadline = deadline(timeout);
        // Warm-up (JIT on both sides): clean sessions that leave nothing behind, not measured.
        int warm = intOpt("warmup-n", Math.min(200, n / 10));
        r.param("warmup_clean_connects", warm);
        List<Mqtt5AsyncClient> warmClients = new ArrayList<>();
        for (int i = 0; i < warm; i++) {
            warmClients.add(client(id("cw", i)));
        }
        awaitAll(connectAll(warmClients, true, 0, inflight, deadline, null, r), deadline, r, "warm-up connect");
        disconnectAll(warmClients, deadline);
        ConnectBatch b = durableConnects(n, inflight, expiry, i -> Login.anonymous(id("c", i), localIp(i, n)), deadline);
        b.failUnlessAllAccepted(r, "");
        r.metric("connects_per_s", b.perSecond());
        r.metric("connack_p50_ms", b.connack().percentileMs(50));
        r.metric("connack_p99_ms", b.connack().percentileMs(99));
        r.metric("connects_ok", b.ok());
        r.metric("connects_failed", b.failed());
        return b.ok();
    }

    /** How connection i of a batch connects: its client id, source address (null: any), User Name and Password. */
    private record Login(String clientId, String localIp, String username, byte[] password) {
        static Login anonymous(String clientId, String localIp) {
            return new Login(clientId, localIp, null, null);
        }
    }

    /**
     * What a batch of durable connects gave: CONNACKs with a success code ({@code ok}, their latency in
     * {@code connack}), the others ({@code failed}: error CONNACKs by reason code, exceptions as "exception"), and
     * the time from the first CONNECT until every slot was free again.
     */
    private record ConnectBatch(int n, int started, boolean drained, long ok, long failed, Map<String, Long> failures,
                                String firstError, double seconds, Hist connack, BitSet accepted) {
        double perSecond() {
            return ok / seconds;
        }

        void failUnlessAllAccepted(Result r, String what) {
            failUnlessAccepted(r, what, Set.of());
        }

        /** Fails r for an incomplete batch or a failed CONNECT, except error CONNACKs with a reason in {@code tolerated}. */
        void failUnlessAccepted(Result r, String what, Set<String> tolerated) {
            if (!drained) {
                r.fail(what + "deadline: connects still in flight");
            }
            if (started < n) {
                r.fail(what + "deadline: only " + started + " of " + n + " connects started");
            }
            long counted = failed - failures.entrySet().stream().filter(e -> tolerated.contains(e.getKey()))
                    .mapToLong(Map.Entry::getValue).sum();
            if (counted > 0) {
                r.fail(what + counted + " connects failed (" + failures + "), first: " + firstError);
            }
        }
    }

    /** The reason code of a CONNECT that failed with an error CONNACK, else "exception". */
    private static String connackError(Throwable err) {
        Throwable t = err instanceof java.util.concurrent.CompletionException && err.getCause() != null ? err.getCause() : err;
        return t instanceof com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException e
                ? e.getMqttMessage().getReasonCode().name() : "exception";
    }

    /**
     * n clients connect with Clean Start 0 and Session Expiry {@code expiry}, at most {@code inflight} CONNECTs
     * outstanding; each disconnects as soon as it has its CONNACK, and its slot is free when the DISCONNECT is sent.
     */
    private ConnectBatch durableConnects(int n, int inflight, int expiry, java.util.function.IntFunction<Login> login,
                                         long deadline) throws InterruptedException {
        Hist lat = new Hist();
        Semaphore slots = new Semaphore(inflight);
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        Map<String, AtomicLong> failures = new java.util.concurrent.ConcurrentHashMap<>();
        AtomicReference<String> firstError = new AtomicReference<>();
        BitSet accepted = new BitSet(n);
        long t0 = System.nanoTime();
        int started = 0;
        for (int i = 0; i < n; i++) {
            if (!slots.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                break;
            }
            started++;
            int index = i;
            Login l = login.apply(i);
            Mqtt5AsyncClient c = client(l.clientId(), l.localIp());
            var connect = c.connectWith().cleanStart(false).sessionExpiryInterval(expiry);
            if (l.username() != null) {
                connect = connect.simpleAuth().username(l.username()).password(l.password()).applySimpleAuth();
            }
            long s = System.nanoTime();
            connect.send().whenComplete((ack, err) -> {
                if (err != null || ack.getReasonCode().isError()) {
                    failed.incrementAndGet();
                    String kind = err != null ? connackError(err) : ack.getReasonCode().name();
                    failures.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
                    firstError.compareAndSet(null, err != null ? err.toString() : "CONNACK " + ack.getReasonCode());
                    slots.release();
                    return;
                }
                lat.recordNanos(System.nanoTime() - s);
                ok.incrementAndGet();
                synchronized (accepted) {
                    accepted.set(index);
                }
                c.disconnect().whenComplete((v, e2) -> slots.release());
            });
        }
        boolean drained = slots.tryAcquire(inflight, remainingMs(deadline), TimeUnit.MILLISECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        Map<String, Long> byKind = new java.util.TreeMap<>();
        failures.forEach((k, v) -> byKind.put(k, v.get()));
        BitSet acceptedCopy;
        synchronized (accepted) {
            acceptedCopy = (BitSet) accepted.clone();
        }
        return new ConnectBatch(n, started, drained, ok.get(), failed.get(), byKind, firstError.get(), secs, lat,
                acceptedCopy);
    }

    // ---------------------------------------------------------------- 1b. cost of authentication on the connect rate

    private static final String AUTH_USER_PREFIX = "bench-user-";

    /**
     * Durable connects (Clean Start 0, Session Expiry --expiry, --inflight CONNECTs outstanding) in three phases on
     * one broker start, each with fresh client ids, so that each creates its sessions the same way and only the
     * login differs: {@code anon}, --n connects without User Name (the reference); {@code cold}, --cold-n users
     * (bench-user-0 ..) each logging in for the first time (one password hash check each: bcrypt cost 10 on Tether);
     * {@code warm}, --n connects of those same users again, in turn (a reconnect storm to a running broker, after a
     * network outage say: Tether caches verified credentials in its process; a restarted broker starts cold). With --jdbc (Tether) the users are written into {@code mqtt_users} first,
     * all with one bcrypt hash that pgcrypto computes once; otherwise the broker must know them already with password
     * --password (run.sh writes Mosquitto's password_file). Every connection of user u, and connection i of the
     * anonymous phase as of user i mod cold-n, comes from u's own source address 127.1.x.y: Tether's failure
     * throttle counts the checks running from one address (a fleet behind one address is throttled). cold runs first
     * (with --cold-inflight CONNECTs outstanding); a cold login refused with 0x88 (its check outlasted the broker's
     * CONNECT timeout) is counted, not a failure, and that user logs in again unmeasured (--fill-inflight at a time)
     * before warm, so that warm finds every user verified once. anon and warm follow in an order that alternates with
     * --run (odd: anon first), so that neither always gets the JIT's later, faster code. Between phases the broker's
     * CPU settles (verifier threads still hashing for CONNECTs that timed out would otherwise slow the next phase).
     */
    private long connectAuth(Result r) throws Exception {
        int n = intOpt("n", 2000);
        int coldN = intOpt("cold-n", 250);
        int inflight = intOpt("inflight", 100);
        int coldInflight = intOpt("cold-inflight", inflight);
        int fillInflight = intOpt("fill-inflight", 2);
        int expiry = intOpt("expiry", 300);
        int cost = intOpt("bcrypt-cost", 10);
        byte[] password = opt("password", "bench-pw").getBytes(StandardCharsets.UTF_8);
        double timeout = dblOpt("timeout", 300);
        String jdbc = opts.get("jdbc");
        boolean anonFirst = r.run == null || r.run % 2 == 1; // of anon and warm, both after cold
        // --sources one: every connection from 127.0.0.1, as a fleet behind one NAT or proxy address would be
        boolean oneSource = opt("sources", "per-user").equals("one");
        java.util.function.IntFunction<String> address = u -> oneSource ? null : userAddress(u);
        r.param("n", n).param("cold_n", coldN).param("warm_n", n).param("inflight", inflight).param("cold_inflight", coldInflight)
                .param("session_expiry_s", expiry).param("clean_start", 0).param("timeout_s", timeout)
                .param("order", anonFirst ? "cold, anon, warm" : "cold, warm, anon")
                .param("source_addresses", oneSource ? "127.0.0.1 for all (--sources one)"
                        : "127.1.x.y, one per user (anon: connection i as user i mod cold_n)")
                .param("users", jdbc != null ? coldN + " rows in mqtt_users, one pgcrypto bcrypt hash (cost " + cost
                        + ") for all" : coldN + " users the broker was started with (run.sh: Mosquitto password_file)")
                .param("cold_refusals", "0x88 Server unavailable (the check outlasted the CONNECT timeout) is counted"
                        + " (cold_refused_unavailable), not a failure; those users log in again unmeasured ("
                        + fillInflight + " in flight) before the warm phase, so that all of them are verified once");
        r.opName = "connect";
        if (coldN < inflight) { // else a user's warm reconnects could overlap and be throttled as one address's
            r.fail("--cold-n " + coldN + " must be at least --inflight " + inflight);
            return 0;
        }
        long deadline = deadline(timeout);
        if (jdbc != null) {
            long t = System.nanoTime();
            createUsers(jdbc, coldN, password, cost);
            r.metric("users_created_s", (System.nanoTime() - t) / 1e9);
        }
        // Warm-up (JIT on both sides): clean anonymous sessions that leave nothing behind, not measured.
        int warm = intOpt("warmup-n", Math.min(200, n / 10));
        r.param("warmup_clean_connects", warm);
        List<Mqtt5AsyncClient> warmClients = new ArrayList<>();
        for (int i = 0; i < warm; i++) {
            warmClients.add(client(id("aw", i)));
        }
        awaitAll(connectAll(warmClients, true, 0, inflight, deadline, null, r), deadline, r, "warm-up connect");
        disconnectAll(warmClients, deadline);
        Map<String, ConnectBatch> phases = new LinkedHashMap<>();
        Map<String, Double> cpuUs = new LinkedHashMap<>();
        long total = 0;
        for (String phase : anonFirst ? List.of("cold", "anon", "warm") : List.of("cold", "warm", "anon")) {
            r.metric(phase + "_settle_before_s", settle(deadline));
            int count = phase.equals("cold") ? coldN : n;
            java.util.function.IntFunction<Login> login = switch (phase) {
                case "anon" -> i -> Login.anonymous(id("aa", i), address.apply(i % coldN));
                case "cold" -> i -> new Login(id("ac", i), address.apply(i), AUTH_USER_PREFIX + i, password);
                default -> i -> new Login(id("ak", i), address.apply(i % coldN), AUTH_USER_PREFIX + (i % coldN), password);
            };
            WindowStart w = new WindowStart(0);
            ConnectBatch b = durableConnects(count, phase.equals("cold") ? coldInflight : inflight, expiry, login, deadline);
            Window done = w.end(b.ok());
            phases.put(phase, b);
            cpuUs.put(phase, b.ok() > 0 ? done.brokerCpuMs() * 1000.0 / b.ok() : Double.NaN);
            total += b.ok();
            if (!phase.equals("cold")) {
                b.failUnlessAllAccepted(r, phase + ": ");
                continue;
            }
            b.failUnlessAccepted(r, "cold: ", Set.of("SERVER_UNAVAILABLE"));
            int[] missing = java.util.stream.IntStream.range(0, coldN).filter(u -> !b.accepted().get(u)).toArray();
            r.metric("cold_refused_unavailable", b.failures().getOrDefault("SERVER_UNAVAILABLE", 0L));
            if (missing.length > 0) {
                settle(deadline);
                long tf = System.nanoTime();
                WindowStart wf = new WindowStart(0);
                ConnectBatch fill = durableConnects(missing.length, fillInflight, expiry,
                        k -> new Login(id("af", k), address.apply(missing[k]), AUTH_USER_PREFIX + missing[k], password),
                        deadline);
                fill.failUnlessAllAccepted(r, "fill (users refused in the cold phase): ");
                r.metric("fill_users", missing.length);
                r.metric("fill_s", (System.nanoTime() - tf) / 1e9);
                Window fw = wf.end(fill.ok());
                // At most fill-inflight checks at a time, none refused: one bcrypt per login, nothing wasted.
                r.metric("fill_broker_cpu_us_per_login", fill.ok() > 0 ? fw.brokerCpuMs() * 1000.0 / fill.ok() : Double.NaN);
            }
        }
        for (String phase : List.of("anon", "cold", "warm")) {
            ConnectBatch b = phases.get(phase);
            r.metric(phase + "_connects_per_s", b.perSecond());
            r.metric(phase + "_connack_p50_ms", b.connack().percentileMs(50));
            r.metric(phase + "_connack_p99_ms", b.connack().percentileMs(99));
            r.metric(phase + "_broker_cpu_us_per_connect", cpuUs.get(phase));
            r.metric(phase + "_ok", b.ok());
            r.metric(phase + "_failed", b.failed());
            if (!b.failures().isEmpty()) {
                r.extra(phase + "_failures", new LinkedHashMap<String, Object>(b.failures()));
            }
        }
        ConnectBatch anon = phases.get("anon");
        for (String phase : List.of("cold", "warm")) {
            ConnectBatch b = phases.get(phase);
            r.metric(phase + "_over_anon_rate", b.perSecond() / anon.perSecond());
            r.metric(phase + "_over_anon_p50", b.connack().percentileMs(50) / anon.connack().percentileMs(50));
            r.metric(phase + "_over_anon_p99", b.connack().percentileMs(99) / anon.connack().percentileMs(99));
        }
        return total;
    }

    /** User u's source address: 127.1.0.1, 127.1.0.2, .. (250 per third octet). */
    private static String userAddress(int u) {
        return "127.1." + (u / 250) + "." + (1 + u % 250);
    }

    /** bench-user-0 .. count-1 in mqtt_users, all with one bcrypt hash of {@code password} computed once. */
    private void createUsers(String jdbc, int count, byte[] password, int cost) throws Exception {
        try (Connection db = DriverManager.getConnection(jdbc, opt("jdbc-user", "postgres"), opt("jdbc-password", "postgres"));
             PreparedStatement st = db.prepareStatement("""
                     WITH h AS MATERIALIZED (SELECT crypt(?, gen_salt('bf', ?)) AS hash)
                     INSERT INTO mqtt_users (username, password_hash)
                     SELECT ? || i, h.hash FROM h, generate_series(0, ? - 1) AS i
                     ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, enabled = true""")) {
            st.setString(1, new String(password, StandardCharsets.UTF_8));
            st.setInt(2, cost);
            st.setString(3, AUTH_USER_PREFIX);
            st.setInt(4, count);
            int rows = st.executeUpdate();
            if (rows != count) {
                throw new IllegalStateException(rows + " mqtt_users rows written, expected " + count);
            }
        }
    }

    /**
     * Waits until the broker (with its PostgreSQL) uses less than 10 % of a core over 250 ms, at most 30 s and
     * never past the deadline; returns the seconds waited. Without a broker pid: 1 s.
     */
    private double settle(long deadline) {
        long t0 = System.nanoTime();
        if (!proc.enabled()) {
            sleepUntil(Math.min(deadline(1), deadline));
            return (System.nanoTime() - t0) / 1e9;
        }
        long until = Math.min(deadline(30), deadline);
        while (before(until)) {
            double c0 = proc.cpuMs();
            sleepUntil(deadline(0.25));
            if (proc.cpuMs() - c0 < 25) {
                break;
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    // ---------------------------------------------------------------- 2. throughput and fixed-rate latency

    private final class PubSub {
        final List<Mqtt5AsyncClient> pubs = new ArrayList<>();
        final List<Mqtt5AsyncClient> subs = new ArrayList<>();
        final List<String> pubTopics = new ArrayList<>();
        final Hist latency = new Hist();
        final AtomicLong received = new AtomicLong();
        final AtomicLong lastReceive = new AtomicLong();
        /** Messages sent before this nanoTime (warm-up) are counted but not in the latency histogram. */
        volatile long recordFrom = Long.MAX_VALUE;
        int fanout;

        /**
         * Connects and subscribes. With subscriberExpiry > 0 the subscribers' sessions are durable (Clean Start 0,
         * that Session Expiry Interval; fresh client ids, so each session is new); publishers always start clean.
         */
        void setUp(String mode, int p, int s, MqttQos qos, long subscriberExpiry, long deadline, Result r) throws InterruptedException {
            boolean fan = mode.equals("fanout");
            int nPubs = fan ? 1 : p;
            int nSubs = fan ? s : p;
            fanout = fan ? s : 1;
            for (int i = 0; i < nPubs; i++) {
                pubs.add(client(id("pub", i), null, pubPort));
                pubTopics.add("bench/" + runId + tag + "/" + (fan ? "fan" : "t" + i));
            }
            for (int i = 0; i < nSubs; i++) {
                subs.add(client(id("sub", i), null, subPort));
            }
            if (subscriberExpiry > 0) {
                awaitAll(connectAll(subs, false, subscriberExpiry, 100, deadline, null, r), deadline, r, "connect subscribers");
                awaitAll(connectAll(pubs, true, 0, 100, deadline, null, r), deadline, r, "connect publishers");
            } else {
                List<Mqtt5AsyncClient> all = new ArrayList<>(subs);
                all.addAll(pubs);
                awaitAll(connectAll(all, true, 0, 100, deadline, null, r), deadline, r, "connect");
            }
            List<CompletableFuture<?>> subAcks = new ArrayList<>();
            for (int i = 0; i < nSubs; i++) {
                String topic = fan ? pubTopics.get(0) : pubTopics.get(i);
                subAcks.add(subs.get(i).subscribeWith().topicFilter(topic).qos(qos).callback(this::onMessage).send()
                        .thenApply(ack -> {
                            // A lower grant would measure another case (QoS 0 copies are never stored).
                            if (ack.getReasonCodes().get(0).getCode() != qos.getCode()) {
                                r.fail("SUBACK " + ack.getReasonCodes().get(0) + " for a QoS " + qos.getCode() + " subscription");
                            }
                            return ack;
                        }));
            }
            awaitAll(subAcks, deadline, r, "subscribe");
        }

        void onMessage(Mqtt5Publish m) {
            long now = System.nanoTime();
            ByteBuffer b = m.getPayload().orElse(ByteBuffer.allocate(16));
            long sentAt = b.getLong(b.position());
            if (sentAt - recordFrom >= 0) {
                latency.recordNanos(now - sentAt);
            }
            received.incrementAndGet();
            lastReceive.set(now);
        }

        /** Waits until expected messages arrived, or nothing arrived for 2 s, or the deadline. */
        void drain(long expected, long deadline) {
            long last = received.get();
            long lastChange = System.nanoTime();
            while (received.get() < expected && before(deadline) && System.nanoTime() - lastChange < 2_000_000_000L) {
                LockSupport.parkNanos(20_000_000L);
                long now = received.get();
                if (now != last) {
                    last = now;
                    lastChange = System.nanoTime();
                }
            }
        }

        void tearDown(long deadline) {
            List<Mqtt5AsyncClient> all = new ArrayList<>(pubs);
            all.addAll(subs);
            disconnectAll(all, deadline);
        }
    }


    private static boolean published(Mqtt5PublishResult res, Throwable err) {
        if (err != null || res.getError().isPresent()) {
            return false;
        }
        if (res instanceof Mqtt5PublishResult.Mqtt5Qos1Result q1) {
            return !q1.getPubAck().getReasonCode().isError();
        }
        return true;
    }

    private long throughput(Result r) throws Exception {
        int qosN = intOpt("qos", 1);
        MqttQos qos = MqttQos.fromCode(qosN);
        String mode = opt("mode", "one2one");
        int p = intOpt("publishers", 8);
        int s = intOpt("subscribers", 32);
        int size = intOpt("size", 64);
        double duration = Double.parseDouble(opt("duration", "10"));
        int window = intOpt("window", qosN == 0 ? 1000 : 100);
        double warm = dblOpt("warmup", Math.min(2.0, duration * 0.2));
        // --durable true: the subscribers' sessions are durable (Tether commits each message before its PUBACK).
        boolean durable = Boolean.parseBoolean(opt("durable", "false"));
        int expiry = durable ? intOpt("expiry", 300) : 0;
        if (durable && (qosN == 0 || expiry <= 0)) {
            throw new IllegalArgumentException("--durable true needs --qos 1 or 2 and --expiry > 0");
        }
        r.param("qos", qosN).param("mode", mode).param("payload_bytes", size).param("duration_s", duration)
                .param("warmup_s", warm).param("window_per_publisher", window);
        if (durable) {
            r.param("subscriber_sessions", "durable").param("subscriber_clean_start", 0).param("subscriber_session_expiry_s", expiry);
        }
        if (mode.equals("fanout")) {
            r.param("publishers", 1).param("subscribers", s);
        } else {
            r.param("publishers", p).param("subscribers", p);
        }
        r.opName = "delivered msg";
        long deadline = deadline(warm + duration + 90);
        PubSub ps = new PubSub();
        ps.setUp(mode, p, s, qos, expiry, deadline, r);
        if (!r.ok) {
            ps.tearDown(deadline(10));
            return 0;
        }
        AtomicLong sent = new AtomicLong();
        AtomicLong pubFailed = new AtomicLong();
        long t0 = System.nanoTime();
        long measureFrom = t0 + (long) (warm * 1e9);
        long stopAt = measureFrom + (long) (duration * 1e9);
        ps.recordFrom = measureFrom;
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < ps.pubs.size(); i++) {
            Mqtt5AsyncClient c = ps.pubs.get(i);
            String topic = ps.pubTopics.get(i);
            Thread t = new Thread(() -> {
                Semaphore win = new Semaphore(window);
                while (before(stopAt)) {
                    try {
                        if (!win.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                            continue;
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    c.publishWith().topic(topic).qos(qos).payload(payload(size, System.nanoTime(), 0)).send()
                            .whenComplete((res, err) -> {
                                if (published(res, err)) {
                                    sent.incrementAndGet();
                                } else {
                                    pubFailed.incrementAndGet();
                                }
                                win.release();
                            });
                }
                try {
                    win.tryAcquire(window, 30, TimeUnit.SECONDS); // outstanding publishes complete
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "publisher-" + i);
            t.start();
            threads.add(t);
        }
        // Measured window: from the end of the warm-up to the end of publishing.
        sleepUntil(measureFrom);
        WindowStart ws = new WindowStart(ps.received.get());
        long sent0 = sent.get();
        sleepUntil(stopAt);
        r.window = ws.end(ps.received.get());
        long sentInWindow = sent.get() - sent0;
        for (Thread t : threads) {
            t.join(Math.max(1, remainingMs(deadline)));
        }
        long expected = sent.get() * ps.fanout;
        ps.drain(expected, deadline(Math.min(15, remainingMs(deadline) / 1000.0)));
        long got = ps.received.get();
        r.metric("delivered_per_s", r.window.ops() / duration);
        r.metric("published_per_s", sentInWindow / duration);
        r.metric("published", sent.get());
        r.metric("expected", expected);
        r.metric("delivered", got);
        r.metric("lost", Math.max(0, expected - got));
        r.metric("loss_pct", expected == 0 ? Double.NaN : 100.0 * Math.max(0, expected - got) / expected);
        r.metric("latency_p50_ms", ps.latency.percentileMs(50));
        r.metric("latency_p99_ms", ps.latency.percentileMs(99));
        r.metric("publish_failed", pubFailed.get());
        if (sent.get() == 0) {
            r.fail("nothing published");
        }
        if (qosN >= 1 && got < expected) {
            r.fail("QoS 1 loss: " + (expected - got) + " of " + expected);
        }
        ps.tearDown(deadline(10));
        return got;
    }

    private long latency(Result r) throws Exception {
        int rate = intOpt("rate", 5000);
        int p = intOpt("publishers", 8);
        int size = intOpt("size", 64);
        double duration = Double.parseDouble(opt("duration", "10"));
        int maxOutstanding = intOpt("max-outstanding", 10_000);
        double warm = dblOpt("warmup", Math.min(2.0, duration * 0.2));
        r.param("qos", 1).param("rate_per_s", rate).param("publishers", p).param("subscribers", p)
                .param("payload_bytes", size).param("duration_s", duration).param("warmup_s", warm)
                .param("latency_from", "intended send time (no coordinated omission)");
        if (pubPort != subPort) {
            r.param("pub_port", pubPort).param("sub_port", subPort);
        }
        r.opName = "delivered msg";
        long deadline = deadline(warm + duration + 90);
        PubSub ps = new PubSub();
        ps.setUp("one2one", p, 0, MqttQos.AT_LEAST_ONCE, 0, deadline, r);
        if (!r.ok) {
            ps.tearDown(deadline(10));
            return 0;
        }
        Semaphore outstanding = new Semaphore(maxOutstanding);
        AtomicLong sent = new AtomicLong();
        AtomicLong pubFailed = new AtomicLong();
        long period = 1_000_000_000L / rate;
        long t0 = System.nanoTime();
        long measureFrom = t0 + (long) (warm * 1e9);
        long stopAt = measureFrom + (long) (duration * 1e9);
        ps.recordFrom = measureFrom;
        long next = t0;
        long k = 0;
        WindowStart ws = null;
        long kAtWindow = 0;
        while (before(stopAt)) {
            if (ws == null && !before(measureFrom)) {
                ws = new WindowStart(ps.received.get());
                kAtWindow = k;
            }
            long now = System.nanoTime();
            while (next - now <= 0 && before(stopAt)) {
                if (!outstanding.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                    break;
                }
                int i = (int) (k % p);
                ps.pubs.get(i).publishWith().topic(ps.pubTopics.get(i)).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(payload(size, next, k)).send().whenComplete((res, err) -> {
                            if (published(res, err)) {
                                sent.incrementAndGet();
                            } else {
                                pubFailed.incrementAndGet();
                            }
                            outstanding.release();
                        });
                k++;
                next += period;
            }
            LockSupport.parkNanos(Math.max(10_000L, Math.min(next - System.nanoTime(), 1_000_000L)));
        }
        if (ws != null) {
            r.window = ws.end(ps.received.get());
        }
        long sentInWindow = k - kAtWindow;
        outstanding.tryAcquire(maxOutstanding, Math.min(30_000, remainingMs(deadline)), TimeUnit.MILLISECONDS);
        ps.drain(sent.get(), deadline(Math.min(15, remainingMs(deadline) / 1000.0)));
        long got = ps.received.get();
        r.metric("achieved_publish_per_s", sentInWindow / duration);
        // Below the target rate the intended send times fall behind and the latencies are not comparable.
        r.metric("rate_achieved_pct", 100.0 * sentInWindow / Math.max(1.0, rate * duration));
        r.metric("delivered", got);
        r.metric("lost", Math.max(0, sent.get() - got));
        r.metric("latency_p50_ms", ps.latency.percentileMs(50));
        r.metric("latency_p99_ms", ps.latency.percentileMs(99));
        r.metric("latency_p999_ms", ps.latency.percentileMs(99.9));
        r.metric("publish_failed", pubFailed.get());
        if (got < sent.get()) {
            r.fail("QoS 1 loss: " + (sent.get() - got));
        }
        ps.tearDown(deadline(10));
        return got;
    }

    // ---------------------------------------------------------------- 3. resume

    private long resume(Result r) throws Exception {
        int n = intOpt("n", 1000);
        int k = intOpt("k", 100);
        int size = intOpt("size", 64);
        double timeout = Double.parseDouble(opt("timeout", "180"));
        r.param("n", n).param("k", k).param("payload_bytes", size).param("qos", 1).param("session_expiry_s", 300)
                .param("timeout_s", timeout);
        r.opName = "queued msg";
        long deadline = deadline(timeout);
        // Phase A: sessions subscribe at QoS 1, go offline.
        List<Mqtt5AsyncClient> subs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            subs.add(client(id("r", i)));
        }
        awaitAll(connectAll(subs, true, 300, 100, deadline, null, r), deadline, r, "connect");
        List<CompletableFuture<?>> acks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            acks.add(subs.get(i).subscribeWith().topicFilter(topic(i)).qos(MqttQos.AT_LEAST_ONCE).send());
        }
        awaitAll(acks, deadline, r, "subscribe");
        disconnectAll(subs, deadline);
        if (!r.ok) {
            return 0;
        }
        // Phase B: K messages per session, QoS 1, each PUBACKed.
        Mqtt5AsyncClient pub = client(id("rpub", 0));
        awaitAll(List.of(pub.connectWith().cleanStart(true).send()), deadline, r, "publisher connect");
        Semaphore win = new Semaphore(intOpt("window", 100));
        AtomicLong acked = new AtomicLong();
        AtomicLong pubFailed = new AtomicLong();
        long tq = System.nanoTime();
        outer:
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < n; i++) {
                if (!win.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                    r.fail("deadline while queueing");
                    break outer;
                }
                pub.publishWith().topic(topic(i)).qos(MqttQos.AT_LEAST_ONCE).payload(payload(size, System.nanoTime(), j))
                        .send().whenComplete((res, err) -> {
                            if (published(res, err)) {
                                acked.incrementAndGet();
                            } else {
                                pubFailed.incrementAndGet();
                            }
                            win.release();
                        });
            }
        }
        win.tryAcquire(intOpt("window", 100), remainingMs(deadline), TimeUnit.MILLISECONDS);
        double queueSecs = (System.nanoTime() - tq) / 1e9;
        disconnectAll(List.of(pub), deadline);
        // Phase C: all reconnect with Clean Start 0; queued messages drain.
        List<BitSet> seen = new ArrayList<>();
        AtomicLong received = new AtomicLong();
        AtomicLong duplicates = new AtomicLong();
        AtomicLong lastReceive = new AtomicLong();
        List<Mqtt5AsyncClient> again = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            BitSet bits = new BitSet(k);
            seen.add(bits);
            Mqtt5AsyncClient c = client(id("r", i));
            c.publishes(MqttGlobalPublishFilter.ALL, m -> {
                ByteBuffer b = m.getPayload().orElse(ByteBuffer.allocate(16));
                int s = (int) b.getLong(b.position() + 8);
                synchronized (bits) {
                    if (bits.get(s)) {
                        duplicates.incrementAndGet();
                        return;
                    }
                    bits.set(s);
                }
                received.incrementAndGet();
                lastReceive.set(System.nanoTime());
            });
            again.add(c);
        }
        long expected = acked.get();
        long tr = System.nanoTime();
        Hist connack = new Hist();
        List<CompletableFuture<Mqtt5ConnAck>> cf = connectAll(again, false, 300, 100, deadline, connack, r);
        int present = 0;
        for (CompletableFuture<Mqtt5ConnAck> f : cf) {
            try {
                if (f.get(remainingMs(deadline), TimeUnit.MILLISECONDS).isSessionPresent()) {
                    present++;
                }
            } catch (Exception e) {
                // counted as not present
            }
        }
        while (received.get() < expected && before(deadline)) {
            LockSupport.parkNanos(10_000_000L);
        }
        double drain = (Math.max(lastReceive.get(), tr) - tr) / 1e9;
        long lost = expected - received.get();
        r.metric("session_present", present);
        r.metric("session_present_expected", n);
        r.metric("queued_acked", expected);
        r.metric("queue_msgs_per_s", expected / queueSecs);
        r.metric("drain_s", drain);
        r.metric("drain_msgs_per_s", drain > 0 ? received.get() / drain : Double.NaN);
        r.metric("lost", lost);
        r.metric("duplicates", duplicates.get());
        r.metric("reconnect_connack_p99_ms", connack.percentileMs(99));
        if (present != n) {
            r.fail("Session Present 1 for only " + present + " of " + n);
        }
        if (lost != 0) {
            r.fail(lost + " queued messages lost");
        }
        if (pubFailed.get() > 0 || expected != (long) n * k) {
            r.fail("publishing: " + pubFailed.get() + " failed, " + expected + " of " + (long) n * k + " acknowledged");
        }
        disconnectAll(again, deadline(20));
        // Leave nothing behind: end the sessions (Clean Start 1, expiry 0).
        List<Mqtt5AsyncClient> cleanup = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cleanup.add(client(id("r", i)));
        }
        awaitAll(connectAll(cleanup, true, 0, 100, deadline(30), null, new Result("", "", "")), deadline(30), new Result("", "", ""), "");
        disconnectAll(cleanup, deadline(20));
        return expected;
    }

    private String topic(int i) {
        return "bench/" + runId + "/r/" + i;
    }

    // ---------------------------------------------------------------- 4. expiry

    /**
     * M sessions that all expire at one deadline T while at most --max-open connections are open at a time (the
     * open-files limit): each client connects (Clean Start 1, Session Expiry --connect-expiry) with at most
     * --inflight CONNECTs outstanding, and then leaves with an MQTT 5 DISCONNECT whose Session Expiry Interval is
     * the whole number of seconds left until T, sent at the instant when that number is exact (waiting up to 1 s),
     * so every session's deadline is T within milliseconds. T is fixed from the rate of a calibration batch that
     * goes through the same cycle (CONNECT, DISCONNECT) with sessions that are not kept (DISCONNECT with Session
     * Expiry 0): T = then + M / (--rate-factor x rate) + --margin.
     */
    private long expiry(Result r) throws Exception {
        int m = intOpt("m", 100_000);
        int maxOpen = intOpt("max-open", 5000);
        int inflight = Math.min(maxOpen, intOpt("inflight", 100));
        double calibrate = dblOpt("calibrate", 0.03);
        double rateFactor = dblOpt("rate-factor", 0.7);
        double margin = dblOpt("margin", 5);
        long connectExpiry = Long.parseLong(opt("connect-expiry", "86400"));
        int probeRate = intOpt("probe-rate", 20);
        double idleSecs = dblOpt("idle-probe", 3);
        double during = dblOpt("during", 5);
        double timeout = dblOpt("timeout", 1800);
        boolean jvm = Boolean.parseBoolean(opt("jvm", "false"));
        String jdbc = opts.get("jdbc");
        // Calibration: at least 3 % of m (at least 5 x the CONNECTs in flight) and --calibrate-s seconds, at most 20 % of
        // m (or the minimum) and 60 s: the JIT warm-up of both sides takes seconds (Tether's rate still doubled after 8 s).
        int nCal = (int) Math.max(5L * inflight, Math.round(m * calibrate));
        int nCalMax = Math.max(nCal, m / 5);
        double calMinSecs = dblOpt("calibrate-s", 15);
        // spread: source addresses 127.0.0.2, .3, ... 4,000 sessions each. Short connections leave their port in
        // TIME_WAIT for 60 s, and bind() to an address with ~20,000 of its ~28,000 ports in TIME_WAIT (20,000 per
        // address as in the other cases) cost 4x the system CPU here and halved the creation rate. one: 127.0.0.1
        // without bind (relies on net.ipv4.tcp_tw_reuse for loopback).
        String sources = opt("sources", "spread");
        r.param("m", m).param("max_open", maxOpen).param("inflight", inflight).param("connect_session_expiry_s", connectExpiry)
                .param("calibration", "at least " + nCal + " sessions and " + calMinSecs + " s, at most " + nCalMax
                        + " sessions, created and ended at once (DISCONNECT Session Expiry 0), not part of m")
                .param("rate_factor", rateFactor).param("margin_s", margin)
                .param("deadline_T", "start of creation + m / (rate_factor x calibration rate in its 2nd half of time) + margin;"
                        + " each DISCONNECT carries ceil(T - now) s, sent when that is whole")
                .param("source_addresses", sources.equals("one") ? "127.0.0.1" : "127.0.0.2.. (4,000 sessions each)")
                .param("probe_rate_per_s", probeRate).param("idle_probe_s", idleSecs).param("during_s", during)
                .param("timeout_s", timeout)
                .param("probe_baselines", "idle: after calibration, before creation (no session); pending: after creation until"
                        + " T - 1 s, sessions offline, not due")
                .param("gone_measured_by", jdbc != null ? "SELECT count(*) FROM sessions (poll 100 ms from T); probes T .. T + during"
                        + " or until gone if later" : "n/a: not observable; CONNACK probes only, T .. T + during");
        r.opName = "expired session";
        long deadline = deadline(timeout);
        probe(new Hist(), probeRate, deadline(0.5), "pw"); // warm-up, not recorded
        Connection db = jdbc == null ? null : DriverManager.getConnection(jdbc, opt("jdbc-user", "postgres"), opt("jdbc-password", "postgres"));
        String prefix = "b" + runId + "-e-%";
        ExpiryCreator cal = new ExpiryCreator(nCalMax, maxOpen, inflight, connectExpiry, deadline, sources, "ec");
        long tc = System.nanoTime();
        double rate;
        int calCount = 0;
        try {
            // Calibration: sessions through the whole cycle, ended at once; CONNACK counts sampled every 100 ms, the
            // rate over the second half of the time (the first has most of both sides' JIT warm-up) fixes T.
            long[] sampleT = new long[1000];
            long[] sampleN = new long[1000];
            int samples = 0;
            long calMin = tc + (long) (calMinSecs * 1e9);
            long calMax = Math.min(tc + 60_000_000_000L, deadline);
            long nextSample = tc;
            while (calCount < nCalMax && before(calMax) && (calCount < nCal || before(calMin)) && cal.start(calCount)) {
                calCount++;
                long now = System.nanoTime();
                if (now - nextSample >= 0 && samples < sampleT.length) {
                    sampleT[samples] = now;
                    sampleN[samples++] = cal.connected.get();
                    nextSample = now + 100_000_000L;
                }
            }
            cal.awaitAllClosed();
            long tEnd = System.nanoTime();
            long tMid = tc + (tEnd - tc) / 2;
            int mid = 0;
            while (mid + 1 < samples && sampleT[mid + 1] <= tMid) {
                mid++;
            }
            rate = samples > 0 && cal.lastConnack.get() > sampleT[mid]
                    ? (cal.connected.get() - sampleN[mid]) / ((cal.lastConnack.get() - sampleT[mid]) / 1e9)
                    : cal.connected.get() / Math.max(1e-3, (tEnd - tc) / 1e9);
            if (cal.failed.get() > 0) {
                r.fail("calibration connect: " + cal.failed.get() + " failed, first: " + cal.firstError.get());
            }
            r.metric("calibration_sessions", calCount);
            r.metric("calibration_s", (tEnd - tc) / 1e9);
            System.err.printf("expiry on %s: calibration: %d sessions created and ended in %.1f s, %.0f/s in the second half%n",
                    broker, calCount, (tEnd - tc) / 1e9, rate);
        } finally {
            cal.close();
        }
        // Idle baseline of probe CONNACK latency: warm broker, no session of the case.
        Hist idle = new Hist();
        probe(idle, probeRate, deadline(idleSecs), "pi");
        long t0 = System.nanoTime();
        double toT = m / (rateFactor * Math.max(rate, 1e-3)) + margin;
        long tT = t0 + (long) (toT * 1e9);
        ExpiryCreator cr = new ExpiryCreator(m, maxOpen, inflight, connectExpiry, deadline, sources, "e");
        cr.deadlineT = tT;
        r.metric("calibration_rate_per_s", rate);
        r.metric("T_after_creation_start_s", toT);
        System.err.printf("expiry on %s: m=%d; T = now + %.1f s (%.0f/s x %.2f + %.0f s margin)%n", broker, m, toT, rate,
                rateFactor, margin);
        try {
            // Each session leaves with Session Expiry ceil(T - now) s; creation stops at the first late one.
            long nextLog = System.nanoTime() + 10_000_000_000L;
            for (int i = 0; i < m && cr.late.get() == 0 && cr.start(i); i++) {
                if (System.nanoTime() - nextLog > 0) {
                    nextLog += 10_000_000_000L;
                    System.err.printf("expiry on %s: %d of %d created in %.0f s (%.0f/s), T in %.1f s%n", broker,
                            cr.connected.get(), m, (System.nanoTime() - t0) / 1e9,
                            cr.connected.get() / ((System.nanoTime() - t0) / 1e9), (tT - System.nanoTime()) / 1e9);
                }
            }
            cr.awaitAllClosed();
        } finally {
            cr.close();
        }
        long created = System.nanoTime();
        long connected = cr.connected.get();
        long onTime = connected - cr.late.get();
        r.metric("sessions_created", connected);
        r.metric("connect_failed", cr.failed.get());
        r.metric("late", cr.late.get());
        r.metric("not_started", m - cr.started.get());
        r.metric("create_s", (created - t0) / 1e9);
        r.metric("create_rate_per_s", connected / Math.max(1e-3, (created - t0) / 1e9));
        r.metric("slack_before_T_s", (tT - created) / 1e9);
        r.metric("deadline_spread_ms", onTime > 0 ? (cr.devMax.get() - cr.devMin.get()) / 1e6 : Double.NaN);
        r.metric("deadline_p50_after_T_ms", cr.dev.percentileMs(50));
        r.metric("deadline_p99_after_T_ms", cr.dev.percentileMs(99));
        r.metric("deadline_max_after_T_ms", onTime > 0 ? cr.devMax.get() / 1e6 : Double.NaN);
        r.metric("disconnect_failed", cr.disconnectFailed.get());
        System.err.printf("expiry on %s: %d sessions created in %.1f s (%d connect failures, %d late, %d not started);"
                        + " deadline spread %.1f ms; T in %.1f s%n", broker, connected, (created - t0) / 1e9, cr.failed.get(),
                cr.late.get(), m - cr.started.get(), (cr.devMax.get() - cr.devMin.get()) / 1e6, (tT - created) / 1e9);
        if (cr.failed.get() > 0) {
            r.fail("connect: " + cr.failed.get() + " failed, first: " + cr.firstError.get());
        }
        if (cr.late.get() > 0) {
            r.fail("late: " + cr.late.get() + " session(s) could not get a Session Expiry Interval >= 1 s before T (creation"
                    + " slower than rate_factor x the calibration rate); " + (m - cr.started.get()) + " not created");
        }
        if (cr.started.get() < m && cr.late.get() == 0) {
            r.fail("only " + cr.started.get() + " of " + m + " sessions started (deadline)");
        }
        if (cr.disconnectFailed.get() > 0) {
            r.fail(cr.disconnectFailed.get() + " DISCONNECTs failed");
        }
        // Sessions exist, offline, not yet due: the broker's memory, and the probe baseline until T - 1 s.
        long rss = proc.brokerRssKb();
        long pgRss = proc.pgRssKb();
        long heap = jvm ? proc.heapUsedKb() : -1;
        r.metric("broker_rss_mb_before_T", rss >= 0 ? rss / 1024.0 : Double.NaN);
        if (pgRss >= 0) {
            r.metric("pg_rss_mb_before_T", pgRss / 1024.0);
        }
        if (jvm) {
            r.metric("broker_heap_used_mb_before_T", heap >= 0 ? heap / 1024.0 : Double.NaN);
        }
        Hist pending = new Hist();
        probe(pending, probeRate, Math.min(tT - 1_000_000_000L, deadline), "pp");
        if (db != null) {
            long rows = count(db, prefix);
            r.metric("rows_before_T", rows);
            if (rows < onTime) {
                r.fail((onTime - rows) + " session(s) gone before T");
            }
        }
        sleepUntil(Math.min(tT, deadline));
        // From T: probes, and for Tether the rows watched until none is left.
        Hist dur = new Hist();
        AtomicLong goneAt = new AtomicLong();
        long minEnd = Math.min(tT + (long) (during * 1e9), deadline);
        if (db != null) {
            final Connection dbc = db;
            Thread watcher = new Thread(() -> {
                try {
                    while (before(deadline)) {
                        if (count(dbc, prefix) == 0) {
                            goneAt.set(System.nanoTime());
                            return;
                        }
                        LockSupport.parkNanos(100_000_000L);
                    }
                } catch (Exception e) {
                    r.fail("sql poll: " + e);
                }
            }, "expiry-watch");
            watcher.start();
            probeWhile(dur, probeRate, () -> before(deadline) && (before(minEnd) || (goneAt.get() == 0 && watcher.isAlive())), "pd");
            watcher.join(remainingMs(deadline) + 1);
            db.close();
            if (goneAt.get() == 0) {
                r.fail("sessions not gone within the timeout");
                r.metric("last_gone_after_T_s", Double.NaN);
            } else {
                r.metric("last_gone_after_T_s", (goneAt.get() - tT) / 1e9);
                r.metric("last_gone_after_last_deadline_s", (goneAt.get() - tT - Math.max(0, cr.devMax.get())) / 1e9);
            }
        } else {
            probe(dur, probeRate, minEnd, "pd");
            r.metric("last_gone_after_T_s", Double.NaN);
        }
        double pendingP99 = pending.percentileMs(99);
        r.metric("probe_connack_idle_p99_ms", idle.percentileMs(99));
        r.metric("probe_connack_pending_p99_ms", pendingP99);
        r.metric("probe_connack_during_p50_ms", dur.percentileMs(50));
        r.metric("probe_connack_during_p99_ms", dur.percentileMs(99));
        r.metric("during_over_pending_p99", dur.percentileMs(99) / pendingP99);
        r.metric("probes_pending", pending.count());
        r.metric("probes_during", dur.count());
        return connected;
    }

    /**
     * Creates the expiry case's sessions: at most maxOpen connections open and inflight CONNECTs outstanding;
     * each session leaves with DISCONNECT Session Expiry ceil(T - now) s at an instant when T - now is whole.
     */
    private final class ExpiryCreator {
        final int m;
        final int maxOpen;
        final long connectExpiry;
        final long deadline;
        final Semaphore open;
        final Semaphore inflight;
        final AtomicLong started = new AtomicLong();
        final AtomicLong connected = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong late = new AtomicLong();
        final AtomicLong disconnectFailed = new AtomicLong();
        /** Actual deadline (DISCONNECT send time + interval) minus T, ns. */
        final AtomicLong devMin = new AtomicLong(Long.MAX_VALUE);
        final AtomicLong devMax = new AtomicLong(Long.MIN_VALUE);
        final AtomicReference<String> firstError = new AtomicReference<>();
        /** The latest CONNACK (calibration rate). */
        final AtomicLong lastConnack = new AtomicLong();
        /** Actual deadline minus T, µs (negative values count as 0). */
        final Hist dev = new Hist();
        final String sources;
        final String kind;
        final java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(rn -> {
            Thread t = new Thread(rn, "expiry-disconnect");
            t.setDaemon(true);
            return t;
        });
        /** T (nanoTime); 0: calibration, every session ends at once (DISCONNECT Session Expiry 0). */
        volatile long deadlineT;

        ExpiryCreator(int m, int maxOpen, int inflight, long connectExpiry, long deadline, String sources, String kind) {
            this.m = m;
            this.sources = sources;
            this.kind = kind;
            this.maxOpen = maxOpen;
            this.connectExpiry = connectExpiry;
            this.deadline = deadline;
            this.open = new Semaphore(maxOpen);
            this.inflight = new Semaphore(inflight);
        }

        /** Starts session i; false if no slot came before the deadline. */
        boolean start(int i) throws InterruptedException {
            if (!open.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                return false;
            }
            if (!inflight.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                open.release();
                return false;
            }
            started.incrementAndGet();
            int a = i / 4000 + (kind.equals("ec") ? 249 : 0); // calibration: other addresses than the sessions
            String ip = sources.equals("one") ? null : "127.0." + (a / 250) + "." + (2 + a % 250);
            Mqtt5AsyncClient c = client(id(kind, i), ip);
            c.connectWith().cleanStart(true).sessionExpiryInterval(connectExpiry).keepAlive(120).send().whenComplete((ack, err) -> {
                if (err != null || ack.getReasonCode().isError()) {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, err != null ? err.toString() : "CONNACK " + ack.getReasonCode());
                    inflight.release();
                    open.release();
                    return;
                }
                connected.incrementAndGet();
                lastConnack.accumulateAndGet(System.nanoTime(), Math::max);
                if (deadlineT == 0) {
                    send(c, 0);
                } else {
                    leave(c);
                }
                inflight.release();
            });
            return true;
        }

        /** Schedules c's DISCONNECT for the next instant when T - now is a whole number of seconds. */
        void leave(Mqtt5AsyncClient c) {
            long now = System.nanoTime();
            long rem = deadlineT - now;
            if (rem < 1_000_000_000L) {
                late.incrementAndGet();
                send(c, 0); // removed at once: not part of the measurement
                return;
            }
            long k = rem / 1_000_000_000L;
            long at = deadlineT - k * 1_000_000_000L;
            try {
                timer.schedule(() -> {
                    long sent = System.nanoTime();
                    // Whole seconds up to T, rounded up (a late timer makes the deadline late, never early; 1 ms
                    // tolerance).
                    long sei = Math.max(1, (deadlineT - sent - 1_000_000L + 999_999_999L) / 1_000_000_000L);
                    long dev = sent + sei * 1_000_000_000L - deadlineT;
                    devMin.accumulateAndGet(dev, Math::min);
                    devMax.accumulateAndGet(dev, Math::max);
                    this.dev.recordNanos(dev);
                    send(c, sei);
                }, at - now, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) { // closed: the case ended (deadline)
                disconnectFailed.incrementAndGet();
                send(c, 0);
            }
        }

        private void send(Mqtt5AsyncClient c, long sei) {
            try {
                c.disconnectWith().sessionExpiryInterval(sei).send().whenComplete((v, e) -> {
                    if (e != null) {
                        disconnectFailed.incrementAndGet();
                    }
                    open.release();
                });
            } catch (RuntimeException e) {
                disconnectFailed.incrementAndGet();
                open.release();
            }
        }

        /** Waits until every started connection is closed again (its DISCONNECT sent). */
        void awaitAllClosed() throws InterruptedException {
            if (open.tryAcquire(maxOpen, remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                open.release(maxOpen);
            }
        }

        /** Stops the timer (DISCONNECTs not sent by the deadline are dropped; the process exit closes them). */
        void close() {
            timer.shutdownNow();
        }
    }

    private static long count(Connection db, String prefix) throws Exception {
        try (PreparedStatement st = db.prepareStatement("SELECT count(*) FROM sessions WHERE client_id LIKE ?")) {
            st.setString(1, prefix);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private void probe(Hist h, int rate, long until, String kind) {
        probeWhile(h, rate, () -> before(until), kind);
    }

    /** One probe client at a time connects (Clean Start 1, expiry 0), records CONNACK latency, disconnects. */
    private void probeWhile(Hist h, int rate, java.util.function.BooleanSupplier go, String kind) {
        long period = 1_000_000_000L / Math.max(1, rate);
        int i = 0;
        long hard = deadline(3600);
        while (go.getAsBoolean() && before(hard)) {
            long next = System.nanoTime() + period;
            Mqtt5AsyncClient c = client(id(kind, i++));
            long t0 = System.nanoTime();
            try {
                Mqtt5ConnAck ack = c.connectWith().cleanStart(true).sessionExpiryInterval(0).send().get(30, TimeUnit.SECONDS);
                if (!ack.getReasonCode().isError()) {
                    h.recordNanos(System.nanoTime() - t0);
                }
                c.disconnect().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                // a failed probe is simply not recorded
            }
            sleepUntil(next);
        }
    }

    // ---------------------------------------------------------------- 5. idle connections

    private long idle(Result r) throws Exception {
        int c = intOpt("connections", 10_000);
        double hold = Double.parseDouble(opt("hold", "30"));
        boolean jvm = Boolean.parseBoolean(opt("jvm", "false"));
        r.param("connections", c).param("hold_s", hold).param("keep_alive_s", 120).param("clean_start", 1)
                .param("rss", "VmRSS of the broker process" + (opts.containsKey("pg-data") ? " (JVM only; PostgreSQL separately)" : ""));
        r.opName = "connection";
        long deadline = deadline(hold + 240);
        long rss0 = proc.brokerRssKb();
        long pg0 = proc.pgRssKb();
        Map<String, Long> nmt0 = jvm ? proc.nmtCommittedKb() : Map.of();
        List<Mqtt5AsyncClient> clients = new ArrayList<>(c);
        for (int i = 0; i < c; i++) {
            clients.add(client(id("i", i), localIp(i, c)));
        }
        long t0 = System.nanoTime();
        int ok = awaitAll(connectAll(clients, true, 0, 100, deadline, null, r), deadline, r, "connect");
        r.metric("connect_all_s", (System.nanoTime() - t0) / 1e9);
        sleepUntil(Math.min(deadline(hold), deadline));
        long rss1 = proc.brokerRssKb();
        long pg1 = proc.pgRssKb();
        Map<String, Long> nmt1 = jvm ? proc.nmtCommittedKb() : Map.of();
        int still = 0;
        for (Mqtt5AsyncClient cl : clients) {
            if (cl.getState().isConnected()) {
                still++;
            }
        }
        r.metric("connected", ok);
        r.metric("still_connected_after_hold", still);
        r.metric("rss_before_mb", rss0 / 1024.0);
        r.metric("rss_after_mb", rss1 / 1024.0);
        r.metric("rss_per_conn_kb", rss0 > 0 && ok > 0 ? (rss1 - rss0) / (double) ok : Double.NaN);
        if (pg0 >= 0) {
            r.metric("pg_rss_delta_mb", (pg1 - pg0) / 1024.0);
        }
        if (jvm && !nmt0.isEmpty() && !nmt1.isEmpty()) {
            r.metric("nmt_committed_before_mb", nmt0.getOrDefault("Total", 0L) / 1024.0);
            r.metric("nmt_committed_after_mb", nmt1.getOrDefault("Total", 0L) / 1024.0);
            // Compiler arenas come and go with the JIT; they are not per-connection memory.
            long t0k = nmt0.getOrDefault("Total", 0L) - nmt0.getOrDefault("Arena Chunk", 0L) - nmt0.getOrDefault("Compiler", 0L);
            long t1k = nmt1.getOrDefault("Total", 0L) - nmt1.getOrDefault("Arena Chunk", 0L) - nmt1.getOrDefault("Compiler", 0L);
            r.metric("nmt_per_conn_kb", (t1k - t0k) / (double) ok);
            r.param("nmt_per_conn", "NMT committed Total minus Arena Chunk and Compiler, delta / connections");
            Map<String, Object> deltas = new LinkedHashMap<>();
            for (Map.Entry<String, Long> e : nmt1.entrySet()) {
                deltas.put(e.getKey(), e.getValue() - nmt0.getOrDefault(e.getKey(), 0L));
            }
            r.extra("nmt_committed_delta_kb", deltas);
        } else if (jvm) {
            r.extra("nmt", "unavailable (start the JVM with -XX:NativeMemoryTracking=summary; jcmd needed)");
        }
        if (still < c) {
            r.fail((c - still) + " connections dropped during the hold");
        }
        disconnectAll(clients, deadline(60));
        return ok;
    }

    // ---------------------------------------------------------------- 7. cross-replica latency (Tether)

    /**
     * The latency scenario twice, on two replicas of one broker that share one PostgreSQL: "single" with publishers
     * and subscribers on replica 1 (--port), the reference; "cross" with publishers on replica 1 and subscribers on
     * replica 2 (--port2), so that every message takes the replica link. Same rate, clients, warm-up and window in
     * both; fresh client ids and topics per phase. The order alternates with --run (odd runs: single first). CPU:
     * both replicas (--pid, --pid2) and the shared PostgreSQL (--pg-data), over each phase's measured window.
     */
    private long crossReplica(Result r) throws Exception {
        int port2 = intOpt("port2", 0);
        if (port2 <= 0) {
            r.fail("--port2 (replica 2's MQTT port) is missing");
            return 0;
        }
        boolean singleFirst = r.run == null || r.run % 2 == 1;
        r.param("replica1_port", port).param("replica2_port", port2)
                .param("single", "publishers and subscribers on replica 1")
                .param("cross", "publishers on replica 1, subscribers on replica 2")
                .param("order", singleFirst ? "single, cross" : "cross, single");
        Map<String, Result> phases = new LinkedHashMap<>();
        int savedPub = pubPort;
        int savedSub = subPort;
        for (String phase : singleFirst ? List.of("single", "cross") : List.of("cross", "single")) {
            Result pr = new Result("latency", phase, broker);
            pubPort = port;
            subPort = phase.equals("cross") ? port2 : port;
            tag = phase.substring(0, 1);
            try {
                latency(pr);
            } catch (Exception e) {
                pr.fail("exception: " + e);
            } finally {
                pubPort = savedPub;
                subPort = savedSub;
                tag = "";
            }
            phases.put(phase, pr);
            for (String e : pr.errors) {
                r.fail(phase + ": " + e);
            }
        }
        Result single = phases.get("single");
        Result cross = phases.get("cross");
        single.params.forEach((k, v) -> r.params.putIfAbsent(k, v));
        double p50s = num(single, "latency_p50_ms");
        double p50x = num(cross, "latency_p50_ms");
        double p99s = num(single, "latency_p99_ms");
        double p99x = num(cross, "latency_p99_ms");
        double cpuS = cpuPerMsgUs(single);
        double cpuX = cpuPerMsgUs(cross);
        r.metric("p99_ratio_cross_single", p99x / p99s);
        r.metric("p50_added_ms", p50x - p50s);
        r.metric("cpu_ratio_cross_single", cpuX / cpuS);
        for (String phase : List.of("single", "cross")) {
            Result pr = phases.get(phase);
            r.metric(phase + "_latency_p50_ms", num(pr, "latency_p50_ms"));
            r.metric(phase + "_latency_p99_ms", num(pr, "latency_p99_ms"));
            r.metric(phase + "_latency_p999_ms", num(pr, "latency_p999_ms"));
            r.metric(phase + "_cpu_us_per_msg", cpuPerMsgUs(pr));
            r.metric(phase + "_rate_achieved_pct", num(pr, "rate_achieved_pct"));
            r.metric(phase + "_delivered", num(pr, "delivered"));
            r.metric(phase + "_lost", num(pr, "lost"));
        }
        // The generic broker_cpu_* / loadgen_cpu_* figures of the JSON line: the cross phase's window.
        r.window = cross.window;
        r.param("cpu_counted", "both replicas + their PostgreSQL, measured window (after warm-up) of each phase; "
                + "broker_cpu_*: the cross phase");
        r.opName = "delivered msg";
        return cross.window == null ? 0 : cross.window.ops();
    }

    private static double num(Result r, String metric) {
        return r.metrics.get(metric) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static double cpuPerMsgUs(Result r) {
        Window w = r.window;
        return w == null || w.ops() <= 0 ? Double.NaN : w.brokerCpuMs() * 1000.0 / w.ops();
    }

    // ---------------------------------------------------------------- smoke

    private boolean smoke() throws Exception {
        boolean ok = true;
        long t0 = System.nanoTime();
        ok &= smokeCase("connect", Map.of("n", "100"));
        ok &= smokeCase("connect-auth", Map.of("n", "40", "cold-n", "10", "inflight", "10"));
        ok &= smokeCase("throughput", Map.of("qos", "1", "publishers", "2", "size", "64", "duration", "2", "case", "throughput-qos1-one2one-64B"));
        ok &= smokeCase("throughput", Map.of("qos", "0", "mode", "fanout", "subscribers", "4", "size", "4096", "duration", "2", "case", "throughput-qos0-fanout-4KiB"));
        ok &= smokeCase("throughput", Map.of("qos", "1", "publishers", "2", "size", "64", "duration", "2", "durable", "true",
                "case", "durable-qos1-one2one-64B"));
        ok &= smokeCase("latency", Map.of("rate", "500", "publishers", "2", "duration", "2"));
        ok &= smokeCase("resume", Map.of("n", "20", "k", "20"));
        ok &= smokeCase("idle", Map.of("connections", "200", "hold", "2"));
        ok &= smokeCase("expiry", Map.of("m", "200", "margin", "2", "idle-probe", "1", "during", "2", "timeout", "60"));
        System.out.printf("smoke: %s in %.1f s%n", ok ? "PASSED" : "FAILED", (System.nanoTime() - t0) / 1e9);
        return ok;
    }

    private boolean smokeCase(String scenario, Map<String, String> overrides) throws Exception {
        Map<String, String> saved = new LinkedHashMap<>(opts);
        opts.putAll(overrides);
        try {
            return emit(run(scenario, opts.getOrDefault("case", scenario)));
        } finally {
            opts.clear();
            opts.putAll(saved);
        }
    }

    // ---------------------------------------------------------------- result

    /** CPU of broker and generator and operations between two snapshots: the measured window. */
    record Window(double brokerCpuMs, double selfCpuMs, long ops) {
    }

    /** Snapshot at a window's start; {@link #end} gives the window. */
    private final class WindowStart {
        final double cpu = proc.enabled() ? proc.cpuMs() : Double.NaN;
        final double self = Proc.selfCpuMs();
        final long ops;

        WindowStart(long ops) {
            this.ops = ops;
        }

        Window end(long opsNow) {
            return new Window(proc.enabled() ? proc.cpuMs() - cpu : Double.NaN, Proc.selfCpuMs() - self, opsNow - ops);
        }
    }

    static final class Result {
        final String scenario;
        final String caseName;
        final String broker;
        final Map<String, Object> params = new LinkedHashMap<>();
        final Map<String, Object> metrics = new LinkedHashMap<>();
        final Map<String, Object> extras = new LinkedHashMap<>();
        final List<String> errors = new ArrayList<>();
        volatile boolean ok = true;
        String opName = "op";
        Integer run;
        /** Set by a scenario with a warm-up: CPU and operations counted over its measured window only. */
        Window window;

        Result(String scenario, String caseName, String broker) {
            this.scenario = scenario;
            this.caseName = caseName;
            this.broker = broker;
        }

        Result param(String k, Object v) {
            params.put(k, v);
            return this;
        }

        void metric(String k, double v) {
            metrics.put(k, v);
        }

        void extra(String k, Object v) {
            extras.put(k, v);
        }

        synchronized void fail(String why) {
            ok = false;
            if (errors.size() < 20) {
                errors.add(why);
            }
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("case", caseName);
            m.put("scenario", scenario);
            m.put("broker", broker);
            if (run != null) {
                m.put("run", run);
            }
            m.put("ok", ok);
            m.put("params", params);
            m.put("metrics", metrics);
            if (!extras.isEmpty()) {
                m.put("extra", extras);
            }
            m.put("errors", errors);
            return m;
        }
    }

}
