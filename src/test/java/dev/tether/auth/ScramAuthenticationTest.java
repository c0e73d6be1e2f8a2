package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.datatypes.MqttUtf8String;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5ClientConfig;
import com.hivemq.client.mqtt.mqtt5.auth.Mqtt5EnhancedAuthMechanism;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.message.auth.Mqtt5Auth;
import com.hivemq.client.mqtt.mqtt5.message.auth.Mqtt5AuthBuilder;
import com.hivemq.client.mqtt.mqtt5.message.auth.Mqtt5EnhancedAuthBuilder;
import com.hivemq.client.mqtt.mqtt5.message.connect.Mqtt5Connect;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.disconnect.Mqtt5Disconnect;

import dev.tether.auth.acl.AccessControl;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.ScramClient;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * MQTT 5 enhanced authentication with SCRAM-SHA-256 over real sockets, against users written with the SQL of the
 * README. The client side of SCRAM is the test's own ({@link ScramClient}). Each test connects from its own loopback
 * address so that the per-address throttle of one does not reach another. Shares {@link AuthenticationTest}'s
 * profile (no restart of Quarkus).
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(AuthenticationTest.NoAnonymous.class)
class ScramAuthenticationTest {

    private static final Duration PACKET = Duration.ofSeconds(10);
    private static final String SCRAM = "SCRAM-SHA-256";
    private static final int CONTINUE = 0x18;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    AccessControl acl;

    private Sql sql;

    @BeforeEach
    void users() {
        sql = new Sql(dataSource);
        sql.update("DELETE FROM mqtt_users WHERE username LIKE 'scram-%'");
        // As the README shows.
        sql.update("INSERT INTO mqtt_users (username, password_hash, scram_sha256)"
                + " VALUES ('scram-sam', crypt('sam-pw', gen_salt('bf', 10)), tether_scram_sha256('sam-pw'))");
        sql.update("INSERT INTO mqtt_users (username, password_hash, scram_sha256, enabled)"
                + " VALUES ('scram-dora', crypt('dora-pw', gen_salt('bf', 10)), tether_scram_sha256('dora-pw'), false)");
        sql.update("INSERT INTO mqtt_users (username, password_hash)"
                + " VALUES ('scram-bcrypt-only', crypt('only-pw', gen_salt('bf', 10)))");
    }

