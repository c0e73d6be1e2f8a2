package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.MESSAGE_EXPIRY_INTERVAL;
import static dev.tether.testing.MqttPackets.MQTT_5;
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
 * Message Expiry Interval (MQTT 5.0 §3.3.2.3.3) for messages queued for an offline session (through PostgreSQL) and
 * for retained messages. The subscriber is a raw client so the property is read byte for byte.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class MessageExpiryTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** Window in which something must NOT arrive (at least 1 s). */
    private static final Duration ABSENT = Duration.ofMillis(1500);
    /** Time offline: well past a 1 s Message Expiry Interval. */
    private static final long OFFLINE_MS = 2500;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private RawMqttClient rawConnect(String clientId, boolean cleanStart, boolean sessionPresent) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(MqttPackets.connect(MQTT_5, clientId).cleanStart(cleanStart).sessionExpiry(300L).build());
        ReceivedPacket connack = raw.receive(TIMEOUT);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isEqualTo(sessionPresent);
        return raw;
    }

    /** Creates a durable session subscribed to {@code filter} at QoS 1 and leaves it offline. */
    private void offlineSubscriber(String clientId, String filter) throws IOException {
        try (RawMqttClient raw = rawConnect(clientId, true, false)) {
            raw.send(MqttPackets.subscribe(1, filter, 1, MQTT_5, null));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
            raw.send(MqttPackets.disconnect(MQTT_5, 0, null));
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }

    /** Publishes at QoS 1; {@code expirySeconds} null means no Message Expiry Interval. */
    private void publish(String topic, String payload, Long expirySeconds, boolean retain) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("mx-pub"));
        c.connect();
        try {
            var builder = c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(retain)
                    .payload(payload.getBytes(StandardCharsets.UTF_8));
            if (expirySeconds != null) {
                builder.messageExpiryInterval(expirySeconds);
            }
            builder.send();
        } finally {
            c.disconnect();
        }
    }

    private long queued(String clientId) {
        return new Sql(dataSource).count("SELECT count(*) FROM queued_messages WHERE client_id = ?", clientId);
    }

    /** Receives the next PUBLISH and acknowledges it (QoS 1). */
    private static ReceivedPacket receivePublish(RawMqttClient raw) throws IOException {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("packet %s", p).isEqualTo(MqttPackets.PUBLISH);
        if (p.publishQos() > 0) {
            raw.send(MqttPackets.puback(p.publishPacketId(), MQTT_5, 0));
        }
        return p;
    }

    /** Lets time pass while nothing is connected; used only where the test checks that something does NOT happen. */
    private static void offlineFor(long millis) throws InterruptedException {
        Thread.sleep(millis);
    }

    @Test
    void reconnect_whenQueuedMessageExpiredWhileOffline_thenNotDelivered() throws Exception {
        // [MQTT-3.3.2-5] a queued message whose Message Expiry Interval passed before it could be delivered is
        // not delivered; a message without expiry queued alongside still is (control)
        String id = TestClients.uniqueId("mx-gone");
        String topic = "mx/gone/" + id;
        offlineSubscriber(id, topic);
        publish(topic, "short-lived", 1L, false);
        publish(topic, "lasting", null, false);
        await().atMost(TIMEOUT).until(() -> queued(id) == 2);
        offlineFor(OFFLINE_MS);

        try (RawMqttClient raw = rawConnect(id, false, true)) {
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("lasting");
            assertThat(p.publishProperties(MQTT_5).has(MESSAGE_EXPIRY_INTERVAL)).isFalse();
            assertThat(raw.receiveWithin(ABSENT)).isEmpty();
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        }
    }

    @Test
    void reconnect_whenQueuedMessageNotExpired_thenDeliveredWithRemainingInterval() throws Exception {
        // [MQTT-3.3.2-6] the PUBLISH sent to the client carries the received interval minus the time the message
        // has been waiting in the server: queued ~2 s with 60 s, so 0 < interval <= 58
        String id = TestClients.uniqueId("mx-left");
        String topic = "mx/left/" + id;
        offlineSubscriber(id, topic);
        publish(topic, "sixty", 60L, false);
        await().atMost(TIMEOUT).until(() -> queued(id) == 1);
        offlineFor(2000);

        try (RawMqttClient raw = rawConnect(id, false, true)) {
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("sixty");
            assertThat(p.publishProperties(MQTT_5).number(MESSAGE_EXPIRY_INTERVAL)).hasValueSatisfying(
                    left -> assertThat(left).isGreaterThan(0).isLessThanOrEqualTo(58));
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        }
    }

    @Test
    void subscribe_whenRetainedMessageExpired_thenNotDelivered() throws Exception {
        // [MQTT-3.3.2-5] §3.3.2.3.3: once the interval has passed the retained message is not sent to a new
        // subscriber; a retained message without expiry under the same filter still is (control)
        String root = "mx/ret/" + TestClients.uniqueId("r");
        publish(root + "/short", "short-lived", 1L, true);
        publish(root + "/long", "lasting", null, true);
        offlineFor(OFFLINE_MS);

        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("mx-rsub"), true, false)) {
            raw.send(MqttPackets.subscribe(1, root + "/#", 1, MQTT_5, null));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishTopic()).isEqualTo(root + "/long");
            assertThat(p.publishRetain()).isTrue();
            assertThat(raw.receiveWithin(ABSENT)).isEmpty();
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        } finally {
            publish(root + "/long", "", null, true); // clear it
        }
    }

    @Test
    void subscribe_whenRetainedMessageNotExpired_thenDeliveredWithRemainingInterval() throws Exception {
        // [MQTT-3.3.2-6] a retained message sent later carries the remaining interval: stored ~2 s with 60 s
        String topic = "mx/retleft/" + TestClients.uniqueId("t");
        publish(topic, "kept", 60L, true);
        offlineFor(2000);

        try (RawMqttClient raw = rawConnect(TestClients.uniqueId("mx-rleft"), true, false)) {
            raw.send(MqttPackets.subscribe(1, topic, 1, MQTT_5, null));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
            ReceivedPacket p = receivePublish(raw);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("kept");
            assertThat(p.publishProperties(MQTT_5).number(MESSAGE_EXPIRY_INTERVAL)).hasValueSatisfying(
                    left -> assertThat(left).isGreaterThan(0).isLessThanOrEqualTo(58));
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        } finally {
            publish(topic, "", null, true);
        }
    }
}
