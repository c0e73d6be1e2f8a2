package dev.tether.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.netty.util.ResourceLeakDetector;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/**
 * Hostile traffic against a running broker over real sockets: valid MQTT 3.1.1 and 5.0 packets (from
 * {@link MqttPackets}) with bytes flipped, lengths rewritten, truncated, spliced together, plus pure random bytes, over
 * thousands of connections, a bounded number at a time, while a well-behaved client (HiveMQ, persistent session) does
 * QoS 1 round trips throughout. Asserts what an operator would see: every bad connection ends (EOF or reset) within a
 * bounded time, every round trip completes, the connection count and the heap come back, and the log stays quiet
 * (WARN/ERROR records bounded; Netty's leak detector, made paranoid for the run, reports as ERROR).
 *
 * <p>Size: {@code -Dtether.fuzz.packets} (default 50,000, to stay under a minute on two shared cores) in connections
 * of 50 packets;
 * {@code -Dtether.fuzz.seed} repeats a run. Figures are printed at the end.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class NetworkMutationTest {

    private static final int PACKETS = Integer.getInteger("tether.fuzz.packets", 50_000);
    private static final int PACKETS_PER_CONNECTION = 50;
    private static final int CONCURRENT = 16;
    /** A connection the broker has not closed by then is half-closed by the client. */
    private static final Duration BROKER_CLOSE_WINDOW = Duration.ofMillis(300);
    /** After the half-close, the broker must have closed within this. */
    private static final Duration CLOSE_BOUND = Duration.ofSeconds(5);
    private static final int MAX_WARN_OR_ERROR_RECORDS = 20;
    private static final long HEAP_SLACK_BYTES = 96L << 20;

    @Inject
    MqttListener listener;

    private final AtomicLong packetsWritten = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong closedByBroker = new AtomicLong();
    private final AtomicLong closedAfterHalfClose = new AtomicLong();
    private final AtomicLong notClosed = new AtomicLong();

    @Test
    void mutatedPackets_whileControlClientRoundTrips_thenBrokerUnharmed() throws Exception {
        long seed = Long.getLong("tether.fuzz.seed", System.nanoTime());
        WarnCounter warnings = new WarnCounter();
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        ResourceLeakDetector.Level leakLevel = ResourceLeakDetector.getLevel();
        int connectionsAtStart = listener.connectionCount();
        long heapAtStart = heapAfterGc();
        ControlClient control = new ControlClient(listener.port());
        root.addHandler(warnings);
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        long started = System.nanoTime();
        try {
            control.start();
            int total = Math.max(1, PACKETS / PACKETS_PER_CONNECTION);
            ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT);
            List<Future<?>> work = new ArrayList<>();
            for (int w = 0; w < CONCURRENT; w++) {
                Random rnd = new Random(seed + w);
                int share = total / CONCURRENT + (w < total % CONCURRENT ? 1 : 0);
                work.add(pool.submit(() -> {
                    for (int i = 0; i < share; i++) {
                        attack(rnd);
                    }
                    return null;
                }));
            }
            pool.shutdown();
            for (Future<?> f : work) {
                f.get(10, TimeUnit.MINUTES);
            }
            overReadingPacket_isMalformedAtOnce();
        } finally {
            control.stop();
            ResourceLeakDetector.setLevel(leakLevel);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(listener.connectionCount()).as("connections back to the start").isEqualTo(connectionsAtStart));
        long[] heapAtEnd = new long[1];
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            heapAtEnd[0] = heapAfterGc();
            assertThat(heapAtEnd[0]).as("heap after GC, started at %d MB", heapAtStart >> 20)
                    .isLessThan(heapAtStart + HEAP_SLACK_BYTES);
        });
        root.removeHandler(warnings);
        System.out.printf("NetworkMutationTest seed=%d: %d packets over %d connections in %.1f s; closed by the broker "
                        + "%d, after the client's half-close %d, not closed %d; WARN/ERROR records %d; control round trips "
                        + "%d (failed %d, slowest %d ms); heap %d MB -> %d MB%n", seed, packetsWritten.get(), connections.get(), seconds,
                closedByBroker.get(), closedAfterHalfClose.get(), notClosed.get(), warnings.count(),
                control.completed.get(), control.failures.size(), control.slowestMillis.get(), heapAtStart >> 20, heapAtEnd[0] >> 20);
        warnings.first().forEach(r -> System.out.println("  " + r));

        assertThat(notClosed.get()).as("connections the broker left open").isZero();
        assertThat(control.failures).as("control round trips that failed").isEmpty();
        assertThat(control.completed.get()).as("control round trips").isGreaterThanOrEqualTo(5);
        assertThat(warnings.first()).as("no leak reported").noneMatch(m -> m.contains("LEAK"));
        assertThat(warnings.count()).as("WARN/ERROR log records: %s", warnings.first())
                .isLessThanOrEqualTo(MAX_WARN_OR_ERROR_RECORDS);
        assertThat(packetsWritten.get()).as("packets written").isGreaterThanOrEqualTo(PACKETS / 2);
    }

    /**
     * Regression for the decoder that held every byte after a packet whose fields run past its Remaining Length: now
     * DISCONNECT 0x81 (Malformed Packet) and a closed connection, however much follows.
     */
    private void overReadingPacket_isMalformedAtOnce() throws IOException {
        try (RawMqttClient raw = TestClients.connectRaw(listener.port(),
                MqttPackets.connect(MqttPackets.MQTT_5, TestClients.uniqueId("overread")), false, Duration.ofSeconds(5))) {
            raw.send(new byte[] {0x30, 3, 0, 1, 'a', (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F});
            ReceivedPacket p = raw.receive(Duration.ofSeconds(5));
            assertThat(p.type()).as("%s", p).isEqualTo(MqttPackets.DISCONNECT);
            assertThat(p.disconnectReasonCode()).isEqualTo(0x81);
            assertThat(raw.awaitClosed(Duration.ofSeconds(5))).isTrue();
        }
    }

    // ---- one hostile connection ---------------------------------------------------------------------------

    private void attack(Random rnd) throws IOException {
        List<byte[]> packets = hostileStream(rnd);
        connections.incrementAndGet();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", listener.port()), 5_000);
            s.setSoTimeout(50);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            boolean closed = false;
            try {
                for (byte[] p : packets) {
                    out.write(p);
                    packetsWritten.incrementAndGet();
                }
                out.flush();
            } catch (SocketException e) {
                closed = true; // reset while writing: the broker closed it
            }
            if (closed || endsWithin(in, BROKER_CLOSE_WINDOW)) {
                closedByBroker.incrementAndGet();
                return;
            }
            s.shutdownOutput();
            if (endsWithin(in, CLOSE_BOUND)) {
                closedAfterHalfClose.incrementAndGet();
            } else {
                notClosed.incrementAndGet();
            }
        }
    }

    /** Reads (and drops) what the broker sends until EOF or reset (true) or until {@code window} passed (false). */
    private static boolean endsWithin(InputStream in, Duration window) throws IOException {
        long deadline = System.nanoTime() + window.toNanos();
        byte[] sink = new byte[8192];
        while (System.nanoTime() < deadline) {
            try {
                if (in.read(sink) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                // nothing yet
            } catch (SocketException e) {
                return true; // reset
            }
        }
        return false;
    }

    /** One connection's bytes: pure random, or a CONNECT and valid packets, any of them mutated. */
    private static List<byte[]> hostileStream(Random rnd) {
        List<byte[]> packets = new ArrayList<>();
        if (rnd.nextInt(8) == 0) {
            byte[] blob = new byte[1 + rnd.nextInt(300)];
            rnd.nextBytes(blob);
            if (rnd.nextBoolean()) {
                blob[0] = 0x10; // past the first-packet check, into the CONNECT decoder
            }
            packets.add(blob);
            return packets;
        }
        int level = rnd.nextBoolean() ? MqttPackets.MQTT_5 : MqttPackets.MQTT_3_1_1;
        MqttPackets.ConnectBuilder connect = MqttPackets.connect(level, "fz-" + Long.toHexString(rnd.nextLong()));
        byte[] first = connect.build();
        packets.add(rnd.nextInt(5) == 0 ? mutate(first, first, rnd) : first);
        int count = PACKETS_PER_CONNECTION - 1;
        byte[] previous = first;
        for (int i = 0; i < count; i++) {
            byte[] p = validPacket(level, rnd);
            packets.add(rnd.nextInt(25) == 0 ? mutate(p, previous, rnd) : p);
            previous = p;
        }
        return packets;
    }

    private static byte[] validPacket(int level, Random rnd) {
        String topic = "fuzz/" + rnd.nextInt(50) + "/" + rnd.nextInt(5);
        int packetId = 1 + rnd.nextInt(65535);
        byte[] payload = new byte[rnd.nextInt(64)];
        rnd.nextBytes(payload);
        byte[] props = level == MqttPackets.MQTT_5 && rnd.nextBoolean() ? MqttPackets.concat(
                MqttPackets.userProperty("k", "v" + rnd.nextInt(9)),
                MqttPackets.property(MqttPackets.MESSAGE_EXPIRY_INTERVAL, (long) rnd.nextInt(60))) : null;
        return switch (rnd.nextInt(10)) {
            case 0, 1, 2, 3 -> MqttPackets.publish(level, topic, rnd.nextInt(3), false, false, packetId, payload, props);
            case 4 -> MqttPackets.subscribe(packetId, rnd.nextBoolean() ? "fuzz/#" : topic, rnd.nextInt(3), level, null);
            case 5 -> MqttPackets.unsubscribe(packetId, level, topic);
            case 6 -> MqttPackets.pingreq();
            case 7 -> MqttPackets.puback(packetId, level, 0);
            case 8 -> MqttPackets.pubrel(packetId, level, 0);
            default -> MqttPackets.pubrec(packetId, level, 0);
        };
    }

    /** One of: bytes flipped, a byte set, Remaining Length rewritten, truncated, spliced with another, bytes added. */
    static byte[] mutate(byte[] p, byte[] other, Random rnd) {
        byte[] m = p.clone();
        switch (rnd.nextInt(6)) {
            case 0 -> {
                for (int i = 0, n = 1 + rnd.nextInt(3); i < n; i++) {
                    m[rnd.nextInt(m.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> m[rnd.nextInt(m.length)] = (byte) rnd.nextInt(256);
            case 2 -> {
                int headerEnd = 1;
                while (headerEnd < m.length && (m[headerEnd] & 0x80) != 0) {
                    headerEnd++;
                }
                byte[] length = new byte[1 + rnd.nextInt(4)];
                rnd.nextBytes(length);
                for (int i = 0; i < length.length - 1; i++) {
                    length[i] |= (byte) 0x80;
                }
                if (rnd.nextBoolean()) {
                    length[length.length - 1] &= 0x7F;
                }
                m = MqttPackets.concat(new byte[] {m[0]}, length,
                        java.util.Arrays.copyOfRange(m, Math.min(m.length, headerEnd + 1), m.length));
            }
            case 3 -> m = java.util.Arrays.copyOf(m, rnd.nextInt(m.length));
            case 4 -> m = MqttPackets.concat(java.util.Arrays.copyOf(m, rnd.nextInt(m.length + 1)),
                    java.util.Arrays.copyOfRange(other, rnd.nextInt(other.length), other.length));
            default -> {
                byte[] extra = new byte[1 + rnd.nextInt(16)];
                rnd.nextBytes(extra);
                int at = rnd.nextInt(m.length + 1);
                m = MqttPackets.concat(java.util.Arrays.copyOf(m, at), extra, java.util.Arrays.copyOfRange(m, at, m.length));
            }
        }
        return m;
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    // ---- the well-behaved client ----------------------------------------------------------------------------

    /** A persistent-session MQTT 5 client that publishes QoS 1 to itself, one round trip after another. */
    private static final class ControlClient {
        /**
         * Generous: a durable session's PUBACK waits for PostgreSQL behind the attack's own session writes (seen at
         * 10+ s on two shared cores); the slowest is printed.
         */
        private static final Duration ROUND_TRIP_BOUND = Duration.ofSeconds(30);
        final AtomicLong slowestMillis = new AtomicLong();
        private final Mqtt5AsyncClient client;
        private final String topic;
        private final Map<String, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
        final AtomicLong completed = new AtomicLong();
        final List<String> failures = Collections.synchronizedList(new ArrayList<>());
        private final AtomicBoolean running = new AtomicBoolean(true);
        private Thread loop;

        ControlClient(int port) {
            String id = TestClients.uniqueId("control");
            topic = "control/" + id;
            client = MqttClient.builder().useMqttVersion5().identifier(id).serverHost("127.0.0.1").serverPort(port)
                    .buildAsync();
        }

        void start() throws Exception {
            client.connectWith().cleanStart(false).sessionExpiryInterval(300).send().get(10, TimeUnit.SECONDS);
            client.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).callback(p -> {
                CompletableFuture<Void> f = pending.remove(new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8));
                if (f != null) {
                    f.complete(null);
                }
            }).send().get(10, TimeUnit.SECONDS);
            loop = new Thread(this::roundTrips, "control-round-trips");
            loop.start();
        }

        private void roundTrips() {
            for (long n = 0; running.get() && n < 1_000_000; n++) {
                String body = "rt-" + n;
                CompletableFuture<Void> received = new CompletableFuture<>();
                pending.put(body, received);
                String phase = "PUBACK";
                long start = System.nanoTime();
                try {
                    client.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                            .payload(body.getBytes(StandardCharsets.UTF_8)).send()
                            .get(ROUND_TRIP_BOUND.toSeconds(), TimeUnit.SECONDS);
                    phase = "delivery";
                    received.get(ROUND_TRIP_BOUND.toSeconds(), TimeUnit.SECONDS);
                    completed.incrementAndGet();
                    slowestMillis.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
                } catch (Exception e) {
                    failures.add(body + " (waiting for its " + phase + "): " + e);
                }
            }
        }

        void stop() throws Exception {
            running.set(false);
            if (loop != null) {
                loop.join(Duration.ofSeconds(30).toMillis());
            }
            client.disconnect().get(10, TimeUnit.SECONDS);
        }
    }

    /** Counts WARN and ERROR log records (java.util.logging levels WARNING and SEVERE), keeping the first few. */
    private static final class WarnCounter extends Handler {
        private final AtomicLong count = new AtomicLong();
        private final List<String> first = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                count.incrementAndGet();
                if (first.size() < 20) {
                    first.add(r.getLevel() + " " + r.getLoggerName() + ": " + r.getMessage());
                }
            }
        }

        long count() {
            return count.get();
        }

        List<String> first() {
            synchronized (first) {
                return List.copyOf(first);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
