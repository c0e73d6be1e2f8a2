package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.auth.scram.ClientFirstMessage;
import dev.tether.auth.scram.ScramExchange;
import dev.tether.auth.scram.ScramLookup;
import dev.tether.config.AuthConfig;
import dev.tether.config.StoreConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.smallrye.mutiny.Uni;
import java.lang.reflect.Proxy;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The Authenticator without PostgreSQL: {@code mqtt_users} stands in as a function; the failure paths fail closed. */
class AuthenticatorTest {

    private static final Map<String, Object> AUTH = Map.of("allowAnonymous", Optional.empty(),
            "failuresBeforeDelay", 3, "failuresBeforeBan", 10, "banDuration", Duration.ofSeconds(60),
            "maxDelay", Duration.ofSeconds(5), "maxTrackedAddresses", 100, "verifierThreads", 1, "verifierQueue", 8,
            "cacheSize", 100);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @Test
    void authenticate_whenPostgresFails_thenUnavailable() {
        Authenticator auth = authenticator(u -> Uni.createFrom().failure(new ConnectException("refused")));
        assertThat(check(auth, "alice")).isEqualTo(AuthOutcome.UNAVAILABLE);
        assertThat(registry.counter("tether.auth.failures", "reason", "unavailable").count()).isEqualTo(1);
    }

    @Test
    void authenticate_whenPostgresDoesNotAnswerInTime_thenUnavailable() {
        Authenticator auth = authenticator(u -> Uni.createFrom().nothing());
        assertThat(check(auth, "alice")).isEqualTo(AuthOutcome.UNAVAILABLE);
    }

    @Test
    void authenticate_whenUnknownUser_thenADummyHashIsCheckedAndBadCredentials() {
        Authenticator auth = authenticator(u -> Uni.createFrom().item(Optional.empty()));
        assertThat(check(auth, "nobody")).isEqualTo(AuthOutcome.BAD_CREDENTIALS);
        assertThat(auth.hashes()).isEqualTo(1);
    }

    @Test
    void beginScram_whenPostgresFails_thenUnavailable() {
        Authenticator auth = authenticator(AUTH, u -> Uni.createFrom().nothing(),
                u -> Uni.createFrom().failure(new ConnectException("refused")));
        assertThat(beginScram(auth, "10.0.0.2").refusal()).isEqualTo(AuthOutcome.UNAVAILABLE);
    }

    @Test
    void finishScram_whenBadProofsReachTheBan_thenTheAddressIsRefusedWithoutALookup() {
        Map<String, Object> banAfterThree = new java.util.HashMap<>(AUTH);
        banAfterThree.put("failuresBeforeDelay", 10);
        banAfterThree.put("failuresBeforeBan", 3);
        java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
        Authenticator auth = authenticator(banAfterThree, u -> Uni.createFrom().nothing(), u -> {
            lookups.incrementAndGet();
            return Uni.createFrom().item(new ScramLookup(Optional.empty(), false, new byte[16]));
        });
        for (int i = 0; i < 3; i++) {
            ScramExchange exchange = beginScram(auth, "10.0.0.3").exchange().orElseThrow();
            assertThat(auth.finishScram("10.0.0.3", exchange, "c=biws,r=x,p=AAAA".getBytes(StandardCharsets.UTF_8))
                    .outcome()).isEqualTo(AuthOutcome.BAD_CREDENTIALS);
        }
        assertThat(beginScram(auth, "10.0.0.3").refusal()).isEqualTo(AuthOutcome.BAD_CREDENTIALS);
        assertThat(lookups.get()).isEqualTo(3);
        assertThat(registry.counter("tether.auth.failures", "reason", "banned").count()).isEqualTo(1);
        assertThat(beginScram(auth, "10.0.0.4").exchange()).as("another address").isPresent();
    }

    @Test
    void anonymous_whenUnset_thenOnlyOnLoopback() {
        Authenticator auth = authenticator(u -> Uni.createFrom().nothing());
        assertThat(auth.anonymous(true)).isEqualTo(AuthOutcome.ACCEPTED);
        assertThat(auth.anonymous(false)).isEqualTo(AuthOutcome.NOT_AUTHORIZED);
    }

    private static AuthOutcome check(Authenticator auth, String username) {
        return auth.authenticate(new Credentials("10.0.0.1", false, username,
                "pw".getBytes(StandardCharsets.UTF_8))).await().atMost(Duration.ofSeconds(10));
    }

    private static Authenticator.ScramStart beginScram(Authenticator auth, String address) {
        ClientFirstMessage first = ClientFirstMessage.parse("n,,n=alice,r=abc".getBytes(StandardCharsets.UTF_8))
                .orElseThrow();
        return auth.beginScram(address, first).await().atMost(Duration.ofSeconds(10));
    }

    private Authenticator authenticator(Function<String, Uni<Optional<UserRow>>> rows) {
        return authenticator(AUTH, rows, u -> Uni.createFrom().nothing());
    }

    private Authenticator authenticator(Map<String, Object> authConfig, Function<String, Uni<Optional<UserRow>>> rows,
                                        Function<String, Uni<ScramLookup>> scram) {
        Users users = new Users(null) {
            @Override
            public Uni<Optional<UserRow>> find(String username) {
                return rows.apply(username);
            }

            @Override
            public Uni<ScramLookup> findScram(String username) {
                return scram.apply(username);
            }
        };
        StoreConfig store = config(StoreConfig.class, Map.of("connectTimeout", Duration.ofMillis(300)));
        return new Authenticator(users, config(AuthConfig.class, authConfig), store, Clock.systemUTC(), registry);
    }

    @SuppressWarnings("unchecked")
    private static <T> T config(Class<T> type, Map<String, Object> values) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> {
            if (!values.containsKey(m.getName())) {
                throw new UnsupportedOperationException(m.getName());
            }
            return values.get(m.getName());
        });
    }
}
