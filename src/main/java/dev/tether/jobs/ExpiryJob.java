package dev.tether.jobs;

import dev.tether.cluster.Change;
import dev.tether.cluster.Cluster;
import dev.tether.config.StoreConfig;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.delivery.WillPublisher;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.store.ExpiredSessions;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.util.Arrays;
import org.jboss.logging.Logger;

/**
 * Every second: publishes wills whose delay has passed, removes sessions whose Session Expiry
 * Interval has run out, deletes queued (never sent) and retained messages whose Message Expiry Interval
 * has run out, and releases sessions of dead instances. Claims rows with
 * {@code FOR UPDATE SKIP LOCKED}, so any number of replicas may run it at once; a failed run is
 * logged and the next one starts afresh.
 */
@ApplicationScoped
public class ExpiryJob {

    private static final Logger LOG = Logger.getLogger(ExpiryJob.class);
    private static final int MAX_ROUNDS = 100;

    private final ExpiredSessions expired;
    private final WillPublisher wills;
    private final SubscriptionIndex subscriptions;
    private final SessionDirectory sessions;
    private final RetainedMessages retained;
    private final StoreConfig config;
    private final Clock clock;
    private final Cluster cluster;

    public ExpiryJob(ExpiredSessions expired, WillPublisher wills, SubscriptionIndex subscriptions,
                     SessionDirectory sessions, RetainedMessages retained, StoreConfig config, Clock clock,
                     Cluster cluster) {
        this.cluster = cluster;
        this.expired = expired;
        this.wills = wills;
        this.subscriptions = subscriptions;
        this.sessions = sessions;
        this.retained = retained;
        this.config = config;
        this.clock = clock;
    }

    @Scheduled(every = "${tether.jobs.expiry-every:1s}", delayed = "1s",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> run() {
        return runOnce()
                .onFailure().invoke(f -> LOG.warnf("expiry run failed: %s", f.toString()))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }

    /** One full cycle: loops over bounded batches until nothing is due. Returns the number of sessions removed. */
    public Uni<Integer> runOnce() {
        return expired.releaseDeadInstances().chain(() -> round(0, 0));
    }

    private Uni<Integer> round(int n, int removedSoFar) {
        int batch = config.expiryBatchSize();
        // How many of each kind this round claimed: due wills, sessions, queued messages, retained messages.
        int[] claimed = new int[4];
        return expired.claimDueWills(batch)
                .invoke(due -> {
                    claimed[0] = due.size();
                    due.forEach(w -> wills.publishAndForget(w.clientId(), w.will()));
                })
                .chain(() -> expired.removeExpiredSessions(batch))
                .invoke(gone -> {
                    claimed[1] = gone.size();
                    gone.forEach(g -> {
                        subscriptions.removeAll(g.clientId());
                        sessions.remove(g.clientId());
                        g.pendingWill().ifPresent(w -> wills.publishAndForget(g.clientId(), w));
                    });
                    if (!gone.isEmpty()) {
                        cluster.tell(new Change.SessionsRemoved(gone.stream().map(g -> g.clientId()).toList()));
                    }
                })
                .chain(() -> expired.removeExpiredMessages(batch))
                .invoke(count -> claimed[2] = count)
                .chain(() -> expired.removeExpiredRetained(batch))
                .invoke(topics -> {
                    claimed[3] = topics.size();
                    retained.forgetExpired(topics, clock.instant());
                })
                .chain(() -> {
                    int total = removedSoFar + claimed[1];
                    boolean more = Arrays.stream(claimed).anyMatch(c -> c == batch);
                    return more && n < MAX_ROUNDS ? round(n + 1, total) : Uni.createFrom().item(total);
                });
    }
}
