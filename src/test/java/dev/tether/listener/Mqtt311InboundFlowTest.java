package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * MQTT 3.1.1 has no Receive Maximum (§3.3.4 of 5.0 only): Tether's inbound limit (tether.mqtt.receive-maximum,
 * 5 in this profile, shared with {@link ServerLimitsTest}) is announced to and enforced on MQTT 5 clients only.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(ServerLimitsTest.Limits.class)
class Mqtt311InboundFlowTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int LIMIT = 5;

    @Inject
    MqttListener listener;

    private RawMqttClient connected311(String prefix) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(MQTT_3_1_1, TestClients.uniqueId(prefix)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    private static byte[] payload(int i) {
        return ("m" + i).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void publish_whenMqtt311Sends300Qos1AtOnce_thenAll300AcknowledgedInOrderAndStillConnected() throws Exception {
        // 3.1.1 knows no Receive Maximum: 300 QoS 1 PUBLISH written in one go, before reading any PUBACK, are far
        // beyond the MQTT 5 limit of 5 and all acknowledged, in order (3.1.1 [MQTT-4.6.0-2])
        String topic = "limits/311/" + TestClients.uniqueId("t");
        int count = 300;
        try (RawMqttClient raw = connected311("rm-311-q1")) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (int i = 1; i <= count; i++) {
                all.writeBytes(publish(MQTT_3_1_1, topic, 1, i, payload(i)));
            }
            raw.send(all.toByteArray());
            for (int i = 1; i <= count; i++) {
                ReceivedPacket puback = raw.receive(TIMEOUT);
                assertThat(puback.type()).as("packet %d: %s", i, puback).isEqualTo(PUBACK);
                assertThat(puback.packetId()).isEqualTo(i);
            }
            assertThat(raw.awaitClosed(Duration.ofMillis(1_500))).as("closed by the server").isFalse();
            raw.send(pingreq());
            assertThat(raw.receive(TIMEOUT).type()).isEqualTo(PINGRESP);
        }
    }

    @Test
    void publish_whenMqtt311HasMoreQos2UnreleasedThanTheMqtt5Limit_thenAllGetPubrecAndStillConnected() throws Exception {
        // QoS 2 messages awaiting PUBREL count against Receive Maximum in MQTT 5 only: a 3.1.1 client may hold more
        String topic = "limits/311q2/" + TestClients.uniqueId("t");
        int count = LIMIT * 4;
        try (RawMqttClient raw = connected311("rm-311-q2")) {
            for (int i = 1; i <= count; i++) {
                raw.send(publish(MQTT_3_1_1, topic, 2, i, payload(i)));
                ReceivedPacket pubrec = raw.receive(TIMEOUT);
                assertThat(pubrec.type()).as("packet %d: %s", i, pubrec).isEqualTo(PUBREC);
                assertThat(pubrec.packetId()).isEqualTo(i);
            }
            raw.send(pubrel(1, MQTT_3_1_1, 0));
            ReceivedPacket pubcomp = raw.receive(TIMEOUT);
            assertThat(pubcomp.type()).as("packet %s", pubcomp).isEqualTo(PUBCOMP);
            assertThat(pubcomp.packetId()).isEqualTo(1);
            assertThat(raw.awaitClosed(Duration.ofMillis(1_000))).as("closed by the server").isFalse();
        }
    }
}
