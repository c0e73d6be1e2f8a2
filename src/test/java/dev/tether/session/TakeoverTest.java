package dev.tether.session;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient.Mqtt5Publishes;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Session takeover (MQTT 5.0 §3.1.4, §4.13; 3.1.1 §3.1.4): a second CONNECT with the Client Identifier of a connected
 * client. The first connection is a {@link RawMqttClient}, so the DISCONNECT the broker sends it (or its absence) can be
 * read byte for byte.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class TakeoverTest {

    /** Bound for reading one packet, a close, or a message that must arrive. */
    private static final Duration PACKET = Duration.ofSeconds(5);
    /** Window in which a message that must not be delivered is looked for. */
    private static final Duration NOT_DELIVERED_WINDOW = Duration.ofMillis(1500);
    private static final String LIVE_CONNECTIONS = "SELECT count(*) FROM sessions WHERE client_id = ? AND connected";

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeClients() {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception ignored) {
                // already closed by the test or the broker
            }
        }
        open.clear();
    }

    // ---- DISCONNECT 0x8E and the new connection ------------------------------------------------

    @Test
    void connect_whenClientIdAlreadyConnected_thenOldGetsDisconnect8EAndNewConnectionWorks() throws Exception {
        // [MQTT-3.1.4-3] DISCONNECT 0x8E (Session taken over) then close; [MQTT-3.14.2-2] no Session Expiry in it.
        String id = TestClients.uniqueId("tk-8e");
        RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L), false);

        Mqtt5BlockingClient taker = TestClients.mqtt5(listener.port(), id);
        Mqtt5ConnAck connack = taker.connectWith().cleanStart(false).sessionExpiryInterval(60).send();
        open.add(() -> disconnectQuietly(taker));
        assertThat(connack.isSessionPresent()).isTrue();

        ReceivedPacket disconnect = old.receive(PACKET);
        assertThat(disconnect.type()).as("expected DISCONNECT, got %s", disconnect).isEqualTo(MqttPackets.DISCONNECT);
        assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x8E);
        assertThat(disconnect.disconnectProperties().has(MqttPackets.SESSION_EXPIRY_INTERVAL)).isFalse();
        assertThat(old.awaitClosed(PACKET)).as("old connection not closed after takeover").isTrue();

        // The new connection works: a publish/subscribe round trip through the broker.
        String topic = "tk/" + id + "/echo";
        try (Mqtt5Publishes received = taker.publishes(MqttGlobalPublishFilter.ALL)) {
            taker.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            taker.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload("hello".getBytes(StandardCharsets.UTF_8))
                    .send();
            Mqtt5Publish echo = received.receive(PACKET.toMillis(), MILLISECONDS).orElseThrow(
                    () -> new AssertionError("new connection got no message on " + topic));
            assertThat(new String(echo.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("hello");
        }
        // Exactly one live connection for the Client Identifier, and it stays so.
        assertOneLiveConnection(id);
    }

    // ---- Clean Start of the taking-over CONNECT [MQTT-3.1.4-4] ---------------------------------

    @Test
    void connect_whenTakeoverWithCleanStartZero_thenSessionPresentAndOldSubscriptionsDeliver() throws Exception {
        // [MQTT-3.1.4-4] [MQTT-3.1.2-5] [MQTT-3.2.2-3]
        String id = TestClients.uniqueId("tk-keep");
        String filter = "tk/" + id + "/old";
        RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L), false);
        subscribe(old, filter);

        RawMqttClient taker = connectRaw(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L),
                true);
        assertThat(old.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8E);

        publish(filter, "kept");
        ReceivedPacket delivered = taker.receive(PACKET);
        assertThat(delivered.type()).as("expected PUBLISH, got %s", delivered).isEqualTo(MqttPackets.PUBLISH);
        assertThat(delivered.publishTopic()).isEqualTo(filter);
        assertThat(delivered.publishPayloadUtf8(MqttPackets.MQTT_5)).isEqualTo("kept");
        assertOneLiveConnection(id);
    }

    @Test
    void connect_whenTakeoverWithCleanStartOne_thenNoSessionPresentAndOldSubscriptionsGone() throws Exception {
        // [MQTT-3.1.4-4] [MQTT-3.1.2-4] [MQTT-3.2.2-2]
        String id = TestClients.uniqueId("tk-clean");
        String filter = "tk/" + id + "/old";
        RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L), false);
        subscribe(old, filter);

        RawMqttClient taker = connectRaw(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L),
                false);
        assertThat(old.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8E);

        publish(filter, "discarded");
        assertThat(taker.receiveWithin(NOT_DELIVERED_WINDOW)).as("old subscription still delivers").isEmpty();
        assertThat(new Sql(dataSource).count("SELECT count(*) FROM subscriptions WHERE client_id = ?", id)).isZero();
        assertOneLiveConnection(id);
    }

    // ---- the old connection's will ----------------------------------------------------------------

    @Test
    void connect_whenTakeoverWithCleanStartOne_thenOldWillPublished() throws Exception {
        // SESSIONS.md Takeover: the old will is published unless Clean Start 0 and will delay > 0; [MQTT-3.1.2-4]
        String id = TestClients.uniqueId("tk-will-cs1");
        try (Mqtt5Publishes wills = observeWills(id)) {
            RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L)
                    .will(willTopic(id), payload(id), 1, false).willDelay(5L), false);

            connectRaw(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L), false);
            assertThat(old.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8E);

            // Well before the 5 s delay: the old session ended with the takeover.
            Mqtt5Publish will = wills.receive(3000, MILLISECONDS).orElseThrow(
                    () -> new AssertionError("old will not published on takeover with Clean Start 1"));
            assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        }
    }

    @Test
    void connect_whenTakeoverWithCleanStartZeroAndNoWillDelay_thenOldWillPublished() throws Exception {
        // SESSIONS.md Takeover; [MQTT-3.1.2-8] a will delay of 0 has passed as soon as the old connection closes.
        String id = TestClients.uniqueId("tk-will-d0");
        try (Mqtt5Publishes wills = observeWills(id)) {
            RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L)
                    .will(willTopic(id), payload(id), 1, false).willDelay(0L), false);

            connectRaw(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L), true);
            assertThat(old.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8E);

            Mqtt5Publish will = wills.receive(3000, MILLISECONDS).orElseThrow(
                    () -> new AssertionError("old will (delay 0) not published on takeover with Clean Start 0"));
            assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        }
    }

    @Test
    void connect_whenTakeoverWithCleanStartZeroAndWillDelay_thenOldWillNotPublished() throws Exception {
        // SESSIONS.md Takeover; [MQTT-3.1.3-9] the new connection arrived before the Will Delay Interval passed.
        String id = TestClients.uniqueId("tk-will-d1");
        try (Mqtt5Publishes wills = observeWills(id)) {
            RawMqttClient old = connectRaw(MqttPackets.connect(id).sessionExpiry(60L)
                    .will(willTopic(id), payload(id), 1, false).willDelay(1L), false);

            connectRaw(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L), true);
            long takenOverAt = System.nanoTime();
            assertThat(old.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8E);

            // Past the 1 s delay plus the expiry job's 1 s period: still nothing.
            long window = Math.max(NOT_DELIVERED_WINDOW.toMillis(), 2500 - (System.nanoTime() - takenOverAt) / 1_000_000);
            assertThat(wills.receive(window, MILLISECONDS)).as("old will published although the session was resumed")
                    .isEmpty();
            // The new CONNECT carried no will: the session has none.
            assertThat(new Sql(dataSource).count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero();
        }
    }

    // ---- MQTT 3.1.1 ----------------------------------------------------------------------------

    @Test
    void connect_whenMqtt311TakeoverWithCleanSessionZero_thenOldClosedWithoutDisconnectAndSessionPresent() throws Exception {
        // MQTT 3.1.1 [MQTT-3.1.4-2] (3.1.1 numbering): the server disconnects the existing client (3.1.1 has no server
        // DISCONNECT); [MQTT-3.1.2-4] (3.1.1) Clean Session 0 resumes; [MQTT-3.2.2-2] (3.1.1) Session Present 1.
        String id = TestClients.uniqueId("tk-311");
        RawMqttClient old = connectRaw(MqttPackets.connect(MqttPackets.MQTT_3_1_1, id).cleanStart(false), false);

        connectRaw(MqttPackets.connect(MqttPackets.MQTT_3_1_1, id).cleanStart(false), true);

        assertThat(old.awaitClosed(PACKET)).as("old 3.1.1 connection not closed after takeover").isTrue();
        assertThatThrownBy(() -> old.receiveWithin(Duration.ofMillis(100)))
                .as("old 3.1.1 connection received a packet before the close")
                .isInstanceOf(EOFException.class);
        assertOneLiveConnection(id);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static String willTopic(String id) {
        return "wills/" + id;
    }

    private static byte[] payload(String id) {
        return id.getBytes(StandardCharsets.UTF_8);
    }

    private static void disconnectQuietly(Mqtt5BlockingClient c) {
        if (c.getState().isConnected()) {
            c.disconnect();
        }
    }

    /** Exactly one live connection per Client Identifier, observed in SQL, and still so a second later. */
    private void assertOneLiveConnection(String id) {
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> assertThat(sql.count(LIVE_CONNECTIONS, id)).isEqualTo(1));
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(sql.count(LIVE_CONNECTIONS, id)).isEqualTo(1));
    }

    /** A second client subscribed (QoS 1) to the will topic of {@code id}; its stream of received publishes. */
    private Mqtt5Publishes observeWills(String id) {
        Mqtt5BlockingClient observer = TestClients.mqtt5(listener.port(), TestClients.uniqueId("observer"));
        observer.connect();
        open.add(() -> disconnectQuietly(observer));
        Mqtt5Publishes publishes = observer.publishes(MqttGlobalPublishFilter.ALL);
        observer.subscribeWith().topicFilter(willTopic(id)).qos(MqttQos.AT_LEAST_ONCE).send();
        return publishes;
    }

    /** Publishes one QoS 1 message from a separate, short-lived client. */
    private void publish(String topic, String text) {
        Mqtt5BlockingClient publisher = TestClients.mqtt5(listener.port(), TestClients.uniqueId("publisher"));
        publisher.connect();
        try {
            publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload(text.getBytes(StandardCharsets.UTF_8))
                    .send();
        } finally {
            publisher.disconnect();
        }
    }

    /** SUBSCRIBE (QoS 0, so no acknowledgements are needed on the raw connection) and a granted SUBACK. */
    private static void subscribe(RawMqttClient raw, String filter) throws IOException {
        raw.send(MqttPackets.subscribe(1, filter, 0, MqttPackets.MQTT_5, null));
        ReceivedPacket suback = raw.receive(PACKET);
        assertThat(suback.type()).as("expected SUBACK, got %s", suback).isEqualTo(MqttPackets.SUBACK);
        assertThat(suback.subackReasonCodes(MqttPackets.MQTT_5)).containsExactly(0);
    }

    /** Opens a raw connection, sends the CONNECT and asserts a successful CONNACK with the given Session Present. */
    private RawMqttClient connectRaw(MqttPackets.ConnectBuilder connect, boolean sessionPresent) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(raw);
        raw.send(connect.build());
        ReceivedPacket connack = raw.receive(PACKET);
        assertThat(connack.type()).as("expected CONNACK, got %s", connack).isEqualTo(MqttPackets.CONNACK);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).as("Session Present").isEqualTo(sessionPresent);
        return raw;
    }
}
