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
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Tether's promises on failure paths (issue 8): a statement that fails once or for a while, a slow database, a
 * DISCONNECT and a CONNECT back to back. Faults are injected with PostgreSQL itself: triggers on Tether's tables
 * that raise (once, by a sequence that outlives the rolled-back transaction, or while a flag row exists) or sleep,
 * each limited to the test's own Client Identifier.
 */
@QuarkusTest
@TestProfile(FailurePathsTest.Profile.class)
@WithTestResource(PostgresResource.class)
class FailurePathsTest {

    /** A CONNECT waits at most 2 s for PostgreSQL before it is refused with 0x88. */
    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.store.connect-timeout", "2s");
        }
    }

    private static final Duration PACKET = Duration.ofSeconds(10);
    private static final Duration NOT_DELIVERED_WINDOW = Duration.ofMillis(1500);
    private static final int V5 = MqttPackets.MQTT_5;
    private static final int V311 = 4;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private Sql sql;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<String> triggers = new ArrayList<>();

    @BeforeEach
    void faults() {
        sql = new Sql(dataSource);
        sql.update("CREATE TABLE IF NOT EXISTS test_faults (name text PRIMARY KEY)");
        // Raises while a flag row names the fault.
        sql.update("CREATE OR REPLACE FUNCTION test_fault_while_flagged() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN IF EXISTS (SELECT 1 FROM test_faults WHERE name = TG_ARGV[0]) THEN "
                + "RAISE EXCEPTION 'injected fault %', TG_ARGV[0]; END IF; "
                + "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$");
        // Raises the first time only: a sequence is not rolled back with the failed transaction.
        sql.update("CREATE OR REPLACE FUNCTION test_fault_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN IF nextval(TG_ARGV[0]::regclass) = 1 THEN RAISE EXCEPTION 'injected fault %', TG_ARGV[0]; "
                + "END IF; IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$");
        // Sleeps: a slow database for one statement.
        sql.update("CREATE OR REPLACE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN PERFORM pg_sleep(TG_ARGV[0]::double precision); "
                + "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$");
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
        for (String t : triggers) {
            sql.update("DROP TRIGGER IF EXISTS " + t);
        }
        triggers.clear();
        sql.update("DELETE FROM test_faults");
    }

    /** A trigger {@code name} on {@code table}: {@code timing} e.g. "BEFORE UPDATE", {@code when} a condition. */
    private void trigger(String name, String timing, String table, String when, String function) {
        sql.update("CREATE TRIGGER " + name + " " + timing + " ON " + table + " FOR EACH ROW WHEN (" + when
                + ") EXECUTE FUNCTION " + function);
        triggers.add(name + " ON " + table);
    }

    private void failOnce(String name, String timing, String table, String when) {
        sql.update("CREATE SEQUENCE IF NOT EXISTS " + name + "_seq");
        trigger(name, timing, table, when, "test_fault_once('" + name + "_seq')");
    }

    // ---- 2. a failed event is retried, not dropped ----------------------------------------------

    @Test
    void close_whenItsStatementFailsOnce_thenSessionStillEndsAtItsDeadline() throws Exception {
        String id = TestClients.uniqueId("fp-close");
        failOnce("fp_close", "BEFORE UPDATE", "sessions", "NEW.client_id = '" + id + "' AND NOT NEW.connected");
        RawMqttClient c = connect(MqttPackets.connect(id).sessionExpiry(2L), false);
        c.send(MqttPackets.disconnect(V5, 0, null));

        // The close is written despite the failure: offline with a deadline, then removed at it.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND connected", id)).isZero());
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isZero());
        connect(MqttPackets.connect(id).cleanStart(false).sessionExpiry(2L), false); // Session Present 0
    }

    @Test
    void puback_whenItsDeleteFailsOnce_thenMessageNotRedeliveredOnResume() throws Exception {
        String id = TestClients.uniqueId("fp-ack");
        String topic = "fp/" + id;
        RawMqttClient sub = connect(MqttPackets.connect(id).sessionExpiry(60L), false);
        subscribe(sub, topic, 1, V5);
        failOnce("fp_ack", "BEFORE DELETE", "queued_messages", "OLD.client_id = '" + id + "'");
        publish(topic, "once", MqttQos.AT_LEAST_ONCE, false);
        ReceivedPacket p = sub.receive(PACKET);
        assertThat(p.type()).isEqualTo(MqttPackets.PUBLISH);
        sub.send(MqttPackets.puback(p.publishPacketId(), V5, 0));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id)).isZero());
        sub.send(MqttPackets.disconnect(V5, 0, null));
        assertThat(sub.awaitClosed(PACKET)).isTrue();

        RawMqttClient again = connect(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L), true);
        assertThat(again.receiveWithin(NOT_DELIVERED_WINDOW)).as("acknowledged message sent again").isEmpty();
    }

    // ---- 1. QoS 2: the Packet Identifier and the routing commit together -------------------------

    @Test
    void qos2Publish_whenRoutingFailsUntilReconnect_thenClientResendIsRoutedOnce() throws Exception {
        String publisherId = TestClients.uniqueId("fp-q2pub");
        String subscriberId = TestClients.uniqueId("fp-q2sub");
        String topic = "fp/q2/" + publisherId;
        RawMqttClient sub = connect(MqttPackets.connect(V311, subscriberId).cleanStart(false), false);
        subscribe(sub, topic, 2, V311);
        sub.close(); // offline durable subscriber: the message must be queued in PostgreSQL
        await().atMost(PACKET).untilAsserted(() -> assertThat(
                sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", subscriberId)).isOne());

        sql.update("INSERT INTO test_faults VALUES ('fp_q2')");
        trigger("fp_q2", "BEFORE INSERT", "queued_messages", "NEW.client_id = '" + subscriberId + "'",
                "test_fault_while_flagged('fp_q2')");
        RawMqttClient pub = connect(MqttPackets.connect(V311, publisherId).cleanStart(false), false);
        byte[] publish = MqttPackets.publish(V311, topic, 2, false, false, 7, bytes("exactly-once"), null);
        pub.send(publish);
        // 3.1.1 has no negative PUBREC: a message that cannot be stored closes the connection, without PUBREC.
        assertThat(pub.awaitClosed(PACKET)).as("publisher closed after the write gave up").isTrue();
        assertThat(sql.count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ?", publisherId)).isZero();

        sql.update("DELETE FROM test_faults");
        RawMqttClient again = connect(MqttPackets.connect(V311, publisherId).cleanStart(false), true);
        again.send(MqttPackets.publish(V311, topic, 2, false, true, 7, bytes("exactly-once"), null)); // DUP 1
        assertThat(again.receive(PACKET).type()).isEqualTo(MqttPackets.PUBREC);
        again.send(MqttPackets.pubrel(7, V311, 0));
        assertThat(again.receive(PACKET).type()).isEqualTo(MqttPackets.PUBCOMP);

        RawMqttClient back = connect(MqttPackets.connect(V311, subscriberId).cleanStart(false), true);
        ReceivedPacket delivered = back.receive(PACKET);
        assertThat(delivered.type()).isEqualTo(MqttPackets.PUBLISH);
        assertThat(delivered.publishPayloadUtf8(V311)).isEqualTo("exactly-once");
        back.send(MqttPackets.pubrec(delivered.publishPacketId(), V311, 0));
        assertThat(back.receive(PACKET).type()).isEqualTo(MqttPackets.PUBREL);
        back.send(MqttPackets.pubcomp(delivered.publishPacketId(), V311, 0));
        assertThat(back.receiveWithin(NOT_DELIVERED_WINDOW)).as("delivered twice").isEmpty();
    }

    // ---- 7. QoS 2 towards a client: the Packet Identifier is committed before PUBLISH, the release before PUBREL

    @Test
    void qos2Delivery_whenPublishAndPubrelArrive_thenTheirStateIsAlreadyCommitted() throws Exception {
        String id = TestClients.uniqueId("fp-q2out");
        String topic = "fp/q2out/" + id;
        RawMqttClient sub = connect(MqttPackets.connect(id).sessionExpiry(60L), false);
        subscribe(sub, topic, 2, V5);
        trigger("fp_slow_sent", "BEFORE UPDATE", "queued_messages",
                "NEW.client_id = '" + id + "' AND NEW.state IS DISTINCT FROM OLD.state", "test_slow('1')");

        publish(topic, "q2", MqttQos.EXACTLY_ONCE, false);
        ReceivedPacket p = sub.receive(PACKET);
        assertThat(p.type()).isEqualTo(MqttPackets.PUBLISH);
        List<Map<String, Object>> row = sql.rows("SELECT state, packet_id FROM queued_messages WHERE client_id = ?", id);
        assertThat(row).singleElement().satisfies(r -> {
            assertThat(r.get("state")).as("state when PUBLISH arrived").isEqualTo("sent");
            assertThat(r.get("packet_id")).isEqualTo(p.publishPacketId());
        });

        sub.send(MqttPackets.pubrec(p.publishPacketId(), V5, 0));
        ReceivedPacket pubrel = sub.receive(PACKET);
        assertThat(pubrel.type()).isEqualTo(MqttPackets.PUBREL);
        assertThat(sql.rows("SELECT state FROM queued_messages WHERE client_id = ?", id))
                .singleElement().satisfies(r -> assertThat(r.get("state")).as("state when PUBREL arrived")
                        .isEqualTo("released"));
        sub.send(MqttPackets.pubcomp(p.publishPacketId(), V5, 0));
    }

    // ---- 3. DISCONNECT and CONNECT back to back --------------------------------------------------

    @Test
    void connect_whenSentRightAfterDisconnectOfExpiryZeroSession_thenSessionIsNotPresent() throws Exception {
        String id = TestClients.uniqueId("fp-race");
        for (int i = 0; i < 20; i++) {
            RawMqttClient a = connect(MqttPackets.connect(id).sessionExpiry(0L), false);
            subscribe(a, "fp/race/" + id, 1, V5);
            RawMqttClient b = RawMqttClient.connect("127.0.0.1", listener.port());
            open.add(b);
            a.send(MqttPackets.disconnect(V5, 0, null));
            b.send(MqttPackets.connect(id).cleanStart(false).build());
            ReceivedPacket connack = b.receive(PACKET);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).as("try %d: ended session resumed", i).isFalse();
            b.send(MqttPackets.disconnect(V5, 0, null));
            assertThat(b.awaitClosed(PACKET)).isTrue();
        }
    }

    @Test
    void will_whenNormalDisconnectAndNewConnectBackToBack_thenNotPublished() throws Exception {
        String id = TestClients.uniqueId("fp-will0");
        String willTopic = "fp/will/" + id;
        RawMqttClient watcher = connect(MqttPackets.connect(TestClients.uniqueId("fp-watch")), false);
        subscribe(watcher, willTopic, 0, V5);
        for (int i = 0; i < 10; i++) {
            RawMqttClient a = connect(MqttPackets.connect(id).sessionExpiry(60L)
                    .will(willTopic, bytes("will " + i), 0, false), false);
            RawMqttClient b = RawMqttClient.connect("127.0.0.1", listener.port());
            open.add(b);
            a.send(MqttPackets.disconnect(V5, 0, null)); // 0x00: the will is deleted [MQTT-3.14.4-3]
            b.send(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L).build());
            assertThat(b.receive(PACKET).connackReasonCode()).isZero();
            b.send(MqttPackets.disconnect(V5, 0, null));
            assertThat(b.awaitClosed(PACKET)).isTrue();
        }
        assertThat(watcher.receiveWithin(NOT_DELIVERED_WINDOW)).as("a deleted will was published").isEmpty();
    }

    @Test
    void will_whenConnectionDropsAndNewConnectFollowsAtOnce_thenPublishedExactlyOnce() throws Exception {
        String id = TestClients.uniqueId("fp-will1");
        String willTopic = "fp/will/" + id;
        RawMqttClient watcher = connect(MqttPackets.connect(TestClients.uniqueId("fp-watch")), false);
        subscribe(watcher, willTopic, 0, V5);
        int tries = 10;
        for (int i = 0; i < tries; i++) {
            RawMqttClient a = connect(MqttPackets.connect(id).sessionExpiry(60L)
                    .will(willTopic, bytes("will " + i), 0, false), false);
            RawMqttClient b = RawMqttClient.connect("127.0.0.1", listener.port());
            open.add(b);
            a.closeAbruptly(); // network drop: the will is due
            b.send(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L).build());
            assertThat(b.receive(PACKET).connackReasonCode()).isZero();
            b.send(MqttPackets.disconnect(V5, 0, null));
            assertThat(b.awaitClosed(PACKET)).isTrue();
        }
        List<String> wills = new ArrayList<>();
        for (int i = 0; i < tries; i++) {
            ReceivedPacket p = watcher.receive(PACKET);
            assertThat(p.type()).isEqualTo(MqttPackets.PUBLISH);
            wills.add(p.publishPayloadUtf8(V5));
        }
        assertThat(wills).containsExactlyInAnyOrderElementsOf(
                java.util.stream.IntStream.range(0, tries).mapToObj(i -> "will " + i).toList());
        assertThat(watcher.receiveWithin(NOT_DELIVERED_WINDOW)).as("a will published twice").isEmpty();
    }

    // ---- 4. a CONNECT refused for a slow database leaves no connected row ------------------------

    @Test
    void connect_whenRefusedBecauseDatabaseIsSlow_thenSessionIsNotLeftConnected() throws Exception {
        String id = TestClients.uniqueId("fp-slow");
        trigger("fp_slow_open", "BEFORE INSERT OR UPDATE", "sessions", "NEW.client_id = '" + id + "' AND NEW.connected",
                "test_slow('4')");
        RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(c);
        c.send(MqttPackets.connect(id).cleanStart(false).sessionExpiry(60L).build());
        ReceivedPacket connack = c.receive(PACKET);
        assertThat(connack.connackReasonCode()).isEqualTo(0x88); // Server unavailable
        assertThat(connack.connackSessionPresent()).isFalse();

        // Once the slow statement is over, PostgreSQL holds no connection for the refused client.
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(sql.count(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")).isZero());
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND connected", id)).isZero());
    }

    // ---- 8. Clean Start 1 ends the old session at CONNECT; retained messages in publish order -----

    @Test
    void connect_whenCleanStartOpensSlowly_thenMessagesForTheOldSessionAreNotDelivered() throws Exception {
        String id = TestClients.uniqueId("fp-clean");
        String topic = "fp/clean/" + id;
        RawMqttClient old = connect(MqttPackets.connect(id).sessionExpiry(60L), false);
        subscribe(old, topic, 1, V5);
        old.send(MqttPackets.disconnect(V5, 0, null));
        assertThat(old.awaitClosed(PACKET)).isTrue();
        await().atMost(PACKET).untilAsserted(() -> assertThat(
                sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", id)).isOne());

        trigger("fp_slow_clean", "BEFORE INSERT OR UPDATE", "sessions", "NEW.client_id = '" + id + "' AND NEW.connected",
                "test_slow('1')");
        RawMqttClient fresh = RawMqttClient.connect("127.0.0.1", listener.port());
        open.add(fresh);
        fresh.send(MqttPackets.connect(id).cleanStart(true).sessionExpiry(60L).build());
        await().atMost(PACKET).untilAsserted(() -> assertThat(sql.count(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")).isPositive());
        publish(topic, "for the old session", MqttQos.AT_LEAST_ONCE, false); // after the CONNECT, before CONNACK

        ReceivedPacket connack = fresh.receive(PACKET);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isFalse();
        assertThat(fresh.receiveWithin(NOT_DELIVERED_WINDOW)).as("message of the discarded session").isEmpty();
    }

    @Test
    void retained_whenQos2ThenQos0RetainedBackToBack_thenTheLaterOneIsRetained() throws Exception {
        String id = TestClients.uniqueId("fp-ret");
        String topic = "fp/retained/" + id;
        RawMqttClient pub = connect(MqttPackets.connect(id).sessionExpiry(60L), false);
        pub.send(MqttPackets.concat(
                MqttPackets.publish(V5, topic, 2, true, false, 1, bytes("older"), null),
                MqttPackets.publish(V5, topic, 0, true, false, 0, bytes("newer"), null)));
        assertThat(pub.receive(PACKET).type()).isEqualTo(MqttPackets.PUBREC);
        await().atMost(PACKET).untilAsserted(() -> assertThat(sql.rows(
                "SELECT convert_from(payload, 'UTF8') AS payload FROM retained_messages WHERE topic = ?", topic))
                .singleElement().satisfies(r -> assertThat(r.get("payload")).isEqualTo("newer")));

        RawMqttClient reader = connect(MqttPackets.connect(TestClients.uniqueId("fp-reader")), false);
        reader.send(MqttPackets.subscribe(1, topic, 0, V5, null));
        assertThat(reader.receive(PACKET).type()).isEqualTo(MqttPackets.SUBACK);
        ReceivedPacket retained = reader.receive(PACKET);
        assertThat(retained.publishPayloadUtf8(V5)).isEqualTo("newer");
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Connects a raw client and checks CONNACK: success with the expected Session Present. */
    private RawMqttClient connect(MqttPackets.ConnectBuilder connect, boolean sessionPresent) throws IOException {
        RawMqttClient c = TestClients.connectRaw(listener.port(), connect, sessionPresent, PACKET);
        open.add(c);
        return c;
    }

    private static void subscribe(RawMqttClient c, String filter, int qos, int version) throws IOException {
        c.send(MqttPackets.subscribe(1, filter, qos, version, null));
        ReceivedPacket suback = c.receive(PACKET);
        assertThat(suback.type()).as("expected SUBACK, got %s", suback).isEqualTo(MqttPackets.SUBACK);
    }

    private void publish(String topic, String text, MqttQos qos, boolean retain) {
        Mqtt5BlockingClient p = TestClients.mqtt5(listener.port(), TestClients.uniqueId("fp-pub"));
        p.connectWith().cleanStart(true).send();
        try {
            p.publishWith().topic(topic).qos(qos).retain(retain).payload(bytes(text)).send();
        } finally {
            p.disconnect();
        }
    }
}
