package dev.tether.cluster.mesh;

import dev.tether.config.ClusterConfig;
import dev.tether.delivery.ConnectedClients;
import dev.tether.store.BrokerInstance;
import dev.tether.store.UndeliveredMessages;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * The backstop of cross-replica delivery: copies for durable sessions are committed before they are forwarded, so a
 * forward lost with a link (or a copy committed before its replica learned where the client is) is still in
 * PostgreSQL, queued. Every {@code tether.cluster.recovery-poll-every}, while other replicas are live, this replica
 * hands its connected clients what has been queued for them longer than that. A connection ignores what it holds.
 */
@ApplicationScoped
public class ForwardRecovery {

    private static final Logger LOG = Logger.getLogger(ForwardRecovery.class);
    private static final int LIMIT = 1000;

    private final Replicas replicas;
    private final UndeliveredMessages undelivered;
    private final ConnectedClients clients;
    private final BrokerInstance instance;
    private final ClusterConfig config;
    private final Counter recovered;
    private volatile boolean everClustered;

    public ForwardRecovery(Replicas replicas, UndeliveredMessages undelivered, ConnectedClients clients,
                           BrokerInstance instance, ClusterConfig config, MeterRegistry registry) {
        this.replicas = replicas;
        this.undelivered = undelivered;
        this.clients = clients;
        this.instance = instance;
        this.config = config;
        this.recovered = registry.counter("tether.cluster.poll.recovered");
    }

    @Scheduled(every = "${tether.cluster.recovery-poll-every:2s}", delayed = "2s",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> run() {
        everClustered |= replicas.hasPeers();
        if (!everClustered) {
            return Uni.createFrom().voidItem(); // one replica alone delivers every copy itself
        }
        return undelivered.olderThan(instance.id(), config.recoveryPollEvery(), LIMIT)
                .invoke(found -> found.forEach(u -> clients.get(u.clientId()).ifPresent(c -> {
                    recovered.increment();
                    c.recover(u.message());
                })))
                .onFailure().invoke(f -> LOG.debugf("recovery poll failed: %s", f.toString()))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }
}
