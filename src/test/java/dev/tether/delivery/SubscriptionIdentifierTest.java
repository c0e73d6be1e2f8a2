package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.MQTT_5;
import static dev.tether.testing.MqttPackets.SUBSCRIPTION_IDENTIFIER;
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
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Subscription Identifiers (MQTT 5.0 §3.8.2.1.2, §3.3.2.3.8) end to end. The subscriber is a raw client so the
 * identifiers on each PUBLISH are read byte for byte.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SubscriptionIdentifierTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** Window in which something must NOT arrive (at least 1 s). */
    private static final Duration ABSENT = Duration.ofMillis(1500);

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private RawMqttClient rawConnect(String clientId, boolean cleanStart, Long sessionExpiry, boolean sessionPresent)
            throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(MqttPackets.connect(MQTT_5, clientId).cleanStart(cleanStart).sessionExpiry(sessionExpiry).build());
        ReceivedPacket connack = raw.receive(TIMEOUT);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isEqualTo(sessionPresent);
        return raw;
    }

    private static void subscribe(RawMqttClient raw, int packetId, String filter, Integer subscriptionId) throws IOException {
        raw.send(MqttPackets.subscribe(packetId, filter, 1, MQTT_5, subscriptionId));
        ReceivedPacket suback = raw.receive(TIMEOUT);
        assertThat(suback.packetId()).isEqualTo(packetId);
        assertThat(suback.subackReasonCodes(MQTT_5)).containsExactly(1);
    }

    /** Receives the next PUBLISH, acknowledges it (QoS 1) and returns it. */
    private static ReceivedPacket receivePublish(RawMqttClient raw) throws IOException {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("packet %s", p).isEqualTo(MqttPackets.PUBLISH);
        if (p.publishQos() > 0) {
            raw.send(MqttPackets.puback(p.publishPacketId(), MQTT_5, 0));
        }
        return p;
    }

    private void publish(String topic, String payload) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sid-pub"));
        c.connect();
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload(payload.getBytes(StandardCharsets.UTF_8)).send();
        } finally {
            c.disconnect();
        }
    }

    @Test
    void publish_whenSubscribedWithIdentifier_thenPublishCarriesIt() throws Exception {
        // [MQTT-3.3.4-3] the server includes the Subscription Identifier of the matching subscription in the PUBLISH
        String topic = "sid/one/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("sid-one"), true, null, false)) {
            subscribe(raw, 1, topic, 7);
            publish(topic, "seven");
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishTopic()).isEqualTo(topic);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("seven");
            assertThat(p.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactly(7);
        }
    }

    @Test
    void subscribe_whenRetainedMessageSentOnSubscribe_thenItCarriesTheIdentifier() throws Exception {
        // [MQTT-3.3.1-9] the retained message is sent on subscribe; [MQTT-3.3.4-3] it results from the subscription,
        // so it carries that subscription's identifier
        String topic = "sid/retained/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sid-rpub"));
        pub.connect();
        pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true)
                .payload("kept".getBytes(StandardCharsets.UTF_8)).send();
        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("sid-ret"), true, null, false)) {
            raw.send(MqttPackets.subscribe(1, topic, 1, MQTT_5, 300));
            ReceivedPacket first = raw.receive(TIMEOUT);
            ReceivedPacket second = raw.receive(TIMEOUT);
            // §3.8.4 the retained PUBLISH may come before or after the SUBACK
            ReceivedPacket p = first.type() == MqttPackets.PUBLISH ? first : second;
            ReceivedPacket suback = first.type() == MqttPackets.PUBLISH ? second : first;
            assertThat(suback.subackReasonCodes(MQTT_5)).containsExactly(1);
            assertThat(p.publishRetain()).isTrue();
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("kept");
            assertThat(p.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactly(300);
            raw.send(MqttPackets.puback(p.publishPacketId(), MQTT_5, 0));
        } finally {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).payload(new byte[0]).send();
            pub.disconnect();
        }
    }

    @Test
    void publish_whenOverlappingSubscriptionsWithIdentifiers_thenOneCopyCarryingBoth() throws Exception {
        // [MQTT-3.3.4-2] one copy per client for overlapping subscriptions; [MQTT-3.3.4-3] [MQTT-3.3.4-4] that single
        // copy carries the Subscription Identifiers of all matching subscriptions, in any order
        String root = "sid/overlap/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("sid-two"), true, null, false)) {
            subscribe(raw, 1, root + "/#", 2);
            subscribe(raw, 2, root + "/+", 3);
            publish(root + "/a", "both");
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("both");
            assertThat(p.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactlyInAnyOrder(2, 3);
            assertThat(raw.receiveWithin(ABSENT)).isEmpty(); // no second copy
        }
    }

    @Test
    void publish_whenSubscribedWithoutIdentifier_thenPublishHasNone() throws Exception {
        // §3.3.2.3.8: the property is present only for subscriptions made with a Subscription Identifier;
        // the overlapping identified subscription contributes its own identifier only
        String root = "sid/none/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("sid-none"), true, null, false)) {
            subscribe(raw, 1, root + "/a", null);
            publish(root + "/a", "plain");
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("plain");
            assertThat(p.publishProperties(MQTT_5).has(SUBSCRIPTION_IDENTIFIER)).isFalse();

            subscribe(raw, 2, root + "/#", 9);
            publish(root + "/a", "mixed");
            ReceivedPacket q = receivePublish(raw);
            assertThat(q.publishPayloadUtf8(MQTT_5)).isEqualTo("mixed");
            assertThat(q.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactly(9);
        }
    }

    @Test
    void reconnect_whenPersistentSessionHasIdentifiedSubscription_thenIdentifierSurvives() throws Exception {
        // §4.1: subscriptions (with their Subscription Identifier) are session state, stored in
        // subscriptions.subscription_identifier; [MQTT-3.3.4-3] messages queued while offline and messages published
        // after the session resumed both carry the identifier
        String id = TestClients.uniqueId("sid-persist");
        String topic = "sid/persist/" + id;
        Sql sql = new Sql(dataSource);
        try (RawMqttClient raw = rawConnect(id, true, 300L, false)) {
            subscribe(raw, 1, topic, 4242);
            assertThat(sql.count("SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?"
                    + " AND subscription_identifier = 4242", id, topic)).isEqualTo(1);
            raw.send(MqttPackets.disconnect(MQTT_5, 0, null));
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
        publish(topic, "queued");
        await().atMost(TIMEOUT).until(() -> sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id) == 1);

        try (RawMqttClient raw = rawConnect(id, false, 300L, true)) {
            ReceivedPacket queued = receivePublish(raw);
            assertThat(queued.publishPayloadUtf8(MQTT_5)).isEqualTo("queued");
            assertThat(queued.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactly(4242);

            publish(topic, "live");
            ReceivedPacket live = receivePublish(raw);
            assertThat(live.publishPayloadUtf8(MQTT_5)).isEqualTo("live");
            assertThat(live.publishProperties(MQTT_5).all(SUBSCRIPTION_IDENTIFIER)).containsExactly(4242);
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        }
    }
}
