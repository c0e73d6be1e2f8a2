package dev.tether.session;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Session Expiry Interval (MQTT 5.0 §3.1.2.11.2, §4.1) end to end, with the deadline checked in PostgreSQL. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SessionExpiryTest {

    private static final long NEVER = 0xFFFFFFFFL;
    private static final Duration PACKET_TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void close_whenSessionExpiryIntervalAbsent_thenSessionEndsAtClose() throws Exception {
        // Session Expiry Interval absent: the session ends when the network connection closes (§3.1.2.11.2)
        // [MQTT-4.1.0-2] [MQTT-3.1.2-6] [MQTT-3.2.2-3]
        assertSessionEndsAtClose(TestClients.uniqueId("exp-absent"), null);
    }

    @Test
    void close_whenSessionExpiryIntervalZero_thenSessionEndsAtClose() throws Exception {
        // Session Expiry Interval 0: the session ends when the network connection closes (§3.1.2.11.2)
        // [MQTT-4.1.0-2] [MQTT-3.1.2-6] [MQTT-3.2.2-3]
        assertSessionEndsAtClose(TestClients.uniqueId("exp-zero"), 0L);
    }

    @Test
    void connect_whenWithinSessionExpiryInterval_thenResumedWithSessionPresentOne() throws Exception {
        // [MQTT-3.1.2-23] interval > 0 keeps the state after close; [MQTT-3.1.2-5] [MQTT-3.2.2-3] resume, Session Present 1.
        // Tether: the deadline is visible in SQL as a timestamp, closed_at + interval.
        String id = TestClients.uniqueId("exp-resume");
        String topic = "exp/resume/" + id;
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        assertThat(c.connectWith().cleanStart(false).sessionExpiryInterval(2).send().isSessionPresent()).isFalse();
        c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        Instant beforeClose = Instant.now();
        c.disconnect();

        SessionRows.Offline offline = rows.awaitOffline(id);
        assertThat(offline.expiryIntervalSeconds()).isEqualTo(2);
        assertThat(offline.expiresAt()).as("expires_at while offline").isNotNull();
        assertThat(offline.deadlineAfterCloseMillis()).isBetween(1_900L, 2_100L);
        assertThat(offline.disconnectedAt()).isBetween(beforeClose.minusSeconds(1), Instant.now().plusSeconds(1));

        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            boolean present = c.connectWith().cleanStart(false).sessionExpiryInterval(2).send().isSessionPresent();
            assertThat(Instant.now()).as("reconnected before the deadline").isBefore(offline.expiresAt());
            assertThat(present).isTrue();
            publish(topic, "after-resume");
            Optional<Mqtt5Publish> received = publishes.receive(5, SECONDS);
            assertThat(received).as("the resumed subscription delivers").isPresent();
            assertThat(new String(received.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("after-resume");
        } finally {
            c.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void expiry_whenSessionExpiryIntervalPassed_thenSessionSubscriptionsAndQueueRemovedAndSessionPresentZero() throws Exception {
        // [MQTT-4.1.0-2] state discarded once the connection closed and the interval passed;
        // Tether: removal within about one second of the deadline, never before it; [MQTT-3.2.2-3] Session Present 0.
        String id = TestClients.uniqueId("exp-ends");
        String topic = "exp/ends/" + id;
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(2).send();
        c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnect();
        SessionRows.Offline offline = rows.awaitOffline(id);
        publish(topic, "queued-while-offline");
        assertThat(rows.queuedMessages(id)).as("QoS 1 message queued for the offline session").isEqualTo(1);
        assertThat(rows.subscriptions(id)).isEqualTo(1);

        Instant goneAt = rows.awaitGone(id, Duration.ofSeconds(8));

        assertThat(goneAt).as("not removed before its deadline").isAfterOrEqualTo(offline.expiresAt().minusMillis(100));
        assertThat(goneAt).as("removed about one second after its deadline").isBefore(offline.expiresAt().plusMillis(2_500));
        assertThat(rows.subscriptions(id)).isZero();
        assertThat(rows.queuedMessages(id)).isZero();
        // A fresh client object: the HiveMQ client refuses Session Present 0 on an object that held a session.
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(0).send().isSessionPresent()).isFalse();
            assertThat(publishes.receive(1_500, MILLISECONDS)).as("queued message gone with its session").isEmpty();
        } finally {
            again.disconnect();
        }
    }

    @Test
    void close_whenSessionExpiryIntervalMax_thenSessionNeverExpires() throws Exception {
        // 0xFFFFFFFF: the session never expires (§3.1.2.11.2); [MQTT-3.1.2-5] [MQTT-3.2.2-3] still resumable.
        String id = TestClients.uniqueId("exp-never");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(NEVER).send();
        c.disconnect();

        SessionRows.Offline offline = rows.awaitOffline(id);
        assertThat(offline.expiryIntervalSeconds()).isEqualTo(NEVER);
        assertThat(offline.expiresAt()).as("expires_at of a session that never expires").isNull();

        assertThat(c.connectWith().cleanStart(false).sessionExpiryInterval(NEVER).send().isSessionPresent()).isTrue();
        c.disconnectWith().sessionExpiryInterval(0).send();
    }

    @Test
    void connection_whenSessionExpiryIntervalZeroAndConnectionOpen_thenStateKept() throws Exception {
        // [MQTT-4.1.0-1] session state is never discarded while the network connection is open, even with interval 0.
        String id = TestClients.uniqueId("exp-open");
        String topic = "exp/open/" + id;
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(true).sessionExpiryInterval(0).send();
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            rows.awaitConnected(id);
            // Several runs of the expiry job pass while connected: the session stays.
            await().during(Duration.ofMillis(2_500)).atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(200))
                    .until(() -> rows.isConnected(id));
            publish(topic, "still-subscribed");
            Optional<Mqtt5Publish> received = publishes.receive(5, SECONDS);
            assertThat(received).as("the subscription still works while connected").isPresent();
        } finally {
            c.disconnect();
        }
    }

    @Test
    void connect_whenDeadlinePassedButSessionNotYetRemoved_thenSessionPresentZero() throws Exception {
        // Tether: a session past its deadline is never resumed, even before the expiry job removed it;
        // [MQTT-4.1.0-2] [MQTT-3.1.2-6] [MQTT-3.2.2-3]
        String id = TestClients.uniqueId("exp-past");
        String topic = "exp/past/" + id;
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(3600).send();
        c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnect();
        rows.awaitOffline(id);

        assertThat(rows.sql().update("UPDATE sessions SET expires_at = now() - interval '1 second' "
                + "WHERE client_id = ? AND NOT connected", id)).isEqualTo(1);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(3600).send().isSessionPresent()).isFalse();
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            publish(topic, "old-subscription");
            assertThat(publishes.receive(1_500, MILLISECONDS)).as("the expired session's subscription is gone").isEmpty();
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void connect_whenSessionExpiryIntervalSentTwice_thenConnackProtocolErrorWithSessionPresentZero() throws Exception {
        // Session Expiry Interval included more than once: Protocol Error 0x82 (§3.1.2.11.2);
        // [MQTT-3.2.2-6] a non-zero reason code has Session Present 0, even with a session to resume.
        String id = TestClients.uniqueId("exp-twice");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(60).send();
        c.disconnect();
        rows.awaitOffline(id);

        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(60L)
                    .extraProperties(MqttPackets.property(MqttPackets.SESSION_EXPIRY_INTERVAL, 60L)).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isEqualTo(0x82);
            assertThat(connack.connackSessionPresent()).isFalse();
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).as("connection closed after the refusal").isTrue();
        }
        rows.sql().update("DELETE FROM sessions WHERE client_id = ?", id);
    }

    /** A session with a subscription, opened with Clean Start 0 and the given interval (null: property absent). */
    private void assertSessionEndsAtClose(String id, Long expiry) throws Exception {
        String topic = "exp/close/" + id;
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(expiry).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).isFalse();
            raw.send(MqttPackets.subscribe(1, topic, 1, MqttPackets.MQTT_5, null));
            assertThat(raw.receive(PACKET_TIMEOUT).subackReasonCodes(MqttPackets.MQTT_5)).containsExactly(1);
            rows.awaitConnected(id);
            raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, null));
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        rows.awaitGone(id, SessionRows.WRITE_TIMEOUT);
        assertThat(rows.subscriptions(id)).isZero();

        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(c.connectWith().cleanStart(false).send().isSessionPresent()).isFalse();
            publish(topic, "old-subscription");
            assertThat(publishes.receive(1_500, MILLISECONDS)).as("the ended session's subscription is gone").isEmpty();
        } finally {
            c.disconnect();
        }
    }

    /** Publishes at QoS 1 from a separate client; returns once the broker acknowledged (and stored) it. */
    private void publish(String topic, String payload) {
        Mqtt5BlockingClient p = TestClients.mqtt5(listener.port(), TestClients.uniqueId("exp-pub"));
        p.connect();
        try {
            p.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload(payload.getBytes(StandardCharsets.UTF_8)).send();
        } finally {
            p.disconnect();
        }
    }
}
