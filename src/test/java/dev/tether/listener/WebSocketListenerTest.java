package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** MQTT over WebSocket on the HTTP port (MQTT 5.0 §6), sharing sessions with MQTT over TCP. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class WebSocketListenerTest {

    @Inject
    MqttListener listener;

    @TestHTTPResource("/")
    URL http;

    private Mqtt5BlockingClient overWebSocket(String id) {
        return MqttClient.builder().useMqttVersion5().identifier(id).serverHost("127.0.0.1").serverPort(http.getPort())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt").applyWebSocketConfig()
                .buildBlocking();
    }

    @Test
    void websocket_whenClientSubscribes_thenReceivesMessagesPublishedOverTcp() throws Exception {
        String id = TestClients.uniqueId("ws-sub");
        String topic = "ws/" + id;
        Mqtt5BlockingClient ws = overWebSocket(id);
        assertThat(ws.connectWith().cleanStart(true).send().getReasonCode().isError()).isFalse();
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = ws.publishes(com.hivemq.client.mqtt.MqttGlobalPublishFilter.ALL)) {
            ws.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            Mqtt5BlockingClient tcp = TestClients.mqtt5(listener.port(), TestClients.uniqueId("tcp-pub"));
            tcp.connect();
            tcp.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload("over the web".getBytes(StandardCharsets.UTF_8)).send();
            Optional<Mqtt5Publish> got = publishes.receive(5, TimeUnit.SECONDS);
            assertThat(got).isPresent();
            assertThat(new String(got.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("over the web");
            tcp.disconnect();
        }
        ws.disconnect();
    }

    @Test
    void websocket_whenSessionStartedOverWebSocket_thenResumedOverTcp() {
        // A Knative pod's socket is cut by the revision timeout: the client resumes its session (Clean Start 0).
        String id = TestClients.uniqueId("ws-resume");
        Mqtt5BlockingClient ws = overWebSocket(id);
        ws.connectWith().cleanStart(true).sessionExpiryInterval(60).send();
        ws.disconnect();
        Mqtt5BlockingClient tcp = TestClients.mqtt5(listener.port(), id);
        assertThat(tcp.connectWith().cleanStart(false).sessionExpiryInterval(60).send().isSessionPresent()).isTrue();
        tcp.disconnect();
    }
}
