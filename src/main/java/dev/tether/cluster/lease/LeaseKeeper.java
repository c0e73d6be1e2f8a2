package dev.tether.cluster.lease;

import dev.tether.config.StoreConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Keeps this replica's lease: renews it every {@code tether.store.heartbeat-interval} for
 * {@code tether.store.instance-timeout} (the renewal also writes the heartbeat), on a Vert.x timer with the reactive
 * pool, so no event loop ever waits. One renewal at a time: a tick that finds the previous one still running skips.
 * A renewal that fails (PostgreSQL unreachable) is retried at the next tick; the lease is lost when a renewal is
 * refused (fenced, stopped, expired) or when no renewal succeeded before the local end of the lease
 * ({@link Lease}). Then {@link StopServing} runs.
 */
@ApplicationScoped
public class LeaseKeeper {

    private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

    private final Vertx vertx;
    private final LeaseStore store;
    private final Lease lease;
    private final StopServing stopServing;
    private final Duration interval;
    private final Duration duration;
    private long timer = -1;
    private volatile boolean renewing;
    private volatile boolean stopped;

    public LeaseKeeper(Vertx vertx, LeaseStore store, Lease lease, StopServing stopServing, StoreConfig config) {
        this.vertx = vertx;
        this.store = store;
        this.lease = lease;
        this.stopServing = stopServing;
        this.interval = config.heartbeatInterval();
        this.duration = config.instanceTimeout();
    }

    /**
     * Starts keeping the lease that registering this instance took: renews it once (the returned {@link Uni}
     * completes when the lease is locally valid, or fails if PostgreSQL could not be reached), then every interval.
     * Call once the instance's row is in PostgreSQL.
     */
    public synchronized Uni<Void> start() {
        lease.onLost(() -> {
            cancelTimer();
            stopServing.leaseLost(lease.lostReason().orElse("unknown"));
        });
        long sent = System.nanoTime();
        return store.renew(duration)
                .invoke(renewed -> apply(sent, renewed))
                .invoke(() -> {
                    synchronized (this) {
                        if (!stopped && !lease.isLost()) {
                            timer = vertx.setPeriodic(interval.toMillis(), id -> renew());
                        }
                    }
                })
                .replaceWithVoid();
    }

    /** One renewal, unless the previous one is still running. Runs on an event loop. */
    void renew() {
        if (renewing || stopped || lease.isLost()) {
            return;
        }
        renewing = true;
        // Taken before the statement leaves (at or before the send): the local lease can only end earlier.
        long sent = System.nanoTime();
        store.renew(duration).subscribe().with(renewed -> {
            renewing = false;
            apply(sent, renewed);
        }, failure -> {
            renewing = false;
            LOG.warnf("lease renewal failed (%s); retrying in %s (the lease is lost unless a renewal succeeds in time)",
                    failure.toString(), interval);
        });
    }

    private void apply(long sentNanos, Optional<?> renewed) {
        if (stopped) {
            return; // graceful stop: this instance is being marked stopped, which refuses renewals
        }
        if (renewed.isPresent()) {
            lease.renewed(sentNanos);
        } else {
            lease.lose("renewal refused: this instance is fenced, stopped or its lease expired in PostgreSQL");
        }
    }

    /** Graceful stop: no more renewals, and the lease ends without {@link StopServing}. */
    public synchronized void stop() {
        stopped = true;
        cancelTimer();
        lease.release();
    }

    private synchronized void cancelTimer() {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }
}
