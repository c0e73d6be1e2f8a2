package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Topic Aliases (§3.3.2.3.4) in both directions. Inbound: Tether's Topic Alias Maximum is 16 (default
 * tether.mqtt.topic-alias-maximum). Outbound: Tether aliases topics up to the subscriber's Topic Alias Maximum.
 * Raw clients on both sides, so the alias property and the empty Topic Name are seen on the wire.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class TopicAliasTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WINDOW = Duration.ofMillis(1500);

    @Inject
    MqttListener listener;

    private RawMqttClient connected(String clientId, byte[] connectProperties) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(MQTT_5, clientId).extraProperties(connectProperties).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    private RawMqttClient subscriber(String filter, Integer topicAliasMaximum) throws Exception {
        RawMqttClient raw = connected(TestClients.uniqueId("ta-sub"),
                topicAliasMaximum == null ? null : property(TOPIC_ALIAS_MAXIMUM, topicAliasMaximum));
        raw.send(subscribe(1, filter, 1, MQTT_5, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
        return raw;
    }

    private static byte[] utf8Bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static ReceivedPacket expect(RawMqttClient raw, int type) throws Exception {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("packet %s", p).isEqualTo(type);
        return p;
    }

    private static void expectDisconnect(RawMqttClient raw, int reason) throws Exception {
        ReceivedPacket d = expect(raw, DISCONNECT);
        assertThat(d.disconnectReasonCode()).isEqualTo(reason);
        assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
    }

    // ---- inbound ---------------------------------------------------------------------------------

    @Test
    void publish_whenAliasSetThenUsedWithEmptyTopic_thenBothDeliveredOnTheTopic() throws Exception {
        // [MQTT-3.3.2-12] a non-empty Topic Name with an alias sets the mapping; an empty Topic Name uses it
        String topic = "ta/in/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic, null);
             RawMqttClient pub = connected(TestClients.uniqueId("ta-pub"), null)) {
            pub.send(publish(MQTT_5, topic, 1, false, false, 1, utf8Bytes("first"), property(TOPIC_ALIAS, 1)));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();
            pub.send(publish(MQTT_5, "", 1, false, false, 2, utf8Bytes("second"), property(TOPIC_ALIAS, 1)));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();

            for (String payload : new String[]{"first", "second"}) {
                ReceivedPacket p = expect(sub, PUBLISH);
                assertThat(p.publishTopic()).isEqualTo(topic);
                assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo(payload);
                // the publisher's alias is a property of its connection only: not forwarded (§3.3.2.3.4)
                assertThat(p.publishProperties(MQTT_5).has(TOPIC_ALIAS)).isFalse();
                sub.send(puback(p.publishPacketId(), MQTT_5, 0));
            }
        }
    }

    @Test
    void publish_whenAliasRemappedToAnotherTopic_thenLaterUsesGoToTheNewTopic() throws Exception {
        // §3.3.2.3.4: a PUBLISH with a Topic Name and an alias already in use replaces the mapping
        String a = "ta/remap/" + TestClients.uniqueId("a");
        String b = "ta/remap/" + TestClients.uniqueId("b");
        try (RawMqttClient sub = subscriber("ta/remap/#", null);
             RawMqttClient pub = connected(TestClients.uniqueId("ta-pub"), null)) {
            pub.send(publish(MQTT_5, a, 0, false, false, 0, utf8Bytes("a"), property(TOPIC_ALIAS, 3)));
            pub.send(publish(MQTT_5, b, 0, false, false, 0, utf8Bytes("b"), property(TOPIC_ALIAS, 3)));
            pub.send(publish(MQTT_5, "", 0, false, false, 0, utf8Bytes("b-again"), property(TOPIC_ALIAS, 3)));
            assertThat(expect(sub, PUBLISH).publishTopic()).isEqualTo(a);
            assertThat(expect(sub, PUBLISH).publishTopic()).isEqualTo(b);
            ReceivedPacket third = expect(sub, PUBLISH);
            assertThat(third.publishTopic()).isEqualTo(b);
            assertThat(third.publishPayloadUtf8(MQTT_5)).isEqualTo("b-again");
        }
    }

    @Test
    void publish_whenAliasZero_thenDisconnectTopicAliasInvalid() throws Exception {
        // [MQTT-3.3.2-8] a Topic Alias of 0 is not permitted: DISCONNECT 0x94 Topic Alias invalid (§3.3.2.3.4)
        try (RawMqttClient pub = connected(TestClients.uniqueId("ta-zero"), null)) {
            pub.send(publish(MQTT_5, "ta/zero", 1, false, false, 1, utf8Bytes("x"), property(TOPIC_ALIAS, 0)));
            expectDisconnect(pub, 0x94);
        }
    }

    @Test
    void publish_whenAliasAboveServerMaximum_thenDisconnectTopicAliasInvalid() throws Exception {
        // [MQTT-3.3.2-9] the client must not send an alias greater than the server's Topic Alias Maximum (16):
        // DISCONNECT 0x94 (§3.3.2.3.4)
        try (RawMqttClient pub = connected(TestClients.uniqueId("ta-big"), null)) {
            pub.send(publish(MQTT_5, "ta/big", 0, false, false, 0, utf8Bytes("x"), property(TOPIC_ALIAS, 17)));
            expectDisconnect(pub, 0x94);
        }
    }

    @Test
    void publish_whenAliasAtServerMaximum_thenAccepted() throws Exception {
        // §3.3.2.3.4: aliases 1..Topic Alias Maximum (16) are valid
        String topic = "ta/max/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic, null);
             RawMqttClient pub = connected(TestClients.uniqueId("ta-16"), null)) {
            pub.send(publish(MQTT_5, topic, 1, false, false, 1, utf8Bytes("x"), property(TOPIC_ALIAS, 16)));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();
            pub.send(publish(MQTT_5, "", 1, false, false, 2, utf8Bytes("y"), property(TOPIC_ALIAS, 16)));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();
            assertThat(expect(sub, PUBLISH).publishTopic()).isEqualTo(topic);
            assertThat(expect(sub, PUBLISH).publishTopic()).isEqualTo(topic);
        }
    }

    @Test
    void publish_whenEmptyTopicWithUnknownAlias_thenDisconnectProtocolError() throws Exception {
        // §3.3.4: a Topic Alias the receiver has no mapping for, with an empty Topic Name, is a Protocol Error 0x82
        try (RawMqttClient pub = connected(TestClients.uniqueId("ta-unknown"), null)) {
            pub.send(publish(MQTT_5, "", 1, false, false, 1, utf8Bytes("x"), property(TOPIC_ALIAS, 5)));
            expectDisconnect(pub, 0x82);
        }
    }

    @Test
    void publish_whenEmptyTopicWithoutAlias_thenDisconnectProtocolError() throws Exception {
        // [MQTT-3.3.2-1] / §3.3.2.3.4: an empty Topic Name without a Topic Alias is a Protocol Error 0x82
        try (RawMqttClient pub = connected(TestClients.uniqueId("ta-none"), null)) {
            pub.send(publish(MQTT_5, "", 0, false, false, 0, utf8Bytes("x"), null));
            expectDisconnect(pub, 0x82);
        }
    }

    @Test
    void publish_whenAliasFromPreviousConnectionUsed_thenDisconnectProtocolError() throws Exception {
        // [MQTT-3.3.2-7] Topic Alias mappings exist only within a Network Connection: after reconnecting (same
        // Client Identifier, session resumed) the old alias is unknown
        String clientId = TestClients.uniqueId("ta-reconnect");
        String topic = "ta/reconnect/" + TestClients.uniqueId("t");
        byte[] durable = property(SESSION_EXPIRY_INTERVAL, 60L);
        try (RawMqttClient first = connected(clientId, durable)) {
            first.send(publish(MQTT_5, topic, 1, false, false, 1, utf8Bytes("x"), property(TOPIC_ALIAS, 2)));
            assertThat(expect(first, PUBACK).pubackReasonCode()).isLessThan(0x80);
            first.send(disconnect(MQTT_5, 0, null));
        }
        try (RawMqttClient second = RawMqttClient.connect("127.0.0.1", listener.port())) {
            second.send(connect(MQTT_5, clientId).cleanStart(false).build());
            assertThat(second.receive(TIMEOUT).connackReasonCode()).isZero();
            second.send(publish(MQTT_5, "", 1, false, false, 2, utf8Bytes("y"), property(TOPIC_ALIAS, 2)));
            expectDisconnect(second, 0x82);
        }
    }

    // ---- outbound --------------------------------------------------------------------------------

    private void publishViaClient(String topic, String... payloads) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("ta-hpub"));
        c.connect();
        try {
            for (String p : payloads) {
                c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload(utf8Bytes(p)).send();
            }
        } finally {
            c.disconnect();
        }
    }

    @Test
    void deliver_whenSubscriberAllowsOneAlias_thenFirstCarriesTopicAndAliasLaterOnlyAlias() throws Exception {
        // §3.3.2.3.4: the server may use aliases up to the client's Topic Alias Maximum ([MQTT-3.3.2-11]); the
        // first PUBLISH carries Topic Name + alias, later ones the empty Topic Name + alias ([MQTT-3.3.2-12]).
        // Only one alias allowed: a second topic goes out in full, without an alias ([MQTT-3.3.2-10]: never > 1)
        String topic = "ta/out/" + TestClients.uniqueId("t");
        String other = topic + "/other";
        try (RawMqttClient sub = subscriber(topic + "/#", 1)) {
            publishViaClient(topic + "/x", "one", "two");
            publishViaClient(other, "three");
            ReceivedPacket first = expect(sub, PUBLISH);
            assertThat(first.publishTopic()).isEqualTo(topic + "/x");
            assertThat(first.publishProperties(MQTT_5).number(TOPIC_ALIAS)).contains(1L);
            assertThat(first.publishPayloadUtf8(MQTT_5)).isEqualTo("one");
            sub.send(puback(first.publishPacketId(), MQTT_5, 0));

            ReceivedPacket second = expect(sub, PUBLISH);
            assertThat(second.publishTopic()).isEmpty();
            assertThat(second.publishProperties(MQTT_5).number(TOPIC_ALIAS)).contains(1L);
            assertThat(second.publishPayloadUtf8(MQTT_5)).isEqualTo("two");
            sub.send(puback(second.publishPacketId(), MQTT_5, 0));

            ReceivedPacket third = expect(sub, PUBLISH);
            assertThat(third.publishTopic()).isEqualTo(other);
            assertThat(third.publishProperties(MQTT_5).number(TOPIC_ALIAS).orElse(1L)).isEqualTo(1L);
            assertThat(third.publishPayloadUtf8(MQTT_5)).isEqualTo("three");
        }
    }

    @Test
    void deliver_whenSubscriberTopicAliasMaximumZero_thenNeverAnAlias() throws Exception {
        // [MQTT-3.3.2-10] with Topic Alias Maximum 0 (or absent) the server must not send a Topic Alias
        String topic = "ta/none/" + TestClients.uniqueId("t");
        try (RawMqttClient zero = subscriber(topic, 0);
             RawMqttClient absent = subscriber(topic, null)) {
            publishViaClient(topic, "one", "two", "three");
            for (RawMqttClient sub : new RawMqttClient[]{zero, absent}) {
                for (int i = 0; i < 3; i++) {
                    ReceivedPacket p = expect(sub, PUBLISH);
                    assertThat(p.publishTopic()).isEqualTo(topic);
                    assertThat(p.publishProperties(MQTT_5).has(TOPIC_ALIAS)).isFalse();
                    sub.send(puback(p.publishPacketId(), MQTT_5, 0));
                }
            }
        }
    }

    @Test
    void deliver_whenSubscriberReconnects_thenAliasesStartAfresh() throws Exception {
        // [MQTT-3.3.2-7] outbound aliases too end with the connection: after reconnecting, the first PUBLISH on
        // a topic again carries the full Topic Name
        String clientId = TestClients.uniqueId("ta-out-re");
        String topic = "ta/out-re/" + TestClients.uniqueId("t");
        byte[] props = concat(property(TOPIC_ALIAS_MAXIMUM, 4), property(SESSION_EXPIRY_INTERVAL, 60L));
        try (RawMqttClient sub = connected(clientId, props)) {
            sub.send(subscribe(1, topic, 1, MQTT_5, null));
            assertThat(sub.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
            publishViaClient(topic, "one");
            ReceivedPacket p = expect(sub, PUBLISH);
            assertThat(p.publishTopic()).isEqualTo(topic);
            sub.send(puback(p.publishPacketId(), MQTT_5, 0));
            sub.send(disconnect(MQTT_5, 0, null));
        }
        try (RawMqttClient sub = RawMqttClient.connect("127.0.0.1", listener.port())) {
            sub.send(connect(MQTT_5, clientId).cleanStart(false).extraProperties(property(TOPIC_ALIAS_MAXIMUM, 4)).build());
            assertThat(sub.receive(TIMEOUT).connackSessionPresent()).isTrue();
            publishViaClient(topic, "two");
            ReceivedPacket p = expect(sub, PUBLISH);
            assertThat(p.publishTopic()).isEqualTo(topic);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("two");
        }
    }
}
