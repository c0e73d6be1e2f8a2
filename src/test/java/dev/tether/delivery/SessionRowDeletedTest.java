package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import com.hivemq.client.mqtt.mqtt5.message.publish.puback.Mqtt5PubAckReasonCode;
import dev.tether.listener.MqttListener;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A connected durable session whose {@code sessions} row was deleted with SQL has ended: PostgreSQL is the
 * truth. The next QoS 1/2 message for it finds no row; Tether then disconnects the client (DISCONNECT 0x98
 * Administrative action in MQTT 5, a close in 3.1.1) and forgets the session in memory, instead of counting the
 * message as dropped for a full queue. The publisher's PUBACK stays what routing decided (a subscription matched).
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SessionRowDeletedTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    MessageRouter router;
    @Inject
    SubscriptionIndex subscriptions;
    @Inject
    SessionDirectory sessions;

    private RawMqttClient durableSubscriber(int protocolLevel, String id, String topic) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(protocolLevel, id).cleanStart(false)
                .sessionExpiry(protocolLevel == MQTT_5 ? 300L : null).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        raw.send(subscribe(1, topic, 1, protocolLevel, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(protocolLevel)).containsExactly(1);
        assertThat(sessions.isDurable(id)).isTrue();
        return raw;
    }

    private Mqtt5PubAckReasonCode publishQos1(String topic, String payload) {
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("row-gone-pub"));
        pub.connect();
        try {
            Mqtt5PublishResult r = pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(payload.getBytes(StandardCharsets.UTF_8)).send();
            return ((Mqtt5PublishResult.Mqtt5Qos1Result) r).getPubAck().getReasonCode();
        } finally {
            pub.disconnect();
        }
    }

    @Test
    void route_whenMqtt5DurableSessionRowDeleted_thenDisconnect0x98AndSessionForgotten() throws Exception {
        String id = TestClients.uniqueId("row-gone-5");
        String topic = "rowgone/5/" + id;
        Sql sql = new Sql(dataSource);
        try (RawMqttClient raw = durableSubscriber(MQTT_5, id, topic)) {
            long droppedBefore = router.droppedForFullQueue();
            assertThat(sql.update("DELETE FROM sessions WHERE client_id = ?", id)).isEqualTo(1);

            // Routing matched a subscription, so the publisher's PUBACK is Success (not 0x10 No matching subscribers).
            assertThat(publishQos1(topic, "m1")).isEqualTo(Mqtt5PubAckReasonCode.SUCCESS);

            ReceivedPacket disconnect = raw.receive(TIMEOUT);
            assertThat(disconnect.type()).as("packet %s", disconnect).isEqualTo(DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x98); // Administrative action
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
            assertThat(router.droppedForFullQueue()).isEqualTo(droppedBefore);
            await().atMost(TIMEOUT).untilAsserted(() -> {
                assertThat(subscriptions.subscriptionsOf(id)).isEmpty();
                assertThat(sessions.isDurable(id)).isFalse();
            });
        }
        // Nothing of the session was recreated: a later message matches nobody and nothing is queued for it.
        assertThat(publishQos1(topic, "m2")).isEqualTo(Mqtt5PubAckReasonCode.NO_MATCHING_SUBSCRIBERS);
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isZero();
        assertThat(sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id)).isZero();

        try (RawMqttClient again = RawMqttClient.connect("127.0.0.1", listener.port())) {
            again.send(connect(MQTT_5, id).cleanStart(false).sessionExpiry(0L).build());
            ReceivedPacket connack = again.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).isFalse();
        }
    }

    @Test
    void route_whenMqtt311DurableSessionRowDeleted_thenConnectionClosedAndSessionForgotten() throws Exception {
        // 3.1.1 has no server DISCONNECT: the network connection is closed
        String id = TestClients.uniqueId("row-gone-311");
        String topic = "rowgone/311/" + id;
        Sql sql = new Sql(dataSource);
        try (RawMqttClient raw = durableSubscriber(MQTT_3_1_1, id, topic)) {
            long droppedBefore = router.droppedForFullQueue();
            assertThat(sql.update("DELETE FROM sessions WHERE client_id = ?", id)).isEqualTo(1);

            publishQos1(topic, "m1");

            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
            assertThat(router.droppedForFullQueue()).isEqualTo(droppedBefore);
            await().atMost(TIMEOUT).untilAsserted(() -> {
                assertThat(subscriptions.subscriptionsOf(id)).isEmpty();
                assertThat(sessions.isDurable(id)).isFalse();
            });
        }
    }
}
