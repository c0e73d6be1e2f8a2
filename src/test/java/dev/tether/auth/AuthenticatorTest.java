package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;

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
    void anonymous_whenUnset_thenOnlyOnLoopback() {
        Authenticator auth = authenticator(u -> Uni.createFrom().nothing());
        assertThat(auth.anonymous(true)).isEqualTo(AuthOutcome.ACCEPTED);
        assertThat(auth.anonymous(false)).isEqualTo(AuthOutcome.NOT_AUTHORIZED);
    }

    private static AuthOutcome check(Authenticator auth, String username) {
        return auth.authenticate(new Credentials("10.0.0.1", false, username,
                "pw".getBytes(StandardCharsets.UTF_8))).await().atMost(Duration.ofSeconds(10));
    }

    private Authenticator authenticator(Function<String, Uni<Optional<UserRow>>> rows) {
        Users users = new Users(null) {
            @Override
            public Uni<Optional<UserRow>> find(String username) {
                return rows.apply(username);
            }
        };
        StoreConfig store = config(StoreConfig.class, Map.of("connectTimeout", Duration.ofMillis(300)));
        return new Authenticator(users, config(AuthConfig.class, AUTH), store, Clock.systemUTC(), registry);
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
