package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * MQTT over WebSocket when the HTTP port serves other hosts ({@code quarkus.http.host=0.0.0.0}), behind a reverse proxy
 * on the same host (an ingress, Knative's activator): an anonymous client is refused even when it arrives through
 * loopback, as every client would; and the per-address login throttle counts the address the trusted proxy forwards
 * ({@code X-Forwarded-For} with {@code quarkus.http.proxy.proxy-address-forwarding}), or one attacker would lock every
 * client out.
 */
@QuarkusTest
@TestProfile(WebSocketAnonymousTest.HttpOnEveryAddress.class)
@WithTestResource(PostgresResource.class)
class WebSocketAnonymousTest {

    /**
     * The HTTP port bound to every address, allow-anonymous left at its default; forwarding headers trusted from
     * loopback; a ban after three failed logins.
     */
    public static class HttpOnEveryAddress implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.http.host", "0.0.0.0",
                    "quarkus.http.proxy.proxy-address-forwarding", "true",
                    "quarkus.http.proxy.allow-x-forwarded", "true",
                    "quarkus.http.proxy.trusted-proxies", "127.0.0.1",
                    "tether.auth.failures-before-delay", "10",
                    "tether.auth.failures-before-ban", "3");
        }
    }

    private static final String PASSWORD = "proxied-password";

    @TestHTTPResource("/")
    URL http;
    @Inject
    Authenticator auth;
    @Inject
    DataSource dataSource;

    @Test
    void connect_whenAnonymousOverWebSocketThroughLoopbackWhileHttpServesEveryAddress_thenNotAuthorized() {
        Mqtt5BlockingClient ws = MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("ws-anon"))
                .serverHost("127.0.0.1").serverPort(http.getPort())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt").applyWebSocketConfig()
                .buildBlocking();
        assertThatThrownBy(ws::connect).isInstanceOfSatisfying(Mqtt5ConnAckException.class, e ->
                assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.NOT_AUTHORIZED));
    }

    private Mqtt5BlockingClient client(String forwardedFor) {
        return MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("ws-proxied"))
                .serverHost("127.0.0.1").serverPort(http.getPort())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt")
                .httpHeaders(Map.of("X-Forwarded-For", forwardedFor)).applyWebSocketConfig()
                .buildBlocking();
    }

    private static void connect(Mqtt5BlockingClient c, String password) {
        c.connectWith().simpleAuth().username("proxied-user")
                .password(password.getBytes(StandardCharsets.UTF_8)).applySimpleAuth().send();
    }

    @Test
    void login_whenOneForwardedAddressIsBanned_thenAnotherBehindTheSameProxyStillLogsIn() {
        new Sql(dataSource).update("INSERT INTO mqtt_users (username, password_hash) VALUES (?, crypt(?, gen_salt('bf', 4)))",
                "proxied-user", PASSWORD);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> connect(client("198.51.100.7"), "wrong"))
                    .isInstanceOfSatisfying(Mqtt5ConnAckException.class, e -> assertThat(e.getMqttMessage().getReasonCode())
                            .isEqualTo(Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD));
        }
        long hashes = auth.hashes();
        // The attacker's forwarded address is banned now: even the right password is refused, without hashing.
        assertThatThrownBy(() -> connect(client("198.51.100.7"), PASSWORD))
                .isInstanceOfSatisfying(Mqtt5ConnAckException.class, e -> assertThat(e.getMqttMessage().getReasonCode())
                        .isEqualTo(Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD));
        assertThat(auth.hashes()).isEqualTo(hashes);
        // Another client behind the same proxy (same TCP peer, 127.0.0.1) is not.
        Mqtt5BlockingClient good = client("198.51.100.8");
        connect(good, PASSWORD);
        assertThat(good.getState().isConnected()).isTrue();
        good.disconnect();
    }
}
