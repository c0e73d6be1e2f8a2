package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.MQTT_5;
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
import java.util.Optional;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Messages for offline durable sessions and in-flight messages across reconnects (MQTT 5.0 §4.1, §4.4). */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class OfflineQueueTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private Sql sql() {
        return new Sql(dataSource);
    }

    private long queued(String clientId) {
        return sql().count("SELECT count(*) FROM queued_messages WHERE client_id = ?", clientId);
    }

    private void publishAll(String topic, int count, int qos) {
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-pub"));
        pub.connect();
        for (int i = 0; i < count; i++) {
            pub.publishWith().topic(topic).qos(MqttQos.fromCode(qos))
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
        }
        pub.disconnect();
    }

    /** A raw MQTT 5 client connected with Clean Start as given and Session Expiry 300; returns it and the CONNACK. */
    private RawMqttClient rawConnect(String clientId, boolean cleanStart, boolean expectSessionPresent) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(MqttPackets.connect(MQTT_5, clientId).cleanStart(cleanStart).sessionExpiry(300L).build());
        ReceivedPacket connack = raw.receive(TIMEOUT);
        assertThat(connack.connackReasonCode()).isZero();
        assertThat(connack.connackSessionPresent()).isEqualTo(expectSessionPresent);
        return raw;
    }

    private static void subscribe(RawMqttClient raw, String filter, int qos) throws IOException {
        raw.send(MqttPackets.subscribe(1, filter, qos, MQTT_5, null));
        ReceivedPacket suback = raw.receive(TIMEOUT);
        assertThat(suback.subackReasonCodes(MQTT_5)).containsExactly(qos);
    }

    @Test
    void reconnect_whenMessagesQueuedWhileOffline_thenSessionPresentAndAllDeliveredInOrder() throws Exception {
        // [MQTT-3.1.2-5] [MQTT-3.2.2-3] [MQTT-4.1.0-1] [MQTT-4.6.0-5]; queued messages visible in queued_messages
        String id = TestClients.uniqueId("oq-offline");
        String topic = "oq/offline/" + id;
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), id);
        sub.connectWith().cleanStart(false).sessionExpiryInterval(300).send();
        sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        sub.disconnect();

        publishAll(topic, 20, 1);
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(queued(id)).isEqualTo(20));

        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(300).send().isSessionPresent()).isTrue();
            List<Integer> got = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                Optional<Mqtt5Publish> p = publishes.receive(5, SECONDS);
                assertThat(p).as("message %d", i).isPresent();
                assertThat(p.get().getQos()).isEqualTo(MqttQos.AT_LEAST_ONCE);
                got.add(Integer.parseInt(new String(p.get().getPayloadAsBytes(), StandardCharsets.UTF_8)));
            }
            assertThat(got).isEqualTo(IntStream.range(0, 20).boxed().toList());
            assertThat(publishes.receive(1000, MILLISECONDS)).isEmpty();
            await().atMost(TIMEOUT).untilAsserted(() -> assertThat(queued(id)).isZero());
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void reconnect_whenQos1PublishUnacknowledged_thenResentWithDupAndSamePacketId() throws Exception {
        // [MQTT-4.4.0-1] [MQTT-3.3.1-1] resent with DUP = 1 and its original Packet Identifier
        String id = TestClients.uniqueId("oq-dup1");
        String topic = "oq/dup1/" + id;
        int packetId;
        try (RawMqttClient raw = rawConnect(id, true, false)) {
            subscribe(raw, topic, 1);
            publishAll(topic, 1, 1);
            ReceivedPacket publish = raw.receive(TIMEOUT);
            assertThat(publish.publishTopic()).isEqualTo(topic);
            assertThat(publish.publishQos()).isEqualTo(1);
            assertThat(publish.publishDup()).isFalse();
            packetId = publish.publishPacketId();
            // in flight and visible with SQL before the connection drops
            await().atMost(TIMEOUT).untilAsserted(() -> assertThat(sql().count(
                    "SELECT count(*) FROM queued_messages WHERE client_id = ? AND state = 'sent' AND packet_id = ?",
                    id, packetId)).isEqualTo(1));
        } // dropped without PUBACK

        try (RawMqttClient raw = rawConnect(id, false, true)) {
            ReceivedPacket resent = raw.receive(TIMEOUT);
            assertThat(resent.publishTopic()).isEqualTo(topic);
            assertThat(resent.publishDup()).isTrue();
            assertThat(resent.publishPacketId()).isEqualTo(packetId);
            assertThat(resent.publishPayloadUtf8(MQTT_5)).isEqualTo("0");
            raw.send(MqttPackets.puback(packetId, MQTT_5, 0));
            await().atMost(TIMEOUT).untilAsserted(() -> assertThat(queued(id)).isZero());
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        }
    }

    @Test
    void reconnect_whenQos2PubrelUnacknowledged_thenPubrelResentWithSamePacketId() throws Exception {
        // [MQTT-4.4.0-1] a PUBREL without PUBCOMP is resent on resume with its Packet Identifier;
        // §4.3.3: once PUBREL is sent, the PUBLISH is not sent again
        String id = TestClients.uniqueId("oq-rel2");
        String topic = "oq/rel2/" + id;
        int packetId;
        try (RawMqttClient raw = rawConnect(id, true, false)) {
            subscribe(raw, topic, 2);
            publishAll(topic, 1, 2);
            ReceivedPacket publish = raw.receive(TIMEOUT);
            assertThat(publish.publishQos()).isEqualTo(2);
            packetId = publish.publishPacketId();
            raw.send(MqttPackets.pubrec(packetId, MQTT_5, 0));
            ReceivedPacket pubrel = raw.receive(TIMEOUT);
            assertThat(pubrel.type()).isEqualTo(MqttPackets.PUBREL);
            assertThat(pubrel.packetId()).isEqualTo(packetId);
            await().atMost(TIMEOUT).untilAsserted(() -> assertThat(sql().count(
                    "SELECT count(*) FROM queued_messages WHERE client_id = ? AND state = 'released' AND packet_id = ?",
                    id, packetId)).isEqualTo(1));
        } // dropped before PUBCOMP

        try (RawMqttClient raw = rawConnect(id, false, true)) {
            ReceivedPacket resent = raw.receive(TIMEOUT);
            assertThat(resent.type()).as("%s", resent).isEqualTo(MqttPackets.PUBREL);
            assertThat(resent.packetId()).isEqualTo(packetId);
            raw.send(MqttPackets.pubcomp(packetId, MQTT_5, 0));
            assertThat(raw.receiveWithin(Duration.ofMillis(1000))).isEmpty(); // the PUBLISH is not sent again
            await().atMost(TIMEOUT).untilAsserted(() -> assertThat(queued(id)).isZero());
            raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
        }
    }

    @Test
    void pubrel_whenSentAfterReconnect_thenPubcompAndMessageDeliveredOnce() throws Exception {
        // §4.1: QoS 2 messages received and not completed (PUBREC sent) are session state across reconnects;
        // §4.3.3 receiver: a resent PUBLISH before PUBREL is answered with PUBREC and not delivered again
        String id = TestClients.uniqueId("oq-in2");
        String topic = "oq/in2/" + id;
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-in2-sub"));
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = sub.publishes(MqttGlobalPublishFilter.ALL)) {
            sub.connect();
            sub.subscribeWith().topicFilter(topic).qos(MqttQos.EXACTLY_ONCE).send();

            try (RawMqttClient raw = rawConnect(id, true, false)) {
                raw.send(MqttPackets.publish(MQTT_5, topic, 2, 42, "once".getBytes(StandardCharsets.UTF_8)));
                ReceivedPacket pubrec = raw.receive(TIMEOUT);
                assertThat(pubrec.type()).isEqualTo(MqttPackets.PUBREC);
                assertThat(pubrec.packetId()).isEqualTo(42);
                assertThat(pubrec.pubackReasonCode()).isZero();
                assertThat(sql().count("SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ? AND packet_id = 42",
                        id)).isEqualTo(1);
            } // dropped before PUBREL

            try (RawMqttClient raw = rawConnect(id, false, true)) {
                // a resent PUBLISH (DUP = 1) of the same Packet Identifier must not be delivered again
                raw.send(MqttPackets.publish(MQTT_5, topic, 2, false, true, 42, "once".getBytes(StandardCharsets.UTF_8), null));
                ReceivedPacket pubrec = raw.receive(TIMEOUT);
                assertThat(pubrec.type()).isEqualTo(MqttPackets.PUBREC);
                assertThat(pubrec.packetId()).isEqualTo(42);
                raw.send(MqttPackets.pubrel(42, MQTT_5, 0));
                ReceivedPacket pubcomp = raw.receive(TIMEOUT);
                assertThat(pubcomp.type()).isEqualTo(MqttPackets.PUBCOMP);
                assertThat(pubcomp.packetId()).isEqualTo(42);
                assertThat(pubcomp.pubackReasonCode()).isZero();
                await().atMost(TIMEOUT).untilAsserted(() -> assertThat(sql().count(
                        "SELECT count(*) FROM inbound_qos2_messages WHERE client_id = ?", id)).isZero());
                raw.send(MqttPackets.disconnect(MQTT_5, 0, 0L));
            }

            Optional<Mqtt5Publish> first = publishes.receive(5, SECONDS);
            assertThat(first).isPresent();
            assertThat(new String(first.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("once");
            assertThat(publishes.receive(1500, MILLISECONDS)).isEmpty();
        } finally {
            sub.disconnect();
        }
    }
}
