package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5ClientBuilder;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5SubAckException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.suback.Mqtt5SubAckReasonCode;
import dev.tether.auth.acl.AccessControl;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.Sql;
import dev.tether.testing.TestCertificates;
import dev.tether.testing.TestClients;
import dev.tether.testing.TlsResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.sql.DataSource;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * MQTT over TLS on its own port and over WSS on the HTTPS port, with the certificates of {@link TlsResource}: client
 * certificates are requested (not required) and, with {@code tether.auth.certificate-as-username}, a certificate's CN
 * is the username. Clients: mosquitto_pub (a real process) and the HiveMQ client, over real sockets.
 */
@QuarkusTest
@TestProfile(TlsListenerTest.ClientCertificatesRequested.class)
@WithTestResource(PostgresResource.class)
@WithTestResource(TlsResource.class)
class TlsListenerTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** Client certificates requested on both ports; a certificate's CN is the username. */
    public static class ClientCertificatesRequested implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.mqtt.tls-client-auth", "request",
                    "tether.auth.certificate-as-username", "true",
                    "quarkus.http.ssl.client-auth", "request");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    MqttTls tls;
    @Inject
    AccessControl acl;
    @Inject
    DataSource dataSource;

    @TestHTTPResource(value = "/", tls = true)
    URL https;

    @AfterEach
    void removeRulesAndUsers() {
        new Sql(dataSource).update("DELETE FROM mqtt_acl");
        new Sql(dataSource).update("DELETE FROM mqtt_users");
        acl.reload().await().atMost(WAIT);
    }

    /** A client of the TLS port trusting {@code caFile}, presenting {@code certName}'s certificate if given. */
    private Mqtt5ClientBuilder overTls(String caFile, Optional<String> certName) throws Exception {
        return secured(MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("tls"))
                .serverHost("127.0.0.1").serverPort(listener.tlsPort()), caFile, certName);
    }

    private Mqtt5ClientBuilder overWss(Optional<String> certName) throws Exception {
        return secured(MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("wss"))
                .serverHost("127.0.0.1").serverPort(https.getPort())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt").applyWebSocketConfig(), "ca.pem", certName);
    }

    private static Mqtt5ClientBuilder secured(Mqtt5ClientBuilder builder, String caFile, Optional<String> certName)
            throws Exception {
        var ssl = builder.sslConfig().trustManagerFactory(TestCertificates.trustManagers(TlsResource.path(caFile)));
        if (certName.isPresent()) {
            ssl = ssl.keyManagerFactory(TestCertificates.keyManagers(TlsResource.path(certName.get() + ".pem"),
                    TlsResource.path(certName.get() + "-key.pem")));
        }
        return ssl.applySslConfig();
    }

    private static Mqtt5SubAckReasonCode subscribe(Mqtt5BlockingClient c, String filter) {
        try {
            return c.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).send().getReasonCodes().get(0);
        } catch (Mqtt5SubAckException e) {
            return e.getMqttMessage().getReasonCodes().get(0);
        }
    }

    private static String text(Mqtt5Publish p) {
        return new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void mosquittoPub_whenItTrustsTheCa_thenASubscriberOverTlsReceivesTheMessage() throws Exception {
        String topic = "tls/" + TestClients.uniqueId("mosquitto");
        Mqtt5BlockingClient subscriber = overTls("ca.pem", Optional.empty()).buildBlocking();
        subscriber.connect();
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = subscriber.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(subscribe(subscriber, topic)).isEqualTo(Mqtt5SubAckReasonCode.GRANTED_QOS_1);
            Process pub = new ProcessBuilder("mosquitto_pub", "--cafile", TlsResource.path("ca.pem").toString(),
                    "-h", "127.0.0.1", "-p", String.valueOf(listener.tlsPort()), "-V", "mqttv5", "-q", "1",
                    "-i", TestClients.uniqueId("mosquitto"), "-t", topic, "-m", "over TLS")
                    .redirectErrorStream(true).start();
            assertThat(pub.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("mosquitto_pub ended").isTrue();
            assertThat(pub.exitValue()).as("mosquitto_pub: %s",
                    new String(pub.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
            Optional<Mqtt5Publish> received = publishes.receive(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(received).map(TlsListenerTest::text).contains("over TLS");
        } finally {
            subscriber.disconnect();
        }
    }

    @Test
    void connect_whenOverWssOnTheHttpsPort_thenMessagesFlow() throws Exception {
        String topic = "wss/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient client = overWss(Optional.empty()).buildBlocking();
        assertThat(client.connect().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = client.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(subscribe(client, topic)).isEqualTo(Mqtt5SubAckReasonCode.GRANTED_QOS_1);
            client.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("over WSS".getBytes(StandardCharsets.UTF_8)).send();
            assertThat(publishes.receive(WAIT.toSeconds(), TimeUnit.SECONDS)).map(TlsListenerTest::text)
                    .contains("over WSS");
        } finally {
            client.disconnect();
        }
    }

    @Test
    void connect_whenTheClientTrustsAnotherCa_thenTheHandshakeFailsAndIsCounted() throws Exception {
        double before = tls.handshakeFailures();
        Mqtt5BlockingClient client = overTls("other-ca.pem", Optional.empty()).buildBlocking();
        assertHandshakeFails(client::connect);
        await().atMost(WAIT).until(() -> tls.handshakeFailures() > before);
    }

    @Test
    void connect_whenTheClientPresentsACertificateOfAnUntrustedCa_thenTheHandshakeFailsAndIsCounted() throws Exception {
        double before = tls.handshakeFailures();
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(new KeyManager[] {TestCertificates.presentingAlways(TestCertificates.read(
                        TlsResource.path("forged-alice.pem"), TlsResource.path("forged-alice-key.pem")))},
                TestCertificates.trustManagers(TlsResource.path("ca.pem")).getTrustManagers(), null);
        Socket socket = context.getSocketFactory().createSocket("127.0.0.1", listener.tlsPort());
        try (RawMqttClient forged = RawMqttClient.over(socket)) {
            // TLS 1.3: the client may finish its side of the handshake, then reads the server's alert instead of CONNACK.
            assertThatThrownBy(() -> {
                forged.send(MqttPackets.connect(5, TestClients.uniqueId("forged")).build());
                forged.receive(WAIT);
            }).isInstanceOf(IOException.class).isNotInstanceOf(SocketTimeoutException.class);
        }
        await().atMost(WAIT).until(() -> tls.handshakeFailures() > before);
    }

    @Test
    void subscribe_whenOnlyAliceMayReadHerDevices_thenHerCertificateLogsHerInAsAlice() throws Exception {
        new Sql(dataSource).update("INSERT INTO mqtt_acl (username, action, topic_filter, permission) "
                + "VALUES ('alice', 'subscribe', 'devices/alice/#', 'allow')");
        acl.reload().await().atMost(WAIT);
        Mqtt5BlockingClient alice = overTls("ca.pem", Optional.of("alice")).buildBlocking();
        Mqtt5BlockingClient anonymous = overTls("ca.pem", Optional.empty()).buildBlocking();
        assertThat(alice.connect().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS); // no User Name sent
        anonymous.connect();
        try {
            assertThat(subscribe(alice, "devices/alice/#")).isEqualTo(Mqtt5SubAckReasonCode.GRANTED_QOS_1);
            assertThat(subscribe(anonymous, "devices/alice/#")).isEqualTo(Mqtt5SubAckReasonCode.NOT_AUTHORIZED);
            // alice has no mqtt_users row: the job that disconnects removed users (every second) leaves her alone.
            await().during(Duration.ofMillis(1500)).atMost(WAIT).until(() -> alice.getState().isConnected());
        } finally {
            alice.disconnect();
            anonymous.disconnect();
        }
    }

    @Test
    void connect_whenTheCertificateNamesADisabledUser_thenNotAuthorized() throws Exception {
        disabledUser();
        Mqtt5BlockingClient disabled = overTls("ca.pem", Optional.of("disabled")).buildBlocking();
        assertRefused(disabled::connect, Mqtt5ConnAckReasonCode.NOT_AUTHORIZED);
    }

    @Test
    void connect_whenOverWssWithTheCertificateOfADisabledUser_thenNotAuthorized() throws Exception {
        disabledUser(); // without its certificate read, the client would be anonymous, and accepted on loopback
        Mqtt5BlockingClient disabled = overWss(Optional.of("disabled")).buildBlocking();
        assertRefused(disabled::connect, Mqtt5ConnAckReasonCode.NOT_AUTHORIZED);
    }

    @Test
    void connect_whenTheUserNameDiffersFromTheCertificate_thenBadUserNameOrPassword() throws Exception {
        new Sql(dataSource).update("INSERT INTO mqtt_users (username, password_hash) "
                + "VALUES ('bob', crypt('secret', gen_salt('bf', 4)))"); // bob's own password would let him in
        Mqtt5BlockingClient mallory = overTls("ca.pem", Optional.of("alice")).simpleAuth()
                .username("bob").password("secret".getBytes(StandardCharsets.UTF_8)).applySimpleAuth().buildBlocking();
        assertRefused(mallory::connect, Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD);
    }

    private void disabledUser() {
        new Sql(dataSource).update("INSERT INTO mqtt_users (username, password_hash, enabled) "
                + "VALUES (?, crypt('unused', gen_salt('bf', 4)), false)", TlsResource.DISABLED_USER);
    }

    private static void assertRefused(ThrowableAssert.ThrowingCallable connect, Mqtt5ConnAckReasonCode reason) {
        assertThatThrownBy(connect).isInstanceOfSatisfying(Mqtt5ConnAckException.class,
                e -> assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(reason));
    }

    /** The connection failed in the TLS handshake: an {@link SSLException} among the causes. */
    static void assertHandshakeFails(ThrowableAssert.ThrowingCallable connect) {
        Throwable thrown = catchThrowable(connect);
        assertThat(thrown).as("connect failed").isNotNull();
        List<Throwable> chain = new ArrayList<>();
        for (Throwable t = thrown; t != null && !chain.contains(t); t = t.getCause()) {
            chain.add(t);
        }
        assertThat(chain).as("causes of %s", thrown).anyMatch(t -> t instanceof SSLException);
    }
}
