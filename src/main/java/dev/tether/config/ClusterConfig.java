package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** Several replicas sharing one PostgreSQL: the replica-to-replica link. */
@ConfigMapping(prefix = "tether.cluster")
public interface ClusterConfig {

    /** Port of the replica-to-replica link, on every interface ({@code 0}: a free port, for tests). */
    @WithDefault("7883")
    int port();

    /**
     * How other replicas reach this one (published in {@code broker_instances.advertised_host}); default: the first
     * non-loopback address of this host.
     */
    Optional<String> advertisedHost();

    /**
     * Shared secret that authenticates replicas to each other on the link (HMAC-SHA256 challenge and response; the
     * secret itself never crosses the wire). Without one, only replicas on loopback addresses may link.
     */
    Optional<String> secret();

    /**
     * How long a replica waits for a peer to acknowledge a subscription change (or to settle a taken-over client)
     * before it fences that peer in PostgreSQL and waits out its lease.
     */
    @WithDefault("2s")
    Duration ackTimeout();

    /**
     * How often a replica looks in PostgreSQL for messages queued for its connected durable clients that no forward
     * brought (a forward lost with a link): the backstop of cross-replica delivery.
     */
    @WithDefault("2s")
    Duration recoveryPollEvery();

    /**
     * Whether a replica that lost its lease ends its process with exit status 75 (EX_TEMPFAIL) once it has stopped
     * serving, so that the orchestrator restarts it as a new instance. Only tests that observe the stop turn it off:
     * a replica left running without its lease serves nobody until restarted.
     */
    @WithDefault("true")
    boolean exitOnLeaseLoss();
}
