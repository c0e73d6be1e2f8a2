package dev.tether.cluster.lease;

import dev.tether.config.ClusterConfig;
import dev.tether.listener.MqttListener;
import io.quarkus.runtime.Quarkus;
import io.quarkus.scheduler.Scheduler;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * What a replica does once its lease is lost: it may no longer serve, because another replica may already be taking
 * its sessions over. It closes every MQTT connection as if the process had died (no DISCONNECT, no recorded close,
 * no will: another replica settles them from PostgreSQL), stops the listener for good, pauses the jobs, and ends
 * the process with {@link #EXIT_STATUS} so that the orchestrator restarts it as a new instance. In-memory state built
 * on a lost ownership is not worth repairing. Runs on whichever thread found the lease lost; nothing here blocks.
 */
@ApplicationScoped
public class StopServing {

    /** EX_TEMPFAIL (sysexits.h): a temporary failure, try again; the orchestrator restarts the process. */
    public static final int EXIT_STATUS = 75;

    private static final Logger LOG = Logger.getLogger(StopServing.class);

    private final MqttListener listener;
    private final Scheduler scheduler;
    private final ClusterConfig config;
    private final AtomicLong leasesLost = new AtomicLong();

    public StopServing(MqttListener listener, Scheduler scheduler, ClusterConfig config) {
        this.listener = listener;
        this.scheduler = scheduler;
        this.config = config;
    }

    /** Stops serving because the lease was lost for {@code reason}. */
    public void leaseLost(String reason) {
        leasesLost.incrementAndGet();
        LOG.errorf("lease lost (%s): closing %d MQTT connections without wills, stopping the listener and the jobs%s",
                reason, listener.connectionCount(),
                config.exitOnLeaseLoss() ? ", exiting with status " + EXIT_STATUS : "");
        listener.abandonAll();
        scheduler.pause();
        if (config.exitOnLeaseLoss()) {
            Quarkus.asyncExit(EXIT_STATUS); // returns at once; the main thread shuts down and exits
        }
    }

    /** Leases this process lost (0 or 1: the process ends after the first). */
    public long leasesLost() {
        return leasesLost.get();
    }
}
