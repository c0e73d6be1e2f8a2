package dev.tether;

import dev.tether.auth.acl.AccessControl;
import dev.tether.cluster.lease.Lease;
import dev.tether.cluster.lease.LeaseKeeper;
import dev.tether.cluster.mesh.Replicas;
import dev.tether.events.SessionEvents;
import dev.tether.listener.MqttListener;
import dev.tether.store.Reconciler;
import dev.tether.store.SessionRecovery;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduler;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Starts the broker once the schema is migrated: recovery from PostgreSQL first (the lease is kept
 * from the moment the instance is registered), then the jobs, then the listener. On SIGTERM:
 * DISCONNECT 0x8B to MQTT 5 clients, the reconciler flushed, the instance marked stopped and its
 * lease ended. A session whose close was not committed in time stays marked connected on the
 * stopped instance; this broker's next start, or the sweep of any replica, releases it as
 * disconnected at the stop. A broker that lost its lease has already stopped serving
 * ({@code StopServing}) and writes nothing more: other replicas settle it from PostgreSQL.
 * Start-up and shutdown run on the main thread, never on an event loop, so the bounded waits here
 * block nothing that serves clients.
 */
@ApplicationScoped
public class BrokerLifecycle {

    private static final Logger LOG = Logger.getLogger(BrokerLifecycle.class);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final SessionRecovery recovery;
    private final MqttListener listener;
    private final SessionEvents events;
    private final Reconciler reconciler;
    private final Scheduler scheduler;
    private final LeaseKeeper leaseKeeper;
    private final Lease lease;
    private final Replicas replicas;
    private final AccessControl acl;

    public BrokerLifecycle(SessionRecovery recovery, MqttListener listener, SessionEvents events, Reconciler reconciler,
                           Scheduler scheduler, LeaseKeeper leaseKeeper, Lease lease, Replicas replicas,
                           AccessControl acl) {
        this.acl = acl;
        this.replicas = replicas;
        this.scheduler = scheduler;
        this.leaseKeeper = leaseKeeper;
        this.lease = lease;
        this.recovery = recovery;
        this.listener = listener;
        this.events = events;
        this.reconciler = reconciler;
    }

    void start(@Observes @Priority(100) StartupEvent ev) {
        // The replica link is bound first (its address goes into broker_instances), and this replica links to every
        // live one before it loads subscriptions: from then on no change acknowledged by another replica misses it.
        replicas.listen().await().atMost(START_TIMEOUT);
        recovery.recover(leaseKeeper::start, replicas::join).await().atMost(START_TIMEOUT);
        if (lease.isLost()) {
            return; // lost during recovery: stopping serving, the process exits
        }
        // Halted until now (quarkus.scheduler.start-mode): a will the expiry job publishes must find
        // the subscriptions that recovery loaded.
        scheduler.resume();
        acl.reload().await().atMost(START_TIMEOUT); // no client is served before the access rules are known
        listener.start().await().atMost(START_TIMEOUT);
    }

    void stop(@Observes @Priority(1) ShutdownEvent ev) {
        if (lease.isLost()) {
            replicas.close();
            LOG.infof("stopped after losing the lease; other replicas settle this instance's sessions");
            return;
        }
        try {
            leaseKeeper.stop(); // marked stopped below: renewals would be refused from then on
            scheduler.pause(); // no expiry job runs against a database that is about to stop
            listener.stop().await().atMost(Duration.ofSeconds(10));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (listener.connectionCount() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20); // main thread: connections close on their event loops
            }
            CountDownLatch drained = new CountDownLatch(1);
            // Closing connections publishes their SessionClosed events; wait until all are committed.
            events.whenDrainedTo(0, drained::countDown);
            if (!drained.await(10, TimeUnit.SECONDS)) {
                LOG.warnf("%d session events not written at shutdown; sessions still marked connected are "
                        + "released at the next start or after the instance timeout", events.waiting());
            }
            recovery.markStopped().await().atMost(Duration.ofSeconds(5));
            replicas.close();
            LOG.infof("stopped; reconciler mean batch %.1f events", reconciler.meanBatchSize());
        } catch (Exception e) {
            LOG.warnf("unclean shutdown: %s", e.toString());
        }
    }
}
