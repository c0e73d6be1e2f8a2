package dev.tether.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Zero-length Client Identifiers (MQTT 5.0 §3.1.3.1, §3.2.2.3.7; 3.1.1 §3.1.3.1) and refused CONNACKs. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ClientIdentifierTest {

    private static final Duration PACKET_TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void connect_whenMqtt5ZeroLengthClientId_thenAssignedClientIdentifierAndSessionUnderIt() throws Exception {
        // §3.1.3.1 [MQTT-3.1.3-6] the server assigns a Client Identifier; §3.2.2.3.7 it is returned in CONNACK.
        String assigned;
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, "").cleanStart(true).sessionExpiry(60L).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).isFalse();
            assertThat(connack.connackProperties().string(MqttPackets.ASSIGNED_CLIENT_IDENTIFIER))
                    .as("Assigned Client Identifier").hasValueSatisfying(v -> assertThat(v).isNotEmpty());
            assigned = connack.connackProperties().string(MqttPackets.ASSIGNED_CLIENT_IDENTIFIER).orElseThrow();
            rows.awaitConnected(assigned);
            raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, null));
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        assertThat(rows.awaitOffline(assigned).expiryIntervalSeconds()).isEqualTo(60);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), assigned);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(0).send().isSessionPresent())
                .as("the session lives under the assigned identifier").isTrue();
        again.disconnect();
    }

    @Test
    void connect_whenMqtt311ZeroLengthClientIdAndCleanSessionZero_thenIdentifierRejectedAndClosed() throws Exception {
        // 3.1.1 [MQTT-3.1.3-8] zero-length id with Clean Session 0: CONNACK return code 0x02, then close;
        // 3.1.1 [MQTT-3.2.2-4] a non-zero return code has Session Present 0.
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_3_1_1, "").cleanStart(false).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.type()).isEqualTo(MqttPackets.CONNACK);
            assertThat(connack.connackReasonCode()).isEqualTo(0x02);
            assertThat(connack.connackSessionPresent()).isFalse();
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).as("connection closed").isTrue();
        }
    }

    @Test
    void connect_whenMqtt311ZeroLengthClientIdAndCleanSessionOne_thenAccepted() throws Exception {
        // 3.1.1 §3.1.3.1 a zero-length id is allowed with Clean Session 1; [MQTT-3.2.2-1] Session Present 0.
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_3_1_1, "").cleanStart(true).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackSessionPresent()).isFalse();
            raw.send(MqttPackets.pingreq());
            assertThat(raw.receive(PACKET_TIMEOUT).type()).as("connection usable").isEqualTo(MqttPackets.PINGRESP);
        }
    }

    @Test
    void connect_whenRefusedWithExistingSession_thenSessionPresentZero() throws Exception {
        // [MQTT-3.2.2-6] any non-zero CONNACK reason code has Session Present 0, even with a session to resume
        // (refused here for an unsupported Authentication Method, §3.1.2.11.9).
        String id = TestClients.uniqueId("cid-refused");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(60).send();
        c.disconnect();
        rows.awaitOffline(id);

        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(60L)
                    .extraProperties(MqttPackets.property(MqttPackets.AUTHENTICATION_METHOD, "unknown-method")).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isGreaterThanOrEqualTo(0x80);
            assertThat(connack.connackSessionPresent()).isFalse();
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(true).send().isSessionPresent()).isFalse();
        again.disconnect();
    }
}
