package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.net.URL;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * MQTT over WebSocket when the HTTP port serves other hosts ({@code quarkus.http.host=0.0.0.0}): an anonymous client
 * is refused even when it arrives through loopback, as every client would behind a reverse proxy on the same host.
 */
@QuarkusTest
@TestProfile(WebSocketAnonymousTest.HttpOnEveryAddress.class)
@WithTestResource(PostgresResource.class)
class WebSocketAnonymousTest {

    /** The HTTP port bound to every address, allow-anonymous left at its default. */
    public static class HttpOnEveryAddress implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.http.host", "0.0.0.0");
        }
    }

    @TestHTTPResource("/")
    URL http;

    @Test
    void connect_whenAnonymousOverWebSocketThroughLoopbackWhileHttpServesEveryAddress_thenNotAuthorized() {
        Mqtt5BlockingClient ws = MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("ws-anon"))
                .serverHost("127.0.0.1").serverPort(http.getPort())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt").applyWebSocketConfig()
                .buildBlocking();
        assertThatThrownBy(ws::connect).isInstanceOfSatisfying(Mqtt5ConnAckException.class, e ->
                assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.NOT_AUTHORIZED));
    }
}
