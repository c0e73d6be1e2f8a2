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
import java.util.HashSet;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The backstop of cross-replica delivery: copies for durable sessions are committed before they are forwarded, so a
 * forward lost with a link (or a copy committed before its replica learned where the client is) is still in
 * PostgreSQL, queued. Every {@code tether.cluster.recovery-poll-every}, while other replicas are live, this replica
 * hands its connected clients what two runs in a row found queued for them longer than that. A connection ignores
 * what it holds.
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
    /** Message ids the previous run found queued too long. */
    private volatile Set<Long> seenLastRun = Set.of();

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
                .invoke(found -> {
                    Set<Long> now = new HashSet<>();
                    for (UndeliveredMessages.Undelivered u : found) {
                        long id = u.message().messageId();
                        now.add(id);
                        // Only what two polls in a row found still queued: a message the connection completed right
                        // after the first query is not sent again (for QoS 2 that would be a second delivery).
                        if (seenLastRun.contains(id)) {
                            clients.get(u.clientId()).ifPresent(c -> {
                                recovered.increment();
                                c.recover(u.message());
                            });
                        }
                    }
                    seenLastRun = now;
                })
                .onFailure().invoke(f -> LOG.debugf("recovery poll failed: %s", f.toString()))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }
}
