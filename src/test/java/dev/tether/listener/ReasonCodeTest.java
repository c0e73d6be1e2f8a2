package dev.tether.listener;

import static dev.tether.testing.MqttPackets.MQTT_5;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * MQTT 5.0 reason codes the server returns (§2.4): per-filter SUBACK codes, UNSUBACK codes, and the refusal of
 * enhanced authentication (§4.12), which Tether does not support. Raw bytes so each code is read off the wire.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ReasonCodeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;

    private RawMqttClient rawConnect(String prefix) throws IOException {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(MqttPackets.connect(MQTT_5, TestClients.uniqueId(prefix)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    @Test
    void subscribe_whenOneFilterInvalid_thenSubackHasCodePerFilterAndValidOnesWork() throws Exception {
        // [MQTT-3.8.4-6] one SUBACK for the whole SUBSCRIBE; [MQTT-3.9.3-1] one reason code per filter, in order;
        // §3.9.3 granted QoS 0x00-0x02, 0x8F Topic Filter invalid ("#" not last, [MQTT-4.7.1-1])
        String root = "rc/suback/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = rawConnect("rc-sub")) {
            raw.send(MqttPackets.subscribe(21, MQTT_5, null,
                    new MqttPackets.Subscription(root + "/one", 1),
                    new MqttPackets.Subscription("a/#/b", 1),
                    new MqttPackets.Subscription(root + "/two", 2),
                    new MqttPackets.Subscription(root + "/zero", 0)));
            ReceivedPacket suback = raw.receive(TIMEOUT);
            assertThat(suback.type()).isEqualTo(MqttPackets.SUBACK);
            assertThat(suback.packetId()).isEqualTo(21);
            assertThat(suback.subackReasonCodes(MQTT_5)).containsExactly(0x01, 0x8F, 0x02, 0x00);

            // the valid filters of that SUBSCRIBE are in force and the connection stays open
            publish(root + "/two", "two");
            ReceivedPacket p = raw.receive(TIMEOUT);
            assertThat(p.publishTopic()).isEqualTo(root + "/two");
            assertThat(p.publishQos()).isEqualTo(1);
            raw.send(MqttPackets.puback(p.publishPacketId(), MQTT_5, 0));
        }
    }

    @Test
    void unsubscribe_whenOneFilterNotSubscribed_thenUnsubackSuccessAndNoSubscriptionExisted() throws Exception {
        // [MQTT-3.10.4-4] [MQTT-3.10.4-5] one UNSUBACK with the Packet Identifier; [MQTT-3.11.3-1] one code per
        // filter, in order: 0x00 Success for the subscribed filter, 0x11 No subscription existed for the other
        String root = "rc/unsuback/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = rawConnect("rc-unsub")) {
            raw.send(MqttPackets.subscribe(1, root + "/yes", 1, MQTT_5, null));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);

            raw.send(MqttPackets.unsubscribe(22, MQTT_5, root + "/no", root + "/yes"));
            ReceivedPacket unsuback = raw.receive(TIMEOUT);
            assertThat(unsuback.type()).isEqualTo(MqttPackets.UNSUBACK);
            assertThat(unsuback.packetId()).isEqualTo(22);
            assertThat(unsuback.unsubackReasonCodes(MQTT_5)).containsExactly(0x11, 0x00);

            // now neither exists
            raw.send(MqttPackets.unsubscribe(23, MQTT_5, root + "/yes"));
            assertThat(raw.receive(TIMEOUT).unsubackReasonCodes(MQTT_5)).containsExactly(0x11);
        }
    }

    @Test
    void connect_whenAuthenticationMethodGiven_thenConnackBadAuthenticationMethodAndClosed() throws Exception {
        // §4.12 / §3.1.2.11.9: a server that does not support the Authentication Method sends CONNACK 0x8C
        // (Bad authentication method) and [MQTT-3.2.2-7] closes the connection; [MQTT-4.12.0-1]. Tether supports
        // SCRAM-SHA-256 only (ScramAuthenticationTest).
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MQTT_5, TestClients.uniqueId("rc-authm"))
                    .extraProperties(MqttPackets.concat(
                            MqttPackets.property(MqttPackets.AUTHENTICATION_METHOD, "SCRAM-SHA-1"),
                            MqttPackets.property(MqttPackets.AUTHENTICATION_DATA, "n,,n=user,r=nonce".getBytes(StandardCharsets.UTF_8))))
                    .build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isEqualTo(0x8C);
            assertThat(connack.connackSessionPresent()).isFalse(); // [MQTT-3.2.2-6]
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }

    @ParameterizedTest(name = "AUTH reason 0x{0}")
    @ValueSource(ints = {0x00, 0x18, 0x19})
    void auth_whenSentWithoutEnhancedAuthentication_thenDisconnectProtocolErrorAndClosed(int reason) throws Exception {
        // [MQTT-4.12.0-6] [MQTT-4.12.1-1]: without an Authentication Method in CONNECT the client must not send AUTH;
        // the server treats it as a Protocol Error: DISCONNECT 0x82 (§3.14.2.1), then closes. Bounded: never hangs.
        try (RawMqttClient raw = rawConnect("rc-auth")) {
            byte[] body = reason == 0x00 ? new byte[0] : MqttPackets.concat(new byte[]{(byte) reason},
                    MqttPackets.propertiesBlock(MqttPackets.property(MqttPackets.AUTHENTICATION_METHOD, "SCRAM-SHA-256")));
            raw.send(MqttPackets.packet(MqttPackets.AUTH, 0, body));
            ReceivedPacket disconnect = raw.receive(TIMEOUT);
            assertThat(disconnect.type()).as("packet %s", disconnect).isEqualTo(MqttPackets.DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x82);
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }

    private void publish(String topic, String payload) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("rc-pub"));
        c.connect();
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload(payload.getBytes(StandardCharsets.UTF_8)).send();
        } finally {
            c.disconnect();
        }
    }
}
