package dev.tether.cluster.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.config.ClusterConfig;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AdvertisedHostTest {

    private static ClusterConfig config(Optional<String> host, Optional<String> secret) {
        return new ClusterConfig() {
            public int port() {
                return 7883;
            }

            public Optional<String> advertisedHost() {
                return host;
            }

            public Optional<String> secret() {
                return secret;
            }

            public Duration ackTimeout() {
                return Duration.ofSeconds(2);
            }

            public Duration recoveryPollEvery() {
                return Duration.ofSeconds(2);
            }

            public boolean exitOnLeaseLoss() {
                return true;
            }
        };
    }

    @Test
    void advertisedHost_whenNoSecretAndNoHost_thenLoopback() {
        assertThat(Replicas.advertisedHost(config(Optional.empty(), Optional.empty()))).isEqualTo("127.0.0.1");
    }

    @Test
    void advertisedHost_whenNoSecretAndPublicHost_thenStartFailsSayingWhy() {
        assertThatThrownBy(() -> Replicas.advertisedHost(config(Optional.of("10.1.2.3"), Optional.empty())))
                .hasMessageContaining("tether.cluster.secret");
    }

    @Test
    void advertisedHost_whenSecretAndHostGiven_thenThatHost() {
        assertThat(Replicas.advertisedHost(config(Optional.of("10.1.2.3"), Optional.of("s3cret")))).isEqualTo("10.1.2.3");
    }
}