    @Test
    void scram_whenRightPassword_thenConnackSignedAndTheRulesSeeTheUser() throws IOException {
        sql.update("INSERT INTO mqtt_acl (username, action, topic_filter, permission)"
                + " VALUES (NULL, 'all', 'devices/%u/#', 'allow')");
        acl.reload().await().atMost(PACKET);
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.31", "127.0.0.1", listener.port())) {
            ScramClient client = new ScramClient("scram-sam", "sam-pw", "fyko+d2lbbFgONRv9qkxdawL");
            ReceivedPacket connack = login(c, client, "sam-pw");
            assertThat(connack.connackReasonCode()).isEqualTo(0x00);
            assertThat(connack.connackProperties().string(MqttPackets.AUTHENTICATION_METHOD)).contains(SCRAM);
            assertThat(client.verifiesServerFinal(
                    connack.connackProperties().binary(MqttPackets.AUTHENTICATION_DATA).orElseThrow())).isTrue();

            c.send(MqttPackets.subscribe(1, MqttPackets.MQTT_5, null,
                    new MqttPackets.Subscription("devices/scram-sam/#", 1),
                    new MqttPackets.Subscription("devices/someone-else/#", 1)));
            assertThat(c.receive(PACKET).subackReasonCodes(MqttPackets.MQTT_5)).containsExactly(0x01, 0x87);
            c.send(MqttPackets.publish(MqttPackets.MQTT_5, "devices/scram-sam/t", 1, 2,
                    "hi".getBytes(StandardCharsets.UTF_8)));
            List<ReceivedPacket> two = List.of(c.receive(PACKET), c.receive(PACKET));
            assertThat(two).extracting(ReceivedPacket::type)
                    .containsExactlyInAnyOrder(MqttPackets.PUBACK, MqttPackets.PUBLISH);

            // Re-authentication is not offered.
            c.send(MqttPackets.auth(0x19, MqttPackets.authProperties(SCRAM, client.clientFirst())));
            assertThat(c.receive(PACKET).disconnectReasonCode()).isEqualTo(0x8C);
            assertThat(c.awaitClosed(PACKET)).isTrue();
        } finally {
            sql.update("DELETE FROM mqtt_acl");
            acl.reload().await().atMost(PACKET);
        }
    }

    @Test
    void scram_whenHiveMqClientWithAScramMechanism_thenConnectedAndTheServerSignatureChecked() {
        ScramMechanism right = new ScramMechanism(new ScramClient("scram-sam", "sam-pw", "hive-nonce-1"));
        Mqtt5BlockingClient client = MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("scram"))
                .serverHost("127.0.0.1").serverPort(listener.port()).enhancedAuth(right).buildBlocking();
        assertThat(client.connect().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS);
        assertThat(right.serverVerified).isTrue();
        client.publishWith().topic("scram/hive").qos(MqttQos.AT_LEAST_ONCE).payload(new byte[] {1}).send();
        client.disconnect();

        ScramMechanism wrong = new ScramMechanism(new ScramClient("scram-sam", "not-sam-pw", "hive-nonce-2"));
        Mqtt5BlockingClient refused = MqttClient.builder().useMqttVersion5().identifier(TestClients.uniqueId("scram"))
                .serverHost("127.0.0.1").serverPort(listener.port()).enhancedAuth(wrong).buildBlocking();
        assertThatThrownBy(refused::connect).isInstanceOfSatisfying(Mqtt5ConnAckException.class,
                e -> assertThat(e.getMqttMessage().getReasonCode())
                        .isEqualTo(Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD));
    }

    @Test
    void auth_whenClientDidNotUseEnhancedAuthentication_thenProtocolError() throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.40", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(TestClients.uniqueId("scram")).username("scram-sam").password("sam-pw").build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0x00);
            c.send(MqttPackets.auth(0x19, MqttPackets.authProperties(SCRAM, new byte[] {1})));
            assertThat(c.receive(PACKET).disconnectReasonCode()).isEqualTo(0x82); // [MQTT-4.12.0-7]
        }
    }

    @Test
    void connect_whenMqtt311WithPasswordOfAScramUser_thenUnaffected() throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.32", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(MqttPackets.MQTT_3_1_1, TestClients.uniqueId("scram"))
                    .username("scram-sam").password("sam-pw").build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0);
        }
    }

    @Test
    void scram_whenWrongPasswordUnknownUserOrNoScramCredentials_thenAlikeChallengesAndBadUserNameOrPassword()
            throws IOException {
        Challenge wrong = challengeThenRefusal("127.0.0.33", "scram-sam", "not-sam-pw");
        Challenge unknown = challengeThenRefusal("127.0.0.34", "scram-nobody", "x");
        Challenge unknownAgain = challengeThenRefusal("127.0.0.34", "scram-nobody", "x");
        Challenge bcryptOnly = challengeThenRefusal("127.0.0.35", "scram-bcrypt-only", "only-pw");
        for (Challenge c : List.of(wrong, unknown, unknownAgain, bcryptOnly)) {
            assertThat(c.connack().connackReasonCode()).isEqualTo(0x86);
            assertThat(c.attributes().keySet()).containsExactly("r", "s", "i");
            assertThat(c.attributes().get("i")).isEqualTo("4096");
            assertThat(Base64.getDecoder().decode(c.attributes().get("s"))).hasSize(16);
            assertThat(reasonString(c.connack())).isEqualTo(reasonString(wrong.connack()));
        }
        // An unknown user's salt stays the same, as a real user's does.
        assertThat(unknownAgain.attributes().get("s")).isEqualTo(unknown.attributes().get("s"));
        assertThat(unknown.attributes().get("s")).isNotEqualTo(bcryptOnly.attributes().get("s"));
    }

    @Test
    void scram_whenDisabledUserWithRightPassword_thenNotAuthorized() throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.36", "127.0.0.1", listener.port())) {
            assertThat(login(c, new ScramClient("scram-dora", "dora-pw", "n1"), "dora-pw").connackReasonCode())
                    .isEqualTo(0x87);
            assertThat(c.awaitClosed(PACKET)).isTrue();
        }
    }

    @Test
    void connect_whenOtherAuthenticationMethod_thenBadAuthenticationMethod() throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.37", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(TestClients.uniqueId("scram")).authentication("FOO", new byte[] {1}).build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0x8C);
            assertThat(c.awaitClosed(PACKET)).isTrue();
        }
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.37", "127.0.0.1", listener.port())) {
            // Authentication Data without Authentication Method (§3.1.2.11.10).
            c.send(MqttPackets.connect(TestClients.uniqueId("scram"))
                    .extraProperties(MqttPackets.property(MqttPackets.AUTHENTICATION_DATA, new byte[] {1})).build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0x82);
        }
    }

    @Test
    void scram_whenTheClientBreaksTheExchange_thenRefusedAndClosed() throws IOException {
        // An AUTH naming another method, a PUBLISH before CONNACK [MQTT-3.1.2-30], an AUTH with reason 0x00.
        Map<byte[], Integer> breaches = Map.of(
                MqttPackets.auth(CONTINUE, MqttPackets.authProperties("FOO", new byte[] {1})), 0x8C,
                MqttPackets.publish(MqttPackets.MQTT_5, "t", 0, 0, new byte[] {1}), 0x82,
                MqttPackets.auth(0x00, MqttPackets.authProperties(SCRAM, new byte[] {1})), 0x82);
        for (Map.Entry<byte[], Integer> breach : breaches.entrySet()) {
            try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.38", "127.0.0.1", listener.port())) {
                ScramClient client = new ScramClient("scram-sam", "sam-pw", "n2");
                c.send(MqttPackets.connect(TestClients.uniqueId("scram")).authentication(SCRAM, client.clientFirst())
                        .build());
                assertThat(c.receive(PACKET).authReasonCode()).isEqualTo(CONTINUE);
                c.send(breach.getKey());
                assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(breach.getValue());
                assertThat(c.awaitClosed(PACKET)).isTrue();
            }
        }
    }

    @Test
    void scram_whenPostgresCannotAnswer_thenServerUnavailable() throws IOException {
        sql.update("ALTER TABLE mqtt_scram_mock_key RENAME TO mqtt_scram_mock_key_away");
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.39", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(TestClients.uniqueId("scram"))
                    .authentication(SCRAM, new ScramClient("scram-sam", "sam-pw", "n3").clientFirst()).build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0x88);
        } finally {
            sql.update("ALTER TABLE mqtt_scram_mock_key_away RENAME TO mqtt_scram_mock_key");
        }
    }

    @Test
    void tetherScramSha256_whenComputedInPostgres_thenAsInJava() {
        String rfc7677 = sql.rows("SELECT tether_scram_sha256('pencil', 4096, decode('W22ZaJ0SNY7soEsUEjb6gQ==',"
                + " 'base64')) AS c").get(0).get("c").toString();
        assertThat(rfc7677).isEqualTo(ScramClient.storedCredentials("pencil",
                Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096));
        // A random salt, other iterations, a non-ASCII password (taken as its UTF-8 bytes).
        String random = sql.rows("SELECT tether_scram_sha256('pässwörd', 4100) AS c").get(0).get("c").toString();
        String salt = random.substring(random.indexOf(':') + 1, random.indexOf('$', random.indexOf(':')));
        assertThat(random).startsWith("SCRAM-SHA-256$4100:")
                .isEqualTo(ScramClient.storedCredentials("pässwörd", Base64.getDecoder().decode(salt), 4100));
    }

    /** SCRAM-SHA-256 for the HiveMQ client, with the test's own {@link ScramClient}. */
    private static final class ScramMechanism implements Mqtt5EnhancedAuthMechanism {
        private final ScramClient scram;
        private volatile boolean serverVerified;

        ScramMechanism(ScramClient scram) {
            this.scram = scram;
        }

        @Override
        public MqttUtf8String getMethod() {
            return MqttUtf8String.of(SCRAM);
        }

        @Override
        public int getTimeout() {
            return 10;
        }

        @Override
        public CompletableFuture<Void> onAuth(Mqtt5ClientConfig config, Mqtt5Connect connect,
                                              Mqtt5EnhancedAuthBuilder auth) {
            auth.data(scram.clientFirst());
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Boolean> onContinue(Mqtt5ClientConfig config, Mqtt5Auth auth, Mqtt5AuthBuilder reply) {
            reply.data(scram.clientFinal(bytes(auth.getData().orElseThrow())));
            return CompletableFuture.completedFuture(true);
        }

        @Override
        public CompletableFuture<Boolean> onAuthSuccess(Mqtt5ClientConfig config, Mqtt5ConnAck connAck) {
            serverVerified = connAck.getEnhancedAuth().flatMap(a -> a.getData())
                    .map(d -> scram.verifiesServerFinal(bytes(d))).orElse(false);
            return CompletableFuture.completedFuture(serverVerified); // false: the client disconnects
        }

        @Override
        public void onAuthRejected(Mqtt5ClientConfig config, Mqtt5ConnAck connAck) {
        }

        @Override
        public void onAuthError(Mqtt5ClientConfig config, Throwable cause) {
        }

        @Override
        public CompletableFuture<Void> onReAuth(Mqtt5ClientConfig config, Mqtt5AuthBuilder auth) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException("no re-authentication"));
        }

        @Override
        public CompletableFuture<Boolean> onReAuthSuccess(Mqtt5ClientConfig config, Mqtt5Auth auth) {
            return CompletableFuture.completedFuture(false);
        }

        @Override
        public void onReAuthRejected(Mqtt5ClientConfig config, Mqtt5Disconnect disconnect) {
        }

        @Override
        public void onReAuthError(Mqtt5ClientConfig config, Throwable cause) {
        }

        private static byte[] bytes(ByteBuffer b) {
            byte[] out = new byte[b.remaining()];
            b.duplicate().get(out);
            return out;
        }
    }

    /** A server-first-message's attributes and the CONNACK that followed the client-final-message. */
    private record Challenge(Map<String, String> attributes, ReceivedPacket connack) {
    }

    private Challenge challengeThenRefusal(String from, String user, String password) throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom(from, "127.0.0.1", listener.port())) {
            ScramClient client = new ScramClient(user, password, "rOprNGfwEbeRWgbNEkqO");
            c.send(MqttPackets.connect(TestClients.uniqueId("scram")).authentication(SCRAM, client.clientFirst())
                    .build());
            ReceivedPacket auth = c.receive(PACKET);
            byte[] serverFirst = auth.authProperties().binary(MqttPackets.AUTHENTICATION_DATA).orElseThrow();
            c.send(MqttPackets.auth(CONTINUE, MqttPackets.authProperties(SCRAM, client.clientFinal(serverFirst))));
            ReceivedPacket connack = c.receive(PACKET);
            assertThat(c.awaitClosed(PACKET)).isTrue();
            return new Challenge(ScramClient.attributes(serverFirst), connack);
        }
    }

    /** CONNECT with the client-first-message, AUTH 0x18 from the server, AUTH 0x18 back; returns the CONNACK. */
    private static ReceivedPacket login(RawMqttClient c, ScramClient client, String password) throws IOException {
        c.send(MqttPackets.connect(TestClients.uniqueId("scram")).authentication(SCRAM, client.clientFirst()).build());
        ReceivedPacket auth = c.receive(PACKET);
        assertThat(auth.authReasonCode()).isEqualTo(CONTINUE);
        assertThat(auth.authProperties().string(MqttPackets.AUTHENTICATION_METHOD)).contains(SCRAM);
        byte[] serverFirst = auth.authProperties().binary(MqttPackets.AUTHENTICATION_DATA).orElseThrow();
        c.send(MqttPackets.auth(CONTINUE, MqttPackets.authProperties(SCRAM, client.clientFinal(serverFirst, password))));
        return c.receive(PACKET);
    }

    private static String reasonString(ReceivedPacket connack) {
        return connack.connackProperties().string(MqttPackets.REASON_STRING).orElse("");
    }
}
