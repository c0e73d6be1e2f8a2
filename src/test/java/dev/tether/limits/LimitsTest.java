package dev.tether.limits;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The limits of README's Security section (tether.limits.*, tether.mqtt.connect-timeout), end to end over real
 * sockets, in one Quarkus restart with small values. The connection rate counts per source address: each test
 * connects from addresses of its own (all of 127/8 is loopback), so that only the rate test meets that limit.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(LimitsTest.SmallLimits.class)
class LimitsTest {

    public static class SmallLimits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.ofEntries(
                    Map.entry("tether.limits.max-connections", String.valueOf(MAX_CONNECTIONS)),
                    Map.entry("tether.limits.connections-per-second-per-address", String.valueOf(CONNECTION_RATE)),
                    Map.entry("tether.limits.connection-burst-per-address", String.valueOf(CONNECTION_RATE)),
                    Map.entry("tether.limits.max-subscriptions-per-session", "3"),
                    Map.entry("tether.limits.max-topic-length", "64"),
                    Map.entry("tether.limits.max-topic-levels", "4"),
                    Map.entry("tether.limits.publish-rate", String.valueOf(PUBLISH_RATE)),
                    Map.entry("tether.limits.publish-bytes-rate", String.valueOf(PUBLISH_BYTES_RATE)),
                    Map.entry("tether.limits.publish-burst", "1s"),
                    Map.entry("tether.mqtt.connect-timeout", CONNECT_TIMEOUT.toMillis() + "ms"));
        }
    }

    private static final int MAX_CONNECTIONS = 30;
    private static final int CONNECTION_RATE = 5;
    private static final int PUBLISH_RATE = 50;
    private static final int PUBLISH_BYTES_RATE = 100_000;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** Source addresses handed out one by one: 127.0.x.y, never the same twice. */
    private static final AtomicInteger NEXT_ADDRESS = new AtomicInteger(256);

    @Inject
    MqttListener listener;
    @Inject
    Limits limits;
    @Inject
    MeterRegistry registry;

    private final List<RawMqttClient> opened = new ArrayList<>();

    @AfterEach
    void closeAll() throws IOException {
        for (RawMqttClient c : opened) {
            c.close();
        }
        opened.clear();
        await().atMost(TIMEOUT).until(() -> limits.connections().open() == 0);
    }

    // ---- connections ---------------------------------------------------------------------------

    @Test
    void connect_whenBrokerHoldsMaxConnections_thenQuotaExceededAndClosed() throws Exception {
        double refusedBefore = refused(Limit.MAX_CONNECTIONS);
        while (limits.connections().open() < MAX_CONNECTIONS) {
            connected(MQTT_5, "quota-fill");
        }
        // MQTT 5: CONNACK 0x97 Quota exceeded, then close
        RawMqttClient over5 = open(freshAddress());
        over5.send(connect(MQTT_5, TestClients.uniqueId("quota-over5")).build());
        ReceivedPacket connack5 = over5.receive(TIMEOUT);
        assertThat(connack5.connackReasonCode()).isEqualTo(0x97);
        assertThat(connack5.connackSessionPresent()).isFalse();
        assertThat(over5.awaitClosed(TIMEOUT)).isTrue();
        // MQTT 3.1.1 has no such code: return code 3 Server unavailable, then close
        RawMqttClient over311 = open(freshAddress());
        over311.send(connect(MQTT_3_1_1, TestClients.uniqueId("quota-over311")).build());
        assertThat(over311.receive(TIMEOUT).connackReasonCode()).isEqualTo(3);
        assertThat(over311.awaitClosed(TIMEOUT)).isTrue();
        assertThat(refused(Limit.MAX_CONNECTIONS) - refusedBefore).isEqualTo(2);

        // one leaves: a new client is served again
        opened.remove(0).close();
        await().atMost(TIMEOUT).until(() -> limits.connections().open() < MAX_CONNECTIONS);
        connected(MQTT_5, "quota-after");
    }

    @Test
    void connect_whenAddressOpensBeyondItsRate_thenExtraSocketsClosedUnreadAndOtherAddressesServed() throws Exception {
        double refusedBefore = refused(Limit.CONNECTION_RATE);
        String address = freshAddress();
        int attempts = 12;
        long start = System.nanoTime();
        List<RawMqttClient> sockets = new ArrayList<>();
        for (int i = 0; i < attempts; i++) {
            sockets.add(open(address));
        }
        double openingSeconds = (System.nanoTime() - start) / 1e9;
        int accepted = 0;
        int refused = 0;
        for (RawMqttClient s : sockets) {
            Optional<ReceivedPacket> reply;
            try {
                s.send(connect(MQTT_5, TestClients.uniqueId("rate")).build());
                reply = Optional.of(s.receive(TIMEOUT));
            } catch (IOException closed) { // end of stream, or a reset when the CONNECT met a closed socket
                reply = Optional.empty();
            }
            if (reply.isPresent()) {
                assertThat(reply.get().connackReasonCode()).isZero();
                accepted++;
            } else {
                refused++;
            }
        }
        // The burst, and what the rate refilled while the sockets were opened; the others closed before any CONNACK.
        assertThat(accepted).isBetween(CONNECTION_RATE, CONNECTION_RATE + (int) (CONNECTION_RATE * openingSeconds) + 1);
        assertThat(openingSeconds).as("opening 12 loopback sockets").isLessThan(1.0);
        assertThat(refused).isPositive().isEqualTo(attempts - accepted);
        assertThat(refused(Limit.CONNECTION_RATE) - refusedBefore).isEqualTo(refused);
        // another address is not held back
        connected(MQTT_5, "rate-neighbour");
    }

    @Test
    void connectTimeout_whenThousandSocketsSendNothing_thenAllClosedAndCountsBackToStart() throws Exception {
        // tether.mqtt.connect-timeout = 2 s: each socket that never sends CONNECT is closed by the broker. From 200
        // addresses, 5 each (the connection rate's burst); most are beyond max-connections and closed the same way.
        int n = 1000;
        int baselineSockets = listener.connectionCount();
        double rateRefusedBefore = refused(Limit.CONNECTION_RATE);
        List<Socket> sockets = new ArrayList<>(n);
        try {
            long start = System.nanoTime();
            for (int a = 0; a < n / CONNECTION_RATE; a++) {
                String address = freshAddress();
                for (int i = 0; i < CONNECTION_RATE; i++) {
                    Socket s = new Socket();
                    sockets.add(s);
                    s.bind(new InetSocketAddress(address, 0));
                    s.connect(new InetSocketAddress("127.0.0.1", listener.port()), (int) TIMEOUT.toMillis());
                }
            }
            long deadline = start + CONNECT_TIMEOUT.plus(Duration.ofSeconds(5)).toNanos();
            int closedByBroker = 0;
            long firstClosedAfterNanos = -1;
            for (Socket s : sockets) {
                if (readsEndOfStream(s, deadline)) {
                    closedByBroker++;
                }
                if (firstClosedAfterNanos < 0) {
                    firstClosedAfterNanos = System.nanoTime() - start;
                }
            }
            assertThat(closedByBroker).isEqualTo(n);
            // the first socket, opened at the start, lived its connect timeout (less a margin for timer granularity)
            assertThat(Duration.ofNanos(firstClosedAfterNanos)).isGreaterThan(CONNECT_TIMEOUT.minusMillis(200));
            assertThat(refused(Limit.CONNECTION_RATE)).as("none refused for its rate").isEqualTo(rateRefusedBefore);
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
        // The broker holds nothing of them: its open connections and its quota are back where they were.
        await().atMost(TIMEOUT).untilAsserted(() -> {
            assertThat(listener.connectionCount()).isEqualTo(baselineSockets);
            assertThat(limits.connections().open()).isZero();
        });
    }

    // ---- subscriptions and topics --------------------------------------------------------------

    @Test
    void subscribe_whenSessionHoldsMax_thenQuotaExceededForThatFilterOnlyAndResumedOnesCount() throws Exception {
        double refusedBefore = refused(Limit.MAX_SUBSCRIPTIONS);
        String id = TestClients.uniqueId("subs-max");
        RawMqttClient c = open(freshAddress());
        c.send(connect(MQTT_5, id).cleanStart(false).sessionExpiry(300L).build());
        assertThat(c.receive(TIMEOUT).connackReasonCode()).isZero();
        c.send(subscribe(1, MQTT_5, null, new Subscription("s/1", 1), new Subscription("s/2", 1),
                new Subscription("s/3", 1), new Subscription("s/4", 1)));
        assertThat(c.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1, 1, 1, 0x97);
        // subscribing again to a filter the session has replaces it: no more room taken
        c.send(subscribe(2, MQTT_5, null, new Subscription("s/2", 0), new Subscription("s/5", 0)));
        assertThat(c.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(0, 0x97);
        c.close();

        RawMqttClient again = open(freshAddress());
        again.send(connect(MQTT_5, id).cleanStart(false).sessionExpiry(0L).build());
        ReceivedPacket connack = again.receive(TIMEOUT);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isTrue();
        again.send(subscribe(3, MQTT_5, null, new Subscription("s/6", 0)));
        assertThat(again.receive(TIMEOUT).subackReasonCodes(MQTT_5)).as("the resumed three count").containsExactly(0x97);
        again.send(unsubscribe(4, MQTT_5, "s/1"));
        assertThat(again.receive(TIMEOUT).unsubackReasonCodes(MQTT_5)).containsExactly(0);
        again.send(subscribe(5, MQTT_5, null, new Subscription("s/6", 0)));
        assertThat(again.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(0);

        RawMqttClient old = connected(MQTT_3_1_1, "subs-max-311");
        old.send(subscribe(1, MQTT_3_1_1, null, new Subscription("t/1", 1), new Subscription("t/2", 1),
                new Subscription("t/3", 1), new Subscription("t/4", 1)));
        assertThat(old.receive(TIMEOUT).subackReasonCodes(MQTT_3_1_1)).containsExactly(1, 1, 1, 0x80);
        assertThat(refused(Limit.MAX_SUBSCRIPTIONS) - refusedBefore).isEqualTo(4);
    }

    @Test
    void subscribe_whenFilterTooLongOrTooDeep_thenTopicFilterInvalidForThatFilter() throws Exception {
        double lengthBefore = refused(Limit.TOPIC_LENGTH);
        double levelsBefore = refused(Limit.TOPIC_LEVELS);
        String tooLong = "long/" + "x".repeat(60); // 65 bytes
        RawMqttClient c = connected(MQTT_5, "filter-limits");
        c.send(subscribe(1, MQTT_5, null, new Subscription("a/b/c/+", 0), new Subscription(tooLong, 0),
                new Subscription("a/b/c/d/#", 0), new Subscription("$share/g/a/b/c/d", 0)));
        // 0x8F Topic Filter invalid; a shared subscription's $share/g/ prefix is not a level
        assertThat(c.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(0, 0x8F, 0x8F, 0);

        RawMqttClient old = connected(MQTT_3_1_1, "filter-limits-311");
        old.send(subscribe(1, MQTT_3_1_1, null, new Subscription(tooLong, 0), new Subscription("a/b", 0)));
        assertThat(old.receive(TIMEOUT).subackReasonCodes(MQTT_3_1_1)).containsExactly(0x80, 0);
        assertThat(refused(Limit.TOPIC_LENGTH) - lengthBefore).isEqualTo(2);
        assertThat(refused(Limit.TOPIC_LEVELS) - levelsBefore).isEqualTo(1);
    }

    @Test
    void publish_whenTopicTooLongOrTooDeep_thenTopicNameInvalid() throws Exception {
        String tooLong = "long/" + "x".repeat(60);
        byte[] payload = utf8("p");
        RawMqttClient subscriber = connected(MQTT_5, "topic-limits-sub");
        subscriber.send(subscribe(1, MQTT_5, null, new Subscription("long/#", 1), new Subscription("a/#", 1)));
        subscriber.receive(TIMEOUT);

        // QoS 1 and 2: the acknowledgement says 0x90 Topic Name invalid, and the connection goes on
        RawMqttClient c = connected(MQTT_5, "topic-limits");
        c.send(MqttPackets.publish(MQTT_5, tooLong, 1, 7, payload));
        ReceivedPacket puback = c.receive(TIMEOUT);
        assertThat(puback.type()).isEqualTo(PUBACK);
        assertThat(puback.pubackReasonCode()).isEqualTo(0x90);
        c.send(MqttPackets.publish(MQTT_5, "a/b/c/d/e", 2, 8, payload));
        ReceivedPacket pubrec = c.receive(TIMEOUT);
        assertThat(pubrec.type()).isEqualTo(PUBREC);
        assertThat(pubrec.pubackReasonCode()).isEqualTo(0x90);
        c.send(pingreq());
        assertThat(c.receive(TIMEOUT).type()).isEqualTo(PINGRESP);
        // QoS 0 has no acknowledgement: DISCONNECT 0x90, then close
        c.send(MqttPackets.publish(MQTT_5, "a/b/c/d/e", 0, 0, payload));
        ReceivedPacket disconnect = c.receive(TIMEOUT);
        assertThat(disconnect.type()).isEqualTo(DISCONNECT);
        assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x90);
        assertThat(c.awaitClosed(TIMEOUT)).isTrue();
        // 3.1.1 has no negative acknowledgement: closed
        RawMqttClient old = connected(MQTT_3_1_1, "topic-limits-311");
        old.send(MqttPackets.publish(MQTT_3_1_1, tooLong, 1, 9, payload));
        assertThat(old.awaitClosed(TIMEOUT)).isTrue();
        assertThat(old.bufferedBytes()).as("no PUBACK").isZero();

        assertThat(subscriber.receiveWithin(Duration.ofSeconds(1))).as("nothing of them was routed").isEmpty();
    }

    @Test
    void connect_whenWillTopicTooLong_thenTopicNameInvalid() throws Exception {
        String tooLong = "will/" + "x".repeat(60);
        RawMqttClient c = open(freshAddress());
        c.send(connect(MQTT_5, TestClients.uniqueId("will-limit")).will(tooLong, utf8("w"), 0, false).build());
        assertThat(c.receive(TIMEOUT).connackReasonCode()).isEqualTo(0x90);
        assertThat(c.awaitClosed(TIMEOUT)).isTrue();
        RawMqttClient old = open(freshAddress());
        old.send(connect(MQTT_3_1_1, TestClients.uniqueId("will-limit-311")).will("a/b/c/d/e", utf8("w"), 0, false)
                .build());
        assertThat(old.receive(TIMEOUT).connackReasonCode()).isEqualTo(3);
        assertThat(old.awaitClosed(TIMEOUT)).isTrue();
    }

    // ---- publish rates -------------------------------------------------------------------------

    @Test
    void publish_whenClientsFloodBeyondTheirRates_thenSlowedToThemWhileNeighbourRoundTripsComplete() throws Exception {
        // publish-rate 50/s and publish-bytes-rate 100,000 B/s, each with one second of burst. One client floods
        // 1 KB QoS 0 messages (its packet rate binds), another 10 KB ones (its byte rate binds), for 3 s each;
        // a subscriber counts what reaches it, and a neighbour's QoS 1 round trips go on meanwhile.
        double throttledBefore = throttled(Limit.PUBLISH_RATE) + throttled(Limit.PUBLISH_BYTES_RATE);
        String prefix = "flood/" + TestClients.uniqueId("f") + "/";
        RawMqttClient subscriber = connected(MQTT_5, "flood-sub");
        subscriber.send(subscribe(1, prefix + "#", 0, MQTT_5, null));
        subscriber.receive(TIMEOUT);
        RawMqttClient small = connected(MQTT_5, "flood-small");
        RawMqttClient big = connected(MQTT_5, "flood-big");
        RawMqttClient neighbour = connected(MQTT_5, "flood-neighbour");
        // 1,000-byte messages: at 50/s they stay below the byte rate. (A throttled client's last read, up to 64 KiB,
        // waits decoded and is handled at its rate, even after it left: larger messages keep that backlog short.)
        byte[] smallBatch = repeat(MqttPackets.publish(MQTT_5, prefix + "small", 0, 0, new byte[1000]), 10);
        byte[] bigPublish = MqttPackets.publish(MQTT_5, prefix + "big", 0, 0, new byte[10_000]);
        AtomicLong smallSent = new AtomicLong();
        AtomicLong bigSent = new AtomicLong();
        ExecutorService floods = Executors.newFixedThreadPool(3);
        long start = System.nanoTime();
        long floodEnd = start + Duration.ofSeconds(3).toNanos();
        try {
            Future<?> a = floods.submit(() -> flood(small, smallBatch, 10, smallSent, floodEnd));
            Future<?> b = floods.submit(() -> flood(big, bigPublish, 1, bigSent, floodEnd));
            Future<long[]> received = floods.submit(() -> receive(subscriber, floodEnd + Duration.ofSeconds(1).toNanos()));
            long roundTripsStart = System.nanoTime();
            for (int i = 1; i <= 20; i++) {
                neighbour.send(MqttPackets.publish(MQTT_5, prefix + "neighbour", 1, i, utf8("n")));
                ReceivedPacket ack = neighbour.receive(TIMEOUT);
                assertThat(ack.type()).isEqualTo(PUBACK);
                assertThat(ack.packetId()).isEqualTo(i);
            }
            System.out.printf("20 QoS 1 round trips during the flood: %d ms%n", (System.nanoTime() - roundTripsStart) / 1_000_000);
            // a flooder's writes block while it is not read: closing its socket ends them
            long untilFloodEnd = (floodEnd - System.nanoTime()) / 1_000_000;
            a.get(TIMEOUT.toMillis() + Math.max(0, untilFloodEnd), TimeUnit.MILLISECONDS);
            b.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            long[] counts = received.get(TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            long smallReceived = counts[0];
            long bigBytesReceived = counts[1];
            System.out.printf("flood over %.1f s: small %d sent, %d received; big %d bytes sent, %d received%n", seconds,
                    smallSent.get(), smallReceived, bigSent.get() * 10_000, bigBytesReceived);
            // burst + rate x time (+ the one message that runs a bucket into debt)
            assertThat(smallReceived).isPositive().isLessThanOrEqualTo((long) (PUBLISH_RATE * (1 + seconds)) + 1);
            assertThat(smallSent.get()).as("the flooder wanted more").isGreaterThan(smallReceived * 2L);
            assertThat(bigBytesReceived).isPositive()
                    .isLessThanOrEqualTo((long) (PUBLISH_BYTES_RATE * (1 + seconds)) + 10_000);
            assertThat(bigSent.get() * 10_000).as("the flooder wanted more").isGreaterThan(bigBytesReceived * 2);
            assertThat(throttled(Limit.PUBLISH_RATE) + throttled(Limit.PUBLISH_BYTES_RATE)).isGreaterThan(throttledBefore);
            // What the flooders had sent before they left (in the broker's socket buffers) is still handled at their
            // rates, then their connections close: bounded, not instant.
            long leftAt = System.nanoTime();
            subscriber.close();
            neighbour.close();
            await().atMost(Duration.ofSeconds(60)).until(() -> limits.connections().open() == 0);
            System.out.printf("flooders' connections closed %d ms after they left%n", (System.nanoTime() - leftAt) / 1_000_000);
        } finally {
            floods.shutdownNow(); // the flooders reset their connections on the way out

            assertThat(floods.awaitTermination(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * Writes {@code bytes} ({@code messages} PUBLISH packets) until {@code endNanos}, then resets the connection (a
     * write blocked by back-pressure ends with it).
     */
    private static void flood(RawMqttClient client, byte[] bytes, int messages, AtomicLong sent, long endNanos) {
        ScheduledExecutorService closer = Executors.newSingleThreadScheduledExecutor();
        closer.schedule(() -> {
            client.closeAbruptly(); // a reset: what the broker has not read yet is discarded, not read at the rate
            return null;
        }, Math.max(0, endNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        try {
            while (System.nanoTime() < endNanos) {
                client.send(bytes);
                sent.addAndGet(messages);
            }
        } catch (IOException closed) {
            // reset at the end of the flood
        } finally {
            closer.shutdownNow();
            try {
                client.closeAbruptly();
            } catch (IOException alreadyClosed) {
                // reset by the closer
            }
        }
    }

    /** Counts small messages and big messages' payload bytes that reach {@code subscriber} until {@code endNanos}. */
    private static long[] receive(RawMqttClient subscriber, long endNanos) throws IOException {
        long[] counts = new long[2];
        while (System.nanoTime() < endNanos) {
            Optional<ReceivedPacket> p = subscriber.receiveWithin(Duration.ofMillis(100));
            if (p.isPresent() && p.get().publishTopic().endsWith("/small")) {
                counts[0]++;
            } else if (p.isPresent() && p.get().publishTopic().endsWith("/big")) {
                counts[1] += p.get().publishPayload(MQTT_5).length;
            }
        }
        return counts;
    }

    // ---- helpers -------------------------------------------------------------------------------

    private double refused(Limit limit) {
        return registry.get("tether.limits.refused").tag("limit", limit.tag()).counter().count();
    }

    private double throttled(Limit limit) {
        return registry.get("tether.limits.throttled").tag("limit", limit.tag()).counter().count();
    }

    private static String freshAddress() {
        int n = NEXT_ADDRESS.getAndIncrement();
        return "127.0." + (n >> 8) + "." + (n & 0xFF);
    }

    private RawMqttClient open(String address) throws IOException {
        RawMqttClient c = RawMqttClient.connectFrom(address, "127.0.0.1", listener.port());
        opened.add(c);
        return c;
    }

    /** A client connected (CONNACK 0) from an address of its own. */
    private RawMqttClient connected(int level, String name) throws IOException {
        RawMqttClient c = open(freshAddress());
        c.send(connect(level, TestClients.uniqueId(name)).build());
        ReceivedPacket connack = c.receive(TIMEOUT);
        assertThat(connack.connackReasonCode()).as("CONNACK of %s", name).isZero();
        return c;
    }

    private static byte[] repeat(byte[] packet, int times) {
        byte[] out = new byte[packet.length * times];
        for (int i = 0; i < times; i++) {
            System.arraycopy(packet, 0, out, i * packet.length, packet.length);
        }
        return out;
    }

    /** Reads until end of stream (or a reset): true when the broker closed the socket before {@code deadline}. */
    private static boolean readsEndOfStream(Socket s, long deadline) throws IOException {
        InputStream in = s.getInputStream();
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return false;
            }
            s.setSoTimeout((int) left);
            try {
                if (in.read() == -1) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException reset) {
                return true;
            }
        }
    }
}
