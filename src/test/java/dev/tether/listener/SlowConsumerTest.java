package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Clients that stop reading their socket (a small receive buffer keeps the TCP window small): Tether bounds what it keeps
 * for them, drops and counts the rest, keeps serving everyone else, and can still evict them. The stuck clients are
 * raw clients, so nothing reads on their behalf.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(SlowConsumerTest.SessionLimit.class)
class SlowConsumerTest {

    /** tether.session.max-queued-messages for this test. */
    static final int SESSION_LIMIT = 1000;

    /** tether.mqtt.write-queue-max-size for this test. */
    static final int WRITE_QUEUE_BYTES = 256 * 1024;

    /**
     * A session limit of {@link #SESSION_LIMIT} messages, small enough to fill, and a write queue of
     * {@link #WRITE_QUEUE_BYTES} that {@link #SESSION_LIMIT} messages overflow, so some of them wait for it to drain.
     */
    public static class SessionLimit implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.session.max-queued-messages", String.valueOf(SESSION_LIMIT),
                    "tether.mqtt.write-queue-max-size", String.valueOf(WRITE_QUEUE_BYTES));
        }
    }

    private static final int PAYLOAD_BYTES = 10 * 1024;
    /** 30 MB: many times what the socket buffers and the write queue hold for a client that does not read. */
    private static final int BURST = 3000;
    /** 10 MB: more than the socket buffers hold, so a client that does not read has a full socket. */
    private static final int FILL = 1000;
    private static final int SMALL_RECEIVE_BUFFER = 4096;
    /** Bound for one packet, one connect or one round trip. */
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** Bound for a burst to be published and routed. */
    private static final Duration BURST_TIMEOUT = Duration.ofSeconds(60);
    /** Window in which a message that must not arrive is looked for. */
    private static final Duration WINDOW = Duration.ofMillis(1500);

    @Inject
    MqttListener listener;
    @Inject
    MeterRegistry registry;
    @Inject
    DataSource dataSource;

    // ---- QoS 0: dropped and counted --------------------------------------------------------------

    @Test
    void deliver_whenQos0SubscriberStopsReading_thenMessagesDroppedCountedAndOtherClientsServed() throws Exception {
        // Tether keeps at most the write queue for a client that does not read; the QoS 0 messages beyond are
        // dropped for that client and counted, as Mosquitto does.
        String topic = "sc/qos0/" + TestClients.uniqueId("t");
        double before = dropped("slow-consumer");
        try (RawMqttClient stuck = stuckSubscriber(connect(MQTT_5, TestClients.uniqueId("sc-q0")).build(), topic, 0,
                MQTT_5)) {
            publish(topic, 0, BURST);

            await().atMost(BURST_TIMEOUT).until(() -> dropped("slow-consumer") - before >= BURST / 2.0);
            assertOtherClientsServed();
            assertThat(stuck.receive(TIMEOUT).type()).as("the stuck client still gets what was written").isEqualTo(PUBLISH);
        }
    }

    // ---- while the session opens: held up to the session limit ------------------------------------

    @Test
    void deliver_whileSessionOpensSlowly_thenHeldUpToSessionLimitAndRestDroppedAndCounted() throws Exception {
        // Messages for a client whose CONNECT waits for PostgreSQL are held until CONNACK, at most the session
        // limit: beyond, those living in memory only (QoS 0 here) are dropped and counted.
        String id = TestClients.uniqueId("sc-open");
        String topic = "sc/open/" + id;
        try (RawMqttClient first = TestClients.connectRaw(listener.port(), connect(MQTT_5, id).sessionExpiry(60L), false,
                TIMEOUT)) {
            first.send(subscribe(1, topic, 0, MQTT_5, null));
            assertThat(first.receive(TIMEOUT).type()).isEqualTo(SUBACK);
            first.send(disconnect(MQTT_5, 0, null));
            assertThat(first.awaitClosed(TIMEOUT)).isTrue();
        }
        Sql sql = new Sql(dataSource);
        sql.update("CREATE OR REPLACE FUNCTION test_slow_open() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$");
        sql.update("CREATE TRIGGER test_slow_open BEFORE INSERT OR UPDATE ON sessions FOR EACH ROW "
                + "WHEN (NEW.client_id = '" + id + "' AND NEW.connected) EXECUTE FUNCTION test_slow_open()");
        try (RawMqttClient back = RawMqttClient.connect("127.0.0.1", listener.port());
             RawMqttClient publisher = TestClients.connectRaw(listener.port(),
                     connect(MQTT_5, TestClients.uniqueId("sc-open-pub")), false, TIMEOUT)) {
            back.send(connect(MQTT_5, id).cleanStart(false).sessionExpiry(60L).build());
            await().atMost(TIMEOUT).until(() -> sql.count(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") > 0);
            double before = dropped("slow-consumer");
            int burst = SESSION_LIMIT + SESSION_LIMIT / 2;
            byte[][] packets = new byte[burst][];
            for (int i = 0; i < burst; i++) {
                packets[i] = MqttPackets.publish(MQTT_5, topic, 0, 0, String.format("%08d", i).getBytes(UTF_8));
            }
            publisher.send(concat(packets));
            await().atMost(BURST_TIMEOUT).until(() -> dropped("slow-consumer") - before >= burst - SESSION_LIMIT);

            ReceivedPacket connack = back.receive(Duration.ofSeconds(10));
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).isTrue();
            for (int i = 0; i < SESSION_LIMIT; i++) {
                ReceivedPacket p = back.receive(TIMEOUT);
                assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
                assertThat(sequenceOf(p)).isEqualTo(i);
            }
            assertThat(back.receiveWithin(WINDOW)).as("PUBLISH beyond the session limit").isEmpty();
            assertThat(dropped("slow-consumer") - before).isEqualTo(burst - SESSION_LIMIT);
        } finally {
            sql.update("DROP TRIGGER IF EXISTS test_slow_open ON sessions");
        }
    }

    // ---- QoS 1, non-durable: bounded by the session limit ----------------------------------------

    @Test
    void deliver_whenNonDurableQos1SubscriberStopsReading_thenSessionLimitHeldInOrderAndRestDroppedAndCounted()
            throws Exception {
        // A Receive Maximum of 65,535 does not bound what waits for the client: max-queued-messages does (in flight plus
        // waiting, as the durable queue in PostgreSQL); beyond it the overflow policy (drop-newest) drops and counts.
        String topic = "sc/qos1/" + TestClients.uniqueId("t");
        double before = dropped("queue-full");
        byte[] connect = connect(MQTT_5, TestClients.uniqueId("sc-q1"))
                .extraProperties(property(RECEIVE_MAXIMUM, 65535)).build(); // no Session Expiry: non-durable
        try (RawMqttClient stuck = stuckSubscriber(connect, topic, 1, MQTT_5)) {
            publish(topic, 1, BURST);

            await().atMost(BURST_TIMEOUT).until(() -> dropped("queue-full") - before >= BURST - SESSION_LIMIT);
            assertOtherClientsServed();

            // Reading again drains the socket: the held messages follow, the first ones of the burst, in order
            // [MQTT-4.6.0-6], and nothing beyond the limit.
            for (int i = 0; i < SESSION_LIMIT; i++) {
                ReceivedPacket p = stuck.receive(TIMEOUT);
                assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
                assertThat(sequenceOf(p)).isEqualTo(i);
            }
            assertThat(stuck.receiveWithin(WINDOW)).as("PUBLISH beyond the session limit").isEmpty();
            assertThat(dropped("queue-full") - before).isEqualTo(BURST - SESSION_LIMIT);
        }
    }

    // ---- eviction of a client that does not read -------------------------------------------------

    @Test
    void takeOver_whenOldConnectionStopsReading_thenNewGetsConnackAndOldIsClosedWithinDeadline() throws Exception {
        // [MQTT-3.1.4-3] the old connection is closed even though the DISCONNECT 0x8E before the close cannot be
        // written to it: the close has a deadline.
        awaitNoConnections();
        String id = TestClients.uniqueId("sc-tk");
        String topic = "sc/takeover/" + TestClients.uniqueId("t");
        try (RawMqttClient stuck = stuckSubscriber(connect(MQTT_5, id).build(), topic, 0, MQTT_5);
             RawMqttClient taker = RawMqttClient.connect("127.0.0.1", listener.port())) {
            publish(topic, 1, FILL);

            taker.send(connect(MQTT_5, id).build());
            assertThat(taker.receive(TIMEOUT).connackReasonCode()).isZero();
            // Closed by the broker while the old client still reads nothing: only the new connection is left.
            await().atMost(TIMEOUT).until(() -> listener.connectionCount() == 1);
            assertThat(stuck.awaitClosed(TIMEOUT)).as("old socket sees EOF or reset").isTrue();
        }
    }

    @Test
    void keepAlive_whenClientStopsReadingAndSending_thenClosedWithinDeadline() throws Exception {
        // 3.1.1 [MQTT-3.1.2-24] (5.0 [MQTT-3.1.2-22]) no packet within 1.5 x Keep Alive: the server disconnects the
        // client, even one whose socket is full.
        awaitNoConnections();
        int keepAliveSeconds = 5;
        String topic = "sc/keepalive/" + TestClients.uniqueId("t");
        byte[] connect = connect(MQTT_3_1_1, TestClients.uniqueId("sc-ka")).keepAlive(keepAliveSeconds).build();
        try (RawMqttClient stuck = stuckSubscriber(connect, topic, 0, MQTT_3_1_1)) {
            publish(topic, 1, FILL);

            await().atMost(Duration.ofSeconds(keepAliveSeconds * 3L)).until(() -> listener.connectionCount() == 0);
            assertThat(stuck.awaitClosed(TIMEOUT)).as("socket sees EOF or reset").isTrue();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** Connects with a small receive buffer and subscribes; the caller then stops reading. */
    private RawMqttClient stuckSubscriber(byte[] connect, String topic, int qos, int protocolLevel) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port(), SMALL_RECEIVE_BUFFER);
        raw.send(connect);
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        raw.send(subscribe(1, topic, qos, protocolLevel, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(protocolLevel)).containsExactly(qos);
        return raw;
    }

    /**
     * Publishes {@code count} messages of {@link #PAYLOAD_BYTES} whose payload starts with their sequence number, and
     * waits until all are sent (QoS 0) or acknowledged (QoS 1: routed).
     */
    private void publish(String topic, int qos, int count) throws Exception {
        Mqtt5AsyncClient publisher = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sc-pub")).toAsync();
        publisher.connect().get(TIMEOUT.toMillis(), MILLISECONDS);
        try {
            CompletableFuture<?>[] sent = new CompletableFuture<?>[count];
            for (int i = 0; i < count; i++) {
                sent[i] = publisher.publishWith().topic(topic).qos(MqttQos.fromCode(qos)).payload(payload(i)).send();
            }
            CompletableFuture.allOf(sent).get(BURST_TIMEOUT.toMillis(), MILLISECONDS);
        } finally {
            publisher.disconnect().get(TIMEOUT.toMillis(), MILLISECONDS);
        }
    }

    private static byte[] payload(int sequence) {
        byte[] payload = new byte[PAYLOAD_BYTES];
        Arrays.fill(payload, (byte) 'x');
        byte[] prefix = String.format("%08d", sequence).getBytes(UTF_8);
        System.arraycopy(prefix, 0, payload, 0, prefix.length);
        return payload;
    }

    private static int sequenceOf(ReceivedPacket publish) {
        return Integer.parseInt(publish.publishPayloadUtf8(MQTT_5).substring(0, 8));
    }

    /** A third client connects, and a message it publishes comes back to it. */
    private void assertOtherClientsServed() throws Exception {
        Mqtt5AsyncClient other = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sc-other")).toAsync();
        other.connect().get(TIMEOUT.toMillis(), MILLISECONDS);
        try {
            String topic = "sc/other/" + TestClients.uniqueId("t");
            CompletableFuture<String> received = new CompletableFuture<>();
            other.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .callback(p -> received.complete(new String(p.getPayloadAsBytes(), UTF_8)))
                    .send().get(TIMEOUT.toMillis(), MILLISECONDS);
            other.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload("ping".getBytes(UTF_8)).send()
                    .get(TIMEOUT.toMillis(), MILLISECONDS);
            assertThat(received.get(TIMEOUT.toMillis(), MILLISECONDS)).isEqualTo("ping");
        } finally {
            other.disconnect().get(TIMEOUT.toMillis(), MILLISECONDS);
        }
    }

    private double dropped(String reason) {
        return registry.get("tether.delivery.dropped.messages").tag("reason", reason).functionCounter().count();
    }

    /** Connections of earlier tests are gone, so the connection count shows this test's alone. */
    private void awaitNoConnections() {
        await().atMost(TIMEOUT).until(() -> listener.connectionCount() == 0);
    }
}
