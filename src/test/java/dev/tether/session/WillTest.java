package dev.tether.session;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient.Mqtt5Publishes;
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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Will Messages end to end (MQTT 5.0 §3.1.2.5, §3.1.3.2, §3.14.4; 3.1.1 §3.1.2.5): the client whose will is tested is a
 * {@link RawMqttClient}, so it can drop without DISCONNECT; a second (HiveMQ) client subscribed to the will topic observes
 * what the broker publishes.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class WillTest {

    /** Bound for a will that must arrive "promptly". */
    private static final Duration PROMPT = Duration.ofSeconds(3);
    /** Bound for reading one packet on a raw connection. */
    private static final Duration PACKET = Duration.ofSeconds(5);
    /** Window in which a will that must not be published is looked for. */
    private static final long NO_WILL_WINDOW_MILLIS = 1500;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeClients() throws Exception {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception ignored) {
                // already closed by the test or the broker
            }
        }
        open.clear();
    }

    // ---- will delay 0 / drop ---------------------------------------------------------------------

    @Test
    void drop_whenWillDelayZero_thenWillPublishedPromptly() throws Exception {
        // [MQTT-3.1.2-8]
        String id = TestClients.uniqueId("will-now");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false)
                .willDelay(0L));

        raw.closeAbruptly();

        Mqtt5Publish will = observed.receive(PROMPT.toMillis(), MILLISECONDS).orElseThrow(
                () -> new AssertionError("no will within " + PROMPT));
        assertThat(will.getTopic().toString()).isEqualTo(willTopic(id));
        assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        // [MQTT-3.1.2-10] once published the will is removed from the session, which itself lives on (expiry 60).
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero());
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isEqualTo(1);
    }

    // ---- will delay --------------------------------------------------------------------------------

    @Test
    void drop_whenWillDelayTwoSeconds_thenWillPendingInSqlAndPublishedAfterDelay() throws Exception {
        // [MQTT-3.1.2-8] published once the Will Delay Interval has passed; [MQTT-3.1.2-10] then removed.
        String id = TestClients.uniqueId("will-delay");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false)
                .willDelay(2L));

        raw.closeAbruptly();
        long droppedAt = System.nanoTime();

        // While pending, the will is visible in SQL with the moment it is due (about 2 s after the drop).
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(1)).untilAsserted(() -> assertThat(sql.rows(
                "SELECT publish_at FROM session_wills WHERE client_id = ? AND publish_at IS NOT NULL", id)).hasSize(1));
        Map<String, Object> pending = sql.rows("SELECT extract(epoch FROM publish_at - disconnected_at) AS delay, "
                + "extract(epoch FROM publish_at - now()) AS due_in "
                + "FROM session_wills JOIN sessions USING (client_id) WHERE client_id = ?", id).get(0);
        assertThat(((Number) pending.get("delay")).doubleValue()).isBetween(1.9, 2.1);
        assertThat(((Number) pending.get("due_in")).doubleValue()).isGreaterThan(0.5);

        // Not within the first 1.5 s after the drop (the window covers at least 1 s) ...
        long windowLeft = 1500 - elapsedMillis(droppedAt);
        assertThat(windowLeft).as("SQL check left less than 1 s of the no-will window").isGreaterThanOrEqualTo(500);
        assertThat(observed.receive(windowLeft, MILLISECONDS)).as("will published before its delay").isEmpty();
        // ... but after about 2 s (bounded: 6 s from the drop).
        Optional<Mqtt5Publish> will = observed.receive(6000 - elapsedMillis(droppedAt), MILLISECONDS);
        long publishedAfter = elapsedMillis(droppedAt);
        assertThat(will).as("will not published within 6 s of the drop").isPresent();
        assertThat(publishedAfter).as("will published %d ms after the drop", publishedAfter).isGreaterThanOrEqualTo(1800);
        assertThat(new String(will.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero());
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isEqualTo(1);
    }

    @Test
    void drop_whenSessionEndsBeforeWillDelay_thenWillPublishedAtSessionEnd() throws Exception {
        // [MQTT-3.1.2-8] the earlier of the Will Delay Interval (10 s) and the session's end (2 s).
        String id = TestClients.uniqueId("will-expiry");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(2L).will(willTopic(id), payload(id), 1, false)
                .willDelay(10L));

        raw.closeAbruptly();
        long droppedAt = System.nanoTime();

        Optional<Mqtt5Publish> will = observed.receive(6000, MILLISECONDS);
        long publishedAfter = elapsedMillis(droppedAt);
        assertThat(will).as("will not published at session end (within 6 s of the drop)").isPresent();
        assertThat(publishedAfter).as("will published %d ms after the drop", publishedAfter).isGreaterThanOrEqualTo(1800);
        assertThat(new String(will.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        // [MQTT-4.1.0-2] the session is gone with its will.
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isZero();
            assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero();
        });
    }

    // ---- DISCONNECT ------------------------------------------------------------------------------

    @Test
    void disconnect_whenReasonNormal_thenWillDeletedAndNotPublished() throws Exception {
        // [MQTT-3.14.4-3] [MQTT-3.1.2-10]
        String id = TestClients.uniqueId("will-normal");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false));
        Sql sql = new Sql(dataSource);
        assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isEqualTo(1);

        raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0x00, null));
        assertThat(raw.awaitClosed(PACKET)).isTrue();

        assertThat(observed.receive(NO_WILL_WINDOW_MILLIS, MILLISECONDS)).as("will published after DISCONNECT 0x00").isEmpty();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero());
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", id)).isEqualTo(1);
    }

    @Test
    void disconnect_whenReasonDisconnectWithWill_thenWillPublished() throws Exception {
        // [MQTT-3.14.4-3] reason 0x04 (Disconnect with Will Message); [MQTT-3.1.2-8]
        String id = TestClients.uniqueId("will-04");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false));

        raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0x04, null));
        assertThat(raw.awaitClosed(PACKET)).isTrue();

        Mqtt5Publish will = observed.receive(PROMPT.toMillis(), MILLISECONDS).orElseThrow(
                () -> new AssertionError("no will within " + PROMPT + " after DISCONNECT 0x04"));
        assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
    }

    // ---- returning within the will delay -----------------------------------------------------------

    @Test
    void reconnect_whenCleanStartZeroWithinWillDelay_thenWillNeverPublished() throws Exception {
        // [MQTT-3.1.3-9] [MQTT-3.1.2-8] [MQTT-3.1.2-5]
        String id = TestClients.uniqueId("will-back");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false)
                .willDelay(3L));

        raw.closeAbruptly();
        long droppedAt = System.nanoTime();
        RawMqttClient back = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(back);
        back.send(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L).build());
        ReceivedPacket connack = back.receive(PACKET);
        assertThat(elapsedMillis(droppedAt)).as("reconnect took too long").isLessThan(1000);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isTrue();

        // Past the 3 s delay (and the expiry job's 1 s period): still nothing.
        long window = 4000 - elapsedMillis(droppedAt);
        assertThat(observed.receive(window, MILLISECONDS)).as("will published although the client came back").isEmpty();
        Sql sql = new Sql(dataSource);
        assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero();
        back.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0x00, null));
    }

    @Test
    void reconnect_whenCleanStartOneWithinWillDelay_thenOldSessionEndsAndWillPublished() throws Exception {
        // Tether's choice (SESSIONS.md "Will and session end"); [MQTT-3.1.2-4]
        String id = TestClients.uniqueId("will-clean");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).sessionExpiry(60L).will(willTopic(id), payload(id), 1, false)
                .willDelay(5L));

        raw.closeAbruptly();
        long droppedAt = System.nanoTime();
        // The drop must be recorded before the new CONNECT, else there is no pending will yet.
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(sql.count(
                "SELECT count(*) FROM session_wills WHERE client_id = ? AND publish_at IS NOT NULL", id)).isEqualTo(1));
        RawMqttClient back = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(back);
        back.send(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L).build());
        ReceivedPacket connack = back.receive(PACKET);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isFalse();

        Optional<Mqtt5Publish> will = observed.receive(PROMPT.toMillis(), MILLISECONDS);
        assertThat(will).as("old will not published after Clean Start 1").isPresent();
        assertThat(elapsedMillis(droppedAt)).as("will waited for its delay instead of the session's end").isLessThan(4500);
        assertThat(new String(will.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
        assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ?", id)).isZero();
        back.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0x00, null));
    }

    // ---- keep alive ------------------------------------------------------------------------------

    @Test
    void keepAlive_whenClientSilentForOneAndAHalfKeepAlive_thenDisconnect8DAndWillPublished() throws Exception {
        // [MQTT-3.1.2-22] 1.5 x Keep Alive; DISCONNECT 0x8D (Keep Alive timeout); [MQTT-3.1.2-8]
        String id = TestClients.uniqueId("will-ka");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(id).keepAlive(1).sessionExpiry(0L)
                .will(willTopic(id), payload(id), 1, false));
        long connectedAt = System.nanoTime();

        ReceivedPacket disconnect = raw.receive(Duration.ofSeconds(4));
        long closedAfter = elapsedMillis(connectedAt);
        assertThat(disconnect.type()).as("expected DISCONNECT, got %s", disconnect).isEqualTo(MqttPackets.DISCONNECT);
        assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x8D);
        // [MQTT-3.14.2-2] no Session Expiry Interval in a server DISCONNECT.
        assertThat(disconnect.disconnectProperties().has(MqttPackets.SESSION_EXPIRY_INTERVAL)).isFalse();
        assertThat(closedAfter).as("closed %d ms after CONNACK", closedAfter).isBetween(1300L, 3000L);
        assertThat(raw.awaitClosed(PACKET)).isTrue();

        Mqtt5Publish will = observed.receive(PROMPT.toMillis(), MILLISECONDS).orElseThrow(
                () -> new AssertionError("no will after keep alive timeout"));
        assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
    }

    // ---- MQTT 3.1.1 ------------------------------------------------------------------------------

    @Test
    void drop_whenMqtt311ClientWithWill_thenWillPublished() throws Exception {
        // MQTT 3.1.1 [MQTT-3.1.2-8] (3.1.1 numbering): the will is published when the connection closes without DISCONNECT.
        String id = TestClients.uniqueId("will-311");
        Mqtt5Publishes observed = observeWills(id);
        RawMqttClient raw = connectRaw(MqttPackets.connect(MqttPackets.MQTT_3_1_1, id).cleanStart(false)
                .will(willTopic(id), payload(id), 1, false));

        raw.closeAbruptly();

        Mqtt5Publish will = observed.receive(PROMPT.toMillis(), MILLISECONDS).orElseThrow(
                () -> new AssertionError("no 3.1.1 will within " + PROMPT));
        assertThat(will.getTopic().toString()).isEqualTo(willTopic(id));
        assertThat(new String(will.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(id);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static String willTopic(String id) {
        return "wills/" + id;
    }

    private static byte[] payload(String id) {
        return id.getBytes(StandardCharsets.UTF_8);
    }

    private static long elapsedMillis(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1_000_000;
    }

    /** A second client subscribed (QoS 1) to the will topic of {@code id}; its stream of received publishes. */
    private Mqtt5Publishes observeWills(String id) {
        Mqtt5BlockingClient observer = TestClients.mqtt5(listener.port(), TestClients.uniqueId("observer"));
        observer.connect();
        Mqtt5Publishes publishes = observer.publishes(MqttGlobalPublishFilter.ALL);
        observer.subscribeWith().topicFilter(willTopic(id)).qos(MqttQos.AT_LEAST_ONCE).send();
        open.add(publishes);
        open.add(() -> {
            if (observer.getState().isConnected()) {
                observer.disconnect();
            }
        });
        return publishes;
    }

    /** Opens a raw connection, sends the CONNECT and asserts a successful CONNACK. */
    private RawMqttClient connectRaw(MqttPackets.ConnectBuilder connect) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(raw);
        raw.send(connect.build());
        ReceivedPacket connack = raw.receive(PACKET);
        assertThat(connack.type()).as("expected CONNACK, got %s", connack).isEqualTo(MqttPackets.CONNACK);
        assertThat(connack.connackReasonCode()).isZero();
        return raw;
    }
}
