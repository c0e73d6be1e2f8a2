package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5ClientBuilder;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestCertificates;
import dev.tether.testing.TestClients;
import dev.tether.testing.TlsResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * MQTT over TLS with client certificates required ({@code tether.mqtt.tls-client-auth=required}), and the server
 * certificate reloaded from its PEM files while the listener runs ({@code quarkus.tls.reload-period}).
 */
@QuarkusTest
@TestProfile(TlsClientAuthRequiredTest.ClientCertificatesRequired.class)
@WithTestResource(PostgresResource.class)
@WithTestResource(TlsResource.class)
class TlsClientAuthRequiredTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** Client certificates required; the TLS registry reads the PEM files again every second. */
    public static class ClientCertificatesRequired implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.mqtt.tls-client-auth", "required",
                    "quarkus.tls.reload-period", "1s");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    MqttTls tls;

    private Mqtt5ClientBuilder client() throws Exception {
        return MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("mtls"))
                .serverHost("127.0.0.1").serverPort(listener.tlsPort())
                .sslConfig().trustManagerFactory(TestCertificates.trustManagers(TlsResource.path("ca.pem")))
                .applySslConfig();
    }

    @Test
    void connect_whenTheClientHasNoCertificate_thenTheHandshakeFailsAndIsCounted() throws Exception {
        double before = tls.handshakeFailures();
        Mqtt5BlockingClient anonymous = client().buildBlocking();
        TlsListenerTest.assertHandshakeFails(anonymous::connect);
        await().atMost(WAIT).until(() -> tls.handshakeFailures() > before);
    }

    @Test
    void connect_whenTheClientPresentsATrustedCertificate_thenAccepted() throws Exception {
        Mqtt5BlockingClient alice = client().sslConfig()
                .trustManagerFactory(TestCertificates.trustManagers(TlsResource.path("ca.pem")))
                .keyManagerFactory(TestCertificates.keyManagers(TlsResource.path("alice.pem"),
                        TlsResource.path("alice-key.pem")))
                .applySslConfig().buildBlocking();
        assertThat(alice.connect().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS);
        alice.disconnect();
    }

    @Test
    void handshake_whenTheCertificateFilesAreReplaced_thenNewClientsGetTheNewCertificate() throws Exception {
        TestCertificates.Issued ca = TestCertificates.read(TlsResource.path("ca.pem"), TlsResource.path("ca-key.pem"));
        assertThat(serverCertificate()).isEqualTo(TestCertificates.read(TlsResource.path("server.pem"),
                TlsResource.path("server-key.pem")).certificate());
        TestCertificates.Issued renewed = TestCertificates.server(ca); // same CA: other tests still trust it
        renewed.write(TlsResource.DIR, "server");
        // A handshake during the swap itself may fail: polled again.
        await().atMost(WAIT).ignoreExceptions().until(() -> serverCertificate().equals(renewed.certificate()));
    }

    /** The certificate the TLS port presents to a new client (alice's certificate, trusting the test CA). */
    private X509Certificate serverCertificate() throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(new KeyManager[] {TestCertificates.presentingAlways(TestCertificates.read(
                        TlsResource.path("alice.pem"), TlsResource.path("alice-key.pem")))},
                TestCertificates.trustManagers(TlsResource.path("ca.pem")).getTrustManagers(), null);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", listener.tlsPort())) {
            socket.setSoTimeout((int) WAIT.toMillis());
            socket.startHandshake();
            return (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }
    }
}
