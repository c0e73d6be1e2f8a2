package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every write of a session's holder is fenced by {@code sessions.connection_id} (docs/design/replicas.md §2.5): once
 * the session row names another connection (here changed with SQL, as a takeover by another replica would), PostgreSQL
 * refuses the old connection's writes. For each holder event, the old connection then does the thing that writes it;
 * the test checks that PostgreSQL kept what it held, that the client got DISCONNECT 0x8E (Session taken over) instead
 * of the acknowledgement, that its will was not published and its session not closed, and that the refusal was
 * counted in {@code tether.cluster.fenced.writes}.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class HolderFencingTest {

    private static final Duration PACKET = Duration.ofSeconds(10);
    /** How long a watcher waits for a will that must not come. */
    private static final Duration NO_WILL_WINDOW = Duration.ofSeconds(1);
    private static final int V5 = MqttPackets.MQTT_5;
    private static final int SESSION_TAKEN_OVER = 0x8E;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    MeterRegistry registry;

    private Sql sql;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<String> clientIds = new ArrayList<>();

    /** A durable MQTT 5 session with a will, and a watcher subscribed to the will's topic. */
    private record Holder(String id, RawMqttClient client, RawMqttClient watcher) {
    }

    @BeforeEach
    void setUp() {
        sql = new Sql(dataSource);
    }

    @AfterEach
    void cleanUp() {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closed by the test or the broker
            }
        }
        open.clear();
        clientIds.forEach(id -> sql.update("DELETE FROM sessions WHERE client_id = ?", id));
        clientIds.clear();
    }

    // ---- messages to the client -----------------------------------------------------------------

    @Test
    void puback_whenSessionRowNamesAnotherConnection_thenQueuedRowStaysAndClientDisconnected() throws Exception {
        Holder h = holder("fence-ack");
        String topic = "fence/ack/" + h.id();
        subscribe(h.client(), topic, 1);
        publish(topic, MqttQos.AT_LEAST_ONCE);
        ReceivedPacket p = h.client().receive(PACKET);
        assertThat(p.type()).isEqualTo(MqttPackets.PUBLISH);
        await().atMost(PACKET).untilAsserted(() -> assertThat(sql.count(
                "SELECT count(*) FROM queued_messages WHERE client_id = ? AND state = 'sent'", h.id())).isOne());
        double before = fencedWrites("MessageAcknowledged");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.puback(p.publishPacketId(), V5, 0));

        assertFencedOut(h, "MessageAcknowledged", before);
        assertThat(sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", h.id()))
                .as("the acknowledged message stays queued for the session's holder").isOne();
    }

    @Test
    void qos2Delivery_whenSessionRowNamesAnotherConnection_thenPublishNotSentAndRowStaysQueued() throws Exception {
        Holder h = holder("fence-sent");
        String topic = "fence/sent/" + h.id();
        subscribe(h.client(), topic, 2);
        double before = fencedWrites("MessageSent");

        takeOverInSql(h.id());
        // Queued for the session by anyone (not fenced); this connection's MessageSent is, and it precedes PUBLISH.
        publish(topic, MqttQos.EXACTLY_ONCE);

        assertFencedOut(h, "MessageSent", before);
        assertThat(sql.rows("SELECT state, packet_id FROM queued_messages WHERE client_id = ?", h.id()))
                .singleElement().satisfies(r -> {
                    assertThat(r.get("state")).isEqualTo("queued");
                    assertThat(r.get("packet_id")).isNull();
                });
    }

    @Test
    void pubrec_whenSessionRowNamesAnotherConnection_thenNoPubrelAndRowStaysSent() throws Exception {
        Holder h = holder("fence-rel");
        String topic = "fence/rel/" + h.id();
        subscribe(h.client(), topic, 2);
        publish(topic, MqttQos.EXACTLY_ONCE);
        ReceivedPacket p = h.client().receive(PACKET);
        assertThat(p.type()).isEqualTo(MqttPackets.PUBLISH);
        double before = fencedWrites("MessageReleased");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.pubrec(p.publishPacketId(), V5, 0));

        assertFencedOut(h, "MessageReleased", before);
        assertThat(sql.rows("SELECT state FROM queued_messages WHERE client_id = ?", h.id()))
                .singleElement().satisfies(r -> assertThat(r.get("state")).isEqualTo("sent"));
    }

    // ---- QoS 2 from the client ------------------------------------------------------------------

    @Test
    void qos2Publish_whenSessionRowNamesAnotherConnection_thenNoReceiptAndNothingQueued() throws Exception {
        String subscriberId = TestClients.uniqueId("fence-q2sub");
        clientIds.add(subscriberId);
        RawMqttClient sub = connect(MqttPackets.connect(subscriberId).sessionExpiry(300L));
        String topic = "fence/q2/" + subscriberId;
        subscribe(sub, topic, 2);
        sub.send(MqttPackets.disconnect(V5, 0, null)); // an offline durable subscriber: copies go to PostgreSQL
        assertThat(sub.awaitClosed(PACKET)).isTrue();
        await().atMost(PACKET).untilAsserted(() -> assertThat(sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", subscriberId)).isOne());
        Holder h = holder("fence-q2pub");
        double before = fencedWrites("MessagesQueued");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.publish(V5, topic, 2, false, false, 7, bytes("fenced"), null));

        assertFencedOut(h, "MessagesQueued", before);
        assertThat(sql.count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ?", h.id())).isZero();
        assertThat(sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", subscriberId))
                .as("the message of a refused receipt is not routed to the durable subscriber").isZero();
    }

    @Test
    void qos2Publish_whenNobodySubscribedAndSessionRowNamesAnotherConnection_thenNoReceipt() throws Exception {
        Holder h = holder("fence-q2alone");
        double before = fencedWrites("InboundQos2Received");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.publish(V5, "fence/q2alone/" + h.id(), 2, false, false, 7, bytes("x"), null));

        assertFencedOut(h, "InboundQos2Received", before);
        assertThat(sql.count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ?", h.id())).isZero();
    }

    @Test
    void pubrel_whenSessionRowNamesAnotherConnection_thenNoPubcompAndReceiptStays() throws Exception {
        Holder h = holder("fence-pubrel");
        h.client().send(MqttPackets.publish(V5, "fence/pubrel/" + h.id(), 2, false, false, 9, bytes("x"), null));
        assertThat(h.client().receive(PACKET).type()).isEqualTo(MqttPackets.PUBREC);
        assertThat(sql.count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ? AND packet_id = 9",
                h.id())).isOne();
        double before = fencedWrites("InboundQos2Released");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.pubrel(9, V5, 0));

        assertFencedOut(h, "InboundQos2Released", before);
        assertThat(sql.count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ? AND packet_id = 9",
                h.id())).isOne();
    }

    // ---- subscriptions --------------------------------------------------------------------------

    @Test
    void subscribe_whenSessionRowNamesAnotherConnection_thenNoSubscriptionRowAndNoSuback() throws Exception {
        Holder h = holder("fence-sub");
        double before = fencedWrites("Subscribed");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.subscribe(1, "fence/sub/" + h.id(), 1, V5, null));

        assertFencedOut(h, "Subscribed", before);
        assertThat(sql.count("SELECT count(*) FROM subscriptions WHERE client_id = ?", h.id())).isZero();
    }

    @Test
    void unsubscribe_whenSessionRowNamesAnotherConnection_thenSubscriptionRowStaysAndNoUnsuback() throws Exception {
        Holder h = holder("fence-unsub");
        String filter = "fence/unsub/" + h.id();
        subscribe(h.client(), filter, 1);
        double before = fencedWrites("Unsubscribed");

        takeOverInSql(h.id());
        h.client().send(MqttPackets.unsubscribe(2, V5, filter));

        assertFencedOut(h, "Unsubscribed", before);
        assertThat(sql.count("SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?",
                h.id(), filter)).isOne();
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private Holder holder(String prefix) throws IOException {
        String id = TestClients.uniqueId(prefix);
        clientIds.add(id);
        String willTopic = "fence/will/" + id;
        RawMqttClient watcher = connect(MqttPackets.connect(TestClients.uniqueId("fence-watch")));
        subscribe(watcher, willTopic, 0);
        RawMqttClient client = connect(MqttPackets.connect(id).sessionExpiry(300L)
                .will(willTopic, bytes("will of " + id), 0, false));
        return new Holder(id, client, watcher);
    }

    /** What a takeover by a connection on another replica leaves in PostgreSQL: the row names that connection. */
    private void takeOverInSql(String id) {
        assertThat(sql.update("UPDATE sessions SET connection_id = gen_random_uuid() WHERE client_id = ?", id)).isOne();
    }

    /**
     * The holder's next packet is DISCONNECT 0x8E (no acknowledgement before it), then the connection closes; its will
     * is not published; its session was not closed (still connected, will kept, for the holder to decide); and the
     * refusal was counted.
     */
    private void assertFencedOut(Holder h, String kind, double fencedBefore) throws IOException {
        ReceivedPacket p = h.client().receive(PACKET);
        assertThat(p.type()).as("expected DISCONNECT, got %s", p).isEqualTo(MqttPackets.DISCONNECT);
        assertThat(p.disconnectReasonCode()).isEqualTo(SESSION_TAKEN_OVER);
        assertThat(h.client().awaitClosed(PACKET)).isTrue();
        assertThat(h.watcher().receiveWithin(NO_WILL_WINDOW)).as("will published").isEmpty();
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND connected "
                + "AND connection_id IS NOT NULL", h.id())).as("session closed by the fenced connection").isOne();
        assertThat(sql.count("SELECT count(*) FROM session_wills WHERE client_id = ? AND publish_at IS NULL", h.id()))
                .as("will scheduled or deleted by the fenced connection").isOne();
        assertThat(fencedWrites(kind)).isGreaterThan(fencedBefore);
    }

    private double fencedWrites(String kind) {
        FunctionCounter c = registry.find("tether.cluster.fenced.writes").tag("kind", kind).functionCounter();
        assertThat(c).as("tether.cluster.fenced.writes{kind=%s}", kind).isNotNull();
        return c.count();
    }

    private RawMqttClient connect(MqttPackets.ConnectBuilder connect) throws IOException {
        RawMqttClient c = TestClients.connectRaw(listener.port(), connect, false, PACKET);
        open.add(c);
        return c;
    }

    private static void subscribe(RawMqttClient c, String filter, int qos) throws IOException {
        c.send(MqttPackets.subscribe(1, filter, qos, V5, null));
        ReceivedPacket suback = c.receive(PACKET);
        assertThat(suback.type()).as("expected SUBACK, got %s", suback).isEqualTo(MqttPackets.SUBACK);
    }

    private void publish(String topic, MqttQos qos) {
        Mqtt5BlockingClient p = TestClients.mqtt5(listener.port(), TestClients.uniqueId("fence-pub"));
        p.connectWith().cleanStart(true).send();
        try {
            p.publishWith().topic(topic).qos(qos).payload(bytes("to " + topic)).send();
        } finally {
            p.disconnect();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
