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
 * java -jar loadgen.jar report FILE...              table of all JSON lines, with Tether/other ratios
 * </pre>
 * Scenarios: connect, throughput, latency, resume, expiry, idle. Every loop is bounded in count and by a
 * deadline. Common options: --broker NAME, --host 127.0.0.1, --port 1883, --pid BROKER_PID (CPU, memory),
 * --pg-data DIR (Tether: embedded PostgreSQL processes count as broker CPU), --jdbc URL (Tether: scenario 4),
 * --jvm true (NMT via jcmd), --case LABEL, --out FILE.
 */
public final class LoadGen {

    private final Map<String, String> opts;
    private final String broker;
    private final String host;
    private final int port;
    private final Proc proc;
    private final String runId = Long.toString(System.currentTimeMillis() % 100_000_000L, 36);
    private final AtomicLong seq = new AtomicLong();

    LoadGen(Map<String, String> opts) {
        this.opts = opts;
        this.broker = opt("broker", "broker");
        this.host = opt("host", "127.0.0.1");
        this.port = intOpt("port", 1883);
        String pg = opts.get("pg-data");
        this.proc = new Proc(Long.parseLong(opt("pid", "0")), pg == null ? null : Path.of(pg));
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: loadgen connect|throughput|latency|resume|expiry|idle|smoke|report [--key value]...");
            System.exit(2);
        }
        String scenario = args[0];
        if (scenario.equals("report")) {
            System.exit(Report.print(List.of(args).subList(1, args.length), System.out));
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

    // ---------------------------------------------------------------- plumbing

    private String opt(String k, String def) {
        return opts.getOrDefault(k, def);
    }

    private int intOpt(String k, int def) {
        return Integer.parseInt(opt(k, Integer.toString(def)));
    }

    private Result run(String scenario, String caseName) throws Exception {
        Result r = new Result(scenario, caseName, broker);
        double cpu0 = proc.enabled() ? proc.cpuMs() : Double.NaN;
        double self0 = Proc.selfCpuMs();
        long ops;
        try {
            ops = switch (scenario) {
                case "connect" -> connect(r);
                case "throughput" -> throughput(r);
                case "latency" -> latency(r);
                case "resume" -> resume(r);
                case "expiry" -> expiry(r);
                case "idle" -> idle(r);
                default -> throw new IllegalArgumentException("unknown scenario " + scenario);
            };
        } catch (Exception e) {
            r.fail("exception: " + e);
            ops = 0;
        }
        double cpu = proc.enabled() ? proc.cpuMs() - cpu0 : Double.NaN;
        double self = Proc.selfCpuMs() - self0;
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
        var b = Mqtt5Client.builder().identifier(id)
                .transportConfig()
                .serverAddress(new InetSocketAddress(host, port))
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
        return "b" + runId + "-" + kind + "-" + i;
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
        Hist lat = new Hist();
        Semaphore slots = new Semaphore(inflight);
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        long t0 = System.nanoTime();
        int started = 0;
        for (int i = 0; i < n; i++) {
            if (!slots.tryAcquire(remainingMs(deadline), TimeUnit.MILLISECONDS)) {
                break;
            }
            started++;
            Mqtt5AsyncClient c = client(id("c", i), localIp(i, n));
            long s = System.nanoTime();
            c.connectWith().cleanStart(false).sessionExpiryInterval(expiry).send().whenComplete((ack, err) -> {
                if (err != null || ack.getReasonCode().isError()) {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, err != null ? err.toString() : "CONNACK " + ack.getReasonCode());
                    slots.release();
                    return;
                }
                lat.recordNanos(System.nanoTime() - s);
                ok.incrementAndGet();
                c.disconnect().whenComplete((v, e2) -> slots.release());
            });
        }
        if (!slots.tryAcquire(inflight, remainingMs(deadline), TimeUnit.MILLISECONDS)) {
            r.fail("deadline: connects still in flight");
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        if (started < n) {
            r.fail("deadline: only " + started + " of " + n + " connects started");
        }
        if (failed.get() > 0) {
            r.fail(failed.get() + " connects failed, first: " + firstError.get());
        }
        r.metric("connects_per_s", ok.get() / secs);
        r.metric("connack_p50_ms", lat.percentileMs(50));
        r.metric("connack_p99_ms", lat.percentileMs(99));
        r.metric("connects_ok", ok.get());
        r.metric("connects_failed", failed.get());
        return ok.get();
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

        void setUp(String mode, int p, int s, MqttQos qos, long deadline, Result r) throws InterruptedException {
            boolean fan = mode.equals("fanout");
            int nPubs = fan ? 1 : p;
            int nSubs = fan ? s : p;
            fanout = fan ? s : 1;
            for (int i = 0; i < nPubs; i++) {
                pubs.add(client(id("pub", i)));
                pubTopics.add("bench/" + runId + "/" + (fan ? "fan" : "t" + i));
            }
            for (int i = 0; i < nSubs; i++) {
                subs.add(client(id("sub", i)));
            }
            List<Mqtt5AsyncClient> all = new ArrayList<>(subs);
            all.addAll(pubs);
            awaitAll(connectAll(all, true, 0, 100, deadline, null, r), deadline, r, "connect");
            List<CompletableFuture<?>> subAcks = new ArrayList<>();
            for (int i = 0; i < nSubs; i++) {
                String topic = fan ? pubTopics.get(0) : pubTopics.get(i);
                subAcks.add(subs.get(i).subscribeWith().topicFilter(topic).qos(qos).callback(this::onMessage).send());
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

    /** Latency warm-up: --warmup seconds, default 20 % of the duration, at most 2 s. */
    private double warmup(double duration) {
        return Double.parseDouble(opt("warmup", Double.toString(Math.min(2.0, duration * 0.2))));
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
        r.param("qos", qosN).param("mode", mode).param("payload_bytes", size).param("duration_s", duration)
                .param("window_per_publisher", window);
        if (mode.equals("fanout")) {
            r.param("publishers", 1).param("subscribers", s);
        } else {
            r.param("publishers", p).param("subscribers", p);
        }
        r.opName = "delivered msg";
        long deadline = deadline(duration + 90);
        PubSub ps = new PubSub();
        ps.setUp(mode, p, s, qos, deadline, r);
        if (!r.ok) {
            ps.tearDown(deadline(10));
            return 0;
        }
        AtomicLong sent = new AtomicLong();
        AtomicLong pubFailed = new AtomicLong();
        long t0 = System.nanoTime();
        long stopAt = t0 + (long) (duration * 1e9);
        ps.recordFrom = t0 + (long) (warmup(duration) * 1e9);
        r.param("latency_warmup_s", warmup(duration));
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
        for (Thread t : threads) {
            t.join(Math.max(1, remainingMs(deadline)));
        }
        long expected = sent.get() * ps.fanout;
        ps.drain(expected, deadline(Math.min(15, remainingMs(deadline) / 1000.0)));
        long got = ps.received.get();
        double secs = Math.max(1e-9, (ps.lastReceive.get() - t0) / 1e9);
        r.metric("delivered_per_s", got / secs);
        r.metric("published_per_s", sent.get() / duration);
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
        r.param("qos", 1).param("rate_per_s", rate).param("publishers", p).param("subscribers", p)
                .param("payload_bytes", size).param("duration_s", duration)
                .param("latency_from", "intended send time (no coordinated omission)");
        r.opName = "delivered msg";
        long deadline = deadline(duration + 90);
        PubSub ps = new PubSub();
        ps.setUp("one2one", p, 0, MqttQos.AT_LEAST_ONCE, deadline, r);
        if (!r.ok) {
            ps.tearDown(deadline(10));
            return 0;
        }
        Semaphore outstanding = new Semaphore(maxOutstanding);
        AtomicLong sent = new AtomicLong();
        AtomicLong pubFailed = new AtomicLong();
        long period = 1_000_000_000L / rate;
        long t0 = System.nanoTime();
        long stopAt = t0 + (long) (duration * 1e9);
        ps.recordFrom = t0 + (long) (warmup(duration) * 1e9);
        r.param("latency_warmup_s", warmup(duration));
        long next = t0;
        long k = 0;
        while (before(stopAt)) {
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
        outstanding.tryAcquire(maxOutstanding, Math.min(30_000, remainingMs(deadline)), TimeUnit.MILLISECONDS);
        ps.drain(sent.get(), deadline(Math.min(15, remainingMs(deadline) / 1000.0)));
        long got = ps.received.get();
        r.metric("achieved_publish_per_s", sent.get() / duration);
        // Below the target rate the intended send times fall behind and the latencies are not comparable.
        r.metric("rate_achieved_pct", 100.0 * k / Math.max(1.0, rate * duration));
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

    private long expiry(Result r) throws Exception {
        int m = intOpt("m", 100_000);
        int expiry = intOpt("expiry", 5);
        int probeRate = intOpt("probe-rate", 20);
        double idleSecs = Double.parseDouble(opt("idle-probe", "3"));
        double timeout = Double.parseDouble(opt("timeout", "300"));
        String jdbc = opts.get("jdbc");
        r.param("m", m).param("session_expiry_s", expiry).param("probe_rate_per_s", probeRate)
                .param("idle_probe_s", idleSecs).param("timeout_s", timeout)
                .param("gone_measured_by", jdbc != null ? "SELECT count(*) FROM sessions (poll 100 ms)"
                        : "n/a: not observable by SQL; CONNACK probes only, window = expiry + 5 s");
        r.opName = "expired session";
        long deadline = deadline(timeout);
        // Idle baseline of probe CONNACK latency.
        Hist idle = new Hist();
        probe(new Hist(), probeRate, deadline(0.5), "pw"); // warm-up, not recorded
        probe(idle, probeRate, deadline(idleSecs), "pi");
        // Create M sessions with expiry, connected.
        List<Mqtt5AsyncClient> clients = new ArrayList<>(m);
        for (int i = 0; i < m; i++) {
            clients.add(client(id("e", i), localIp(i, m)));
        }
        long tc = System.nanoTime();
        awaitAll(connectAll(clients, true, expiry, 100, deadline, null, r), deadline, r, "connect");
        r.metric("create_s", (System.nanoTime() - tc) / 1e9);
        if (!r.ok) {
            disconnectAll(clients, deadline(30));
            return 0;
        }
        Connection db = jdbc == null ? null : DriverManager.getConnection(jdbc, opt("jdbc-user", "postgres"), opt("jdbc-password", "postgres"));
        String prefix = "b" + runId + "-e-%";
        if (db != null) {
            long rows = count(db, prefix);
            r.metric("rows_before_disconnect", rows);
        }
        // All disconnect at once.
        long td = System.nanoTime();
        List<CompletableFuture<Void>> ds = new ArrayList<>(m);
        for (Mqtt5AsyncClient c : clients) {
            ds.add(c.disconnect());
        }
        awaitAll(ds, deadline, r, "disconnect");
        long disconnected = System.nanoTime();
        r.metric("disconnect_all_s", (disconnected - td) / 1e9);
        // Probe while sessions expire; for Tether also watch the rows go.
        Hist during = new Hist();
        AtomicLong goneAt = new AtomicLong();
        Thread watcher = null;
        long window = deadline(expiry + 5.0);
        if (db != null) {
            final Connection dbc = db;
            final long dl = deadline;
            watcher = new Thread(() -> {
                try {
                    while (before(dl)) {
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
            long dl2 = deadline;
            probeWhile(during, probeRate, () -> watcherRunning(goneAt) && before(dl2), "pd");
            watcher.join(remainingMs(deadline) + 1);
            db.close();
        } else {
            probe(during, probeRate, window, "pd");
        }
        if (db != null) {
            if (goneAt.get() == 0) {
                r.fail("sessions not gone within the timeout");
                r.metric("last_gone_after_disconnect_s", Double.NaN);
            } else {
                double gone = (goneAt.get() - disconnected) / 1e9;
                r.metric("last_gone_after_disconnect_s", gone);
                r.metric("lag_beyond_expiry_s", gone - expiry);
            }
        } else {
            r.metric("last_gone_after_disconnect_s", Double.NaN);
            r.metric("lag_beyond_expiry_s", Double.NaN);
        }
        r.metric("probe_connack_idle_p99_ms", idle.percentileMs(99));
        r.metric("probe_connack_during_p50_ms", during.percentileMs(50));
        r.metric("probe_connack_during_p99_ms", during.percentileMs(99));
        r.metric("probes_during", during.count());
        return m;
    }

    private static boolean watcherRunning(AtomicLong goneAt) {
        return goneAt.get() == 0;
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

    // ---------------------------------------------------------------- smoke

    private boolean smoke() throws Exception {
        boolean ok = true;
        long t0 = System.nanoTime();
        ok &= smokeCase("connect", Map.of("n", "100"));
        ok &= smokeCase("throughput", Map.of("qos", "1", "publishers", "2", "size", "64", "duration", "2", "case", "throughput-qos1-one2one-64B"));
        ok &= smokeCase("throughput", Map.of("qos", "0", "mode", "fanout", "subscribers", "4", "size", "4096", "duration", "2", "case", "throughput-qos0-fanout-4KiB"));
        ok &= smokeCase("latency", Map.of("rate", "500", "publishers", "2", "duration", "2"));
        ok &= smokeCase("resume", Map.of("n", "20", "k", "20"));
        ok &= smokeCase("idle", Map.of("connections", "200", "hold", "2"));
        ok &= smokeCase("expiry", Map.of("m", "100", "expiry", "2", "idle-probe", "1", "timeout", "30"));
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
