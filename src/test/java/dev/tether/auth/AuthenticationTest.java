package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CONNECT with User Name and Password against {@code mqtt_users}, anonymous clients refused. Each test connects from
 * its own loopback address (127.0.0.N) so that the per-address throttle of one test does not reach another.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(AuthenticationTest.NoAnonymous.class)
class AuthenticationTest {

    public static class NoAnonymous implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.auth.allow-anonymous", "false");
        }
    }

    private static final Duration PACKET = Duration.ofSeconds(10);
    private static final int V311 = 4;
    private static final int V5 = 5;

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    Authenticator authenticator;

    private Sql sql;

    @BeforeEach
    void users() {
        sql = new Sql(dataSource);
        sql.update("DELETE FROM mqtt_users");
        // Written by pgcrypto, as the README shows.
        sql.update("INSERT INTO mqtt_users (username, password_hash) VALUES ('alice', crypt('secret', gen_salt('bf', 10)))");
        sql.update("INSERT INTO mqtt_users (username, password_hash) VALUES ('bob', ?)", bcrypt("bob-pw"));
        sql.update("INSERT INTO mqtt_users (username, password_hash, enabled) VALUES ('carol', ?, false)", bcrypt("carol-pw"));
    }

    @Test
    void connect_whenGoodUser_thenAccepted() throws IOException {
        assertThat(connack("127.0.0.11", V5, "alice", "secret").connackReasonCode()).isEqualTo(0x00);
        assertThat(connack("127.0.0.11", V311, "bob", "bob-pw").connackReasonCode()).isEqualTo(0x00);
    }

    @Test
    void connect_whenWrongPasswordOrUnknownUser_thenBadUserNameOrPasswordAlike() throws IOException {
        ReceivedPacket wrong = connack("127.0.0.12", V5, "alice", "nope");
        ReceivedPacket unknown = connack("127.0.0.12", V5, "mallory", "nope");
        assertThat(wrong.connackReasonCode()).isEqualTo(0x86);
        assertThat(unknown.connackReasonCode()).isEqualTo(0x86);
        assertThat(reasonString(unknown)).isEqualTo(reasonString(wrong));
        assertThat(connack("127.0.0.12", V311, "alice", "nope").connackReasonCode()).isEqualTo(4);
        assertThat(connack("127.0.0.13", V311, "mallory", "nope").connackReasonCode()).isEqualTo(4);
    }

    @Test
    void connect_whenDisabledUser_thenNotAuthorized() throws IOException {
        assertThat(connack("127.0.0.14", V5, "carol", "carol-pw").connackReasonCode()).isEqualTo(0x87);
        assertThat(connack("127.0.0.14", V311, "carol", "carol-pw").connackReasonCode()).isEqualTo(5);
    }

    @Test
    void connect_whenAnonymousAndNotAllowed_thenNotAuthorized() throws IOException {
        assertThat(connack("127.0.0.15", V5, null, null).connackReasonCode()).isEqualTo(0x87);
        assertThat(connack("127.0.0.15", V311, null, null).connackReasonCode()).isEqualTo(5);
    }

    @Test
    void connect_whenPasswordWithoutUserName_thenBadCredentialsIn5AndClosedIn311() throws IOException {
        assertThat(connack("127.0.0.16", V5, null, "secret").connackReasonCode()).isEqualTo(0x86);
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.16", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(V311, TestClients.uniqueId("auth")).password("secret").build());
            assertThat(c.awaitClosed(PACKET)).isTrue(); // [MQTT-3.1.2-22]
        }
    }

    @Test
    void connect_whenPasswordChanged_thenNextConnectUsesTheNewOne() throws IOException {
        assertThat(connack("127.0.0.17", V5, "bob", "bob-pw").connackReasonCode()).isEqualTo(0x00);
        sql.update("UPDATE mqtt_users SET password_hash = ?, updated_at = now() WHERE username = 'bob'", bcrypt("new-pw"));
        assertThat(connack("127.0.0.17", V5, "bob", "bob-pw").connackReasonCode()).isEqualTo(0x86);
        assertThat(connack("127.0.0.17", V5, "bob", "new-pw").connackReasonCode()).isEqualTo(0x00);
    }

    @Test
    void disable_whenUserHasLiveClient_thenDisconnectedWithAdministrativeAction() throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom("127.0.0.18", "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(V5, TestClients.uniqueId("auth")).username("bob").password("bob-pw").build());
            assertThat(c.receive(PACKET).connackReasonCode()).isEqualTo(0x00);
            long start = System.nanoTime();
            sql.update("UPDATE mqtt_users SET enabled = false WHERE username = 'bob'");
            ReceivedPacket disconnect = c.receive(PACKET);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x98);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void bruteForce_whenThousandBadConnects_thenFewHashedAndAGoodClientElsewhereStillFast() throws Exception {
        long b0 = System.nanoTime();
        bcrypt("x");
        long bcryptMillis = Duration.ofNanos(System.nanoTime() - b0).toMillis();
        sql.update("INSERT INTO mqtt_users (username, password_hash) VALUES ('dave', ?)", bcrypt("dave-pw"));
        long q0 = System.nanoTime();
        assertThat(connack("127.0.0.21", V311, "dave", "dave-pw").connackReasonCode()).isEqualTo(0);
        long quietMillis = Duration.ofNanos(System.nanoTime() - q0).toMillis();
        long hashesBefore = authenticator.hashes();
        AtomicInteger refused = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(32);
        long start = System.nanoTime();
        try {
            List<Future<?>> attempts = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                attempts.add(pool.submit(() -> {
                    if (connack("127.0.0.19", V311, "alice", "guess").connackReasonCode() == 4) {
                        refused.incrementAndGet();
                    }
                    return null;
                }));
            }
            Thread.sleep(1000); // the storm is on
            long t0 = System.nanoTime();
            assertThat(connack("127.0.0.20", V311, "bob", "bob-pw").connackReasonCode()).isEqualTo(0);
            Duration good = Duration.ofNanos(System.nanoTime() - t0);
            for (Future<?> f : attempts) {
                f.get();
            }
            Duration storm = Duration.ofNanos(System.nanoTime() - start);
            long hashed = authenticator.hashes() - hashesBefore - 1; // the good client's check
            System.out.printf("brute force: %d refused in %d ms, %d hashed; good client connected in %d ms"
                    + " (before the storm: one bcrypt at cost 10 %d ms, a good client %d ms)%n",
                    refused.get(), storm.toMillis(), hashed, good.toMillis(), bcryptMillis, quietMillis);
            assertThat(refused.get()).isEqualTo(1000);
            assertThat(hashed).isLessThanOrEqualTo(50); // at least 95 % refused without hashing
            assertThat(storm).isLessThan(Duration.ofSeconds(10));
            assertThat(good).isLessThan(Duration.ofMillis(500));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void manyClientsBehindOneAddress_whenAllLogInAtOnce_thenAllAcceptedAndNoneBanned() throws Exception {
        // A fleet behind one NAT or proxy reconnecting at once: running checks are not failures.
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        sql.update("INSERT INTO mqtt_users (username, password_hash) VALUES ('fleet', ?)",
                OpenBSDBCrypt.generate("2b", "fleet-pw".toCharArray(), salt, 4));
        ExecutorService pool = Executors.newFixedThreadPool(40);
        try {
            List<Future<Integer>> logins = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                logins.add(pool.submit(() -> connack("127.0.0.22", V5, "fleet", "fleet-pw").connackReasonCode()));
            }
            for (Future<Integer> f : logins) {
                assertThat(f.get()).isZero();
            }
            assertThat(connack("127.0.0.22", V5, "fleet", "fleet-pw").connackReasonCode()).isZero(); // not banned
        } finally {
            pool.shutdownNow();
        }
    }

    private ReceivedPacket connack(String from, int level, String username, String password) throws IOException {
        try (RawMqttClient c = RawMqttClient.connectFrom(from, "127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(level, TestClients.uniqueId("auth")).username(username).password(password)
                    .build());
            return c.receive(PACKET);
        }
    }

    private static String reasonString(ReceivedPacket connack) {
        return connack.connackProperties().string(MqttPackets.REASON_STRING).orElse("");
    }

    private static String bcrypt(String password) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return OpenBSDBCrypt.generate("2b", password.toCharArray(), salt, 10);
    }
}
