package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

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
 * The Payload Format Indicator (§3.3.2.3.2): 1 declares the payload UTF-8. Tether checks it: a payload that is not
 * valid UTF-8 is refused with 0x99 Payload format invalid and never reaches subscribers.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PayloadFormatTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WINDOW = Duration.ofMillis(1500);
    /** "Ã(": 0xC3 starts a two-byte sequence, 0x28 is not a continuation byte. */
    private static final byte[] INVALID_UTF8 = {(byte) 0xC3, (byte) 0x28};

    @Inject
    MqttListener listener;

    private RawMqttClient connected(String prefix) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(MQTT_5, TestClients.uniqueId(prefix)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    private RawMqttClient subscriber(String topic) throws Exception {
        RawMqttClient raw = connected("pf-sub");
        raw.send(subscribe(1, topic, 1, MQTT_5, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
        return raw;
    }

    private static ReceivedPacket expect(RawMqttClient raw, int type) throws Exception {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("packet %s", p).isEqualTo(type);
        return p;
    }

    @Test
    void publishQos1_whenUtf8IndicatedButInvalid_thenPuback0x99AndNotDelivered() throws Exception {
        // §3.3.2.3.2: a receiver that validates the payload and finds it is not UTF-8 MAY send PUBACK 0x99
        // Payload format invalid (§3.4.2.1); the message is not published; the connection stays
        String topic = "pf/q1/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic); RawMqttClient pub = connected("pf-pub1")) {
            pub.send(publish(MQTT_5, topic, 1, false, false, 7, INVALID_UTF8, property(PAYLOAD_FORMAT_INDICATOR, 1)));
            ReceivedPacket puback = expect(pub, PUBACK);
            assertThat(puback.packetId()).isEqualTo(7);
            assertThat(puback.pubackReasonCode()).isEqualTo(0x99);
            assertThat(sub.receiveWithin(WINDOW)).as("invalid payload delivered").isEmpty();

            // still connected: the same bytes without the indicator are an ordinary binary payload
            pub.send(publish(MQTT_5, topic, 1, false, false, 8, INVALID_UTF8, null));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();
            ReceivedPacket p = expect(sub, PUBLISH);
            assertThat(p.publishPayload(MQTT_5)).containsExactly(INVALID_UTF8);
            assertThat(p.publishProperties(MQTT_5).has(PAYLOAD_FORMAT_INDICATOR)).isFalse();
        }
    }

    @Test
    void publishQos2_whenUtf8IndicatedButInvalid_thenPubrec0x99AndNotDelivered() throws Exception {
        // §3.3.2.3.2 / §3.5.2.1: PUBREC 0x99 for QoS 2; the message is not published
        String topic = "pf/q2/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic); RawMqttClient pub = connected("pf-pub2")) {
            pub.send(publish(MQTT_5, topic, 2, false, false, 9, INVALID_UTF8, property(PAYLOAD_FORMAT_INDICATOR, 1)));
            ReceivedPacket pubrec = expect(pub, PUBREC);
            assertThat(pubrec.packetId()).isEqualTo(9);
            assertThat(pubrec.pubackReasonCode()).isEqualTo(0x99);
            assertThat(sub.receiveWithin(WINDOW)).as("invalid payload delivered").isEmpty();
        }
    }

    @Test
    void publishQos0_whenUtf8IndicatedButInvalid_thenDisconnect0x99() throws Exception {
        // §3.3.2.3.2: QoS 0 has no acknowledgement, so the refusal is DISCONNECT 0x99 (§3.14.2.1), then close
        String topic = "pf/q0/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic); RawMqttClient pub = connected("pf-pub0")) {
            pub.send(publish(MQTT_5, topic, 0, false, false, 0, INVALID_UTF8, property(PAYLOAD_FORMAT_INDICATOR, 1)));
            ReceivedPacket d = expect(pub, DISCONNECT);
            assertThat(d.disconnectReasonCode()).isEqualTo(0x99);
            assertThat(pub.awaitClosed(TIMEOUT)).isTrue();
            assertThat(sub.receiveWithin(WINDOW)).as("invalid payload delivered").isEmpty();
        }
    }

    @Test
    void publish_whenUtf8IndicatedAndValid_thenDeliveredWithIndicator() throws Exception {
        // [MQTT-3.3.2-4] the server must send the Payload Format Indicator unaltered to subscribers
        String topic = "pf/ok/" + TestClients.uniqueId("t");
        byte[] payload = "grüße ✓".getBytes(StandardCharsets.UTF_8);
        try (RawMqttClient sub = subscriber(topic); RawMqttClient pub = connected("pf-pubok")) {
            pub.send(publish(MQTT_5, topic, 1, false, false, 3, payload, property(PAYLOAD_FORMAT_INDICATOR, 1)));
            assertThat(expect(pub, PUBACK).pubackReasonCode()).isZero();
            ReceivedPacket p = expect(sub, PUBLISH);
            assertThat(p.publishPayload(MQTT_5)).containsExactly(payload);
            assertThat(p.publishProperties(MQTT_5).number(PAYLOAD_FORMAT_INDICATOR)).contains(1L);
        }
    }
}
