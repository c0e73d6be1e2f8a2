package dev.tether.testing;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
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

    public static Mqtt3BlockingClient mqtt3(int port, String clientId) {
        return MqttClient.builder().useMqttVersion3().identifier(clientId)
                .serverHost("127.0.0.1").serverPort(port).buildBlocking();
    }
}
