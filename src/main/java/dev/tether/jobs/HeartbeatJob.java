package dev.tether.jobs;

import dev.tether.store.SessionRecovery;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/** Refreshes this instance's {@code broker_instances.heartbeat_at}, which tells other replicas it lives. */
@ApplicationScoped
public class HeartbeatJob {
    private static final Logger LOG = Logger.getLogger(HeartbeatJob.class);

    private final SessionRecovery recovery;

    public HeartbeatJob(SessionRecovery recovery) {
        this.recovery = recovery;
    }

    @Scheduled(every = "${tether.store.heartbeat-interval:2s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> beat() {
        return recovery.heartbeat()
                .onFailure().invoke(f -> LOG.warnf("heartbeat failed: %s", f.toString()))
                .onFailure().recoverWithNull();
    }
}
