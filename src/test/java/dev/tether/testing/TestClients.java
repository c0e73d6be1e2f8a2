package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import java.io.IOException;
import java.time.Duration;
import java.util.UUID;

/** Real MQTT clients (HiveMQ MQTT client) pointed at the broker under test. */
public final class TestClients {

    private TestClients() {
    }

    /** A fresh, unique Client Identifier with a readable prefix. */
    public static String uniqueId(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public static Mqtt5BlockingClient mqtt5(int port, String clientId) {
        return MqttClient.builder().useMqttVersion5().identifier(clientId)
                .serverHost("127.0.0.1").serverPort(port).buildBlocking();
    }

    /**
     * A {@link RawMqttClient} that sent {@code connect} and was accepted: CONNACK 0x00 with the expected Session
     * Present, read within {@code wait}. The caller closes it.
     */
    public static RawMqttClient connectRaw(int port, MqttPackets.ConnectBuilder connect, boolean sessionPresent,
                                           Duration wait) throws IOException {
        RawMqttClient c = RawMqttClient.connect("127.0.0.1", port);
        try {
            c.send(connect.build());
            ReceivedPacket connack = c.receive(wait);
            assertThat(connack.type()).as("expected CONNACK, got %s", connack).isEqualTo(MqttPackets.CONNACK);
            assertThat(connack.connackReasonCode()).as("CONNACK reason code").isZero();
            assertThat(connack.connackSessionPresent()).as("Session Present").isEqualTo(sessionPresent);
            return c;
        } catch (IOException | AssertionError e) {
            c.close();
            throw e;
        }
    }

    public static Mqtt3BlockingClient mqtt3(int port, String clientId) {
        return MqttClient.builder().useMqttVersion3().identifier(clientId)
                .serverHost("127.0.0.1").serverPort(port).buildBlocking();
    }
}
