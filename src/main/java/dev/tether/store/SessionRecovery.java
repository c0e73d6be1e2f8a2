package dev.tether.store;

import dev.tether.cluster.lease.ClusterAddress;
import dev.tether.config.StoreConfig;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.SubscriptionIndex;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.InetAddress;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Brings this instance up from what PostgreSQL holds: registers the instance with its first lease, turns the
 * sessions of its previous life and of dead instances (lease expired) into disconnected ones, and loads sessions,
 * subscriptions and retained messages into memory so that messages for offline sessions are queued.
 */
@ApplicationScoped
public class SessionRecovery {

    private static final Logger LOG = Logger.getLogger(SessionRecovery.class);

    private final Pool pool;
    private final BrokerInstance instance;
    private final StoreConfig config;
    private final SubscriptionIndex subscriptions;
    private final SessionDirectory sessions;
    private final RetainedMessages retained;
    private final ClusterAddress address;

    public SessionRecovery(Pool pool, BrokerInstance instance, StoreConfig config, SubscriptionIndex subscriptions,
                           SessionDirectory sessions, RetainedMessages retained, ClusterAddress address) {
        this.address = address;
        this.pool = pool;
        this.instance = instance;
        this.config = config;
        this.subscriptions = subscriptions;
        this.sessions = sessions;
        this.retained = retained;
    }

    /**
     * Recovers this instance. {@code afterRegister} runs as soon as the instance's row, with its first lease, is in
     * PostgreSQL, before the rest of recovery: the lease keeper starts renewing there, so that a long load does not
     * outlive the first lease. {@code beforeLoad} (joining the other replicas) runs once the previous life and dead
     * instances are settled, right before sessions and subscriptions are loaded.
     */
    public Uni<Void> recover(Supplier<Uni<Void>> afterRegister, Supplier<Uni<Void>> beforeLoad) {
        return register()
                .chain(() -> afterRegister.get())
                .chain(this::settlePreviousLife)
                .chain(this::sweepDeadInstances)
                .chain(() -> beforeLoad.get())
                .chain(this::load);
    }

    private Uni<Void> register() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "unknown";
        }
        LOG.infof("broker instance %s on %s%s%s", instance.id(), host,
                address.host() == null ? "" : ", advertised as " + address.host() + ":" + address.port(),
                instance.previousLife().map(p -> ", previous life " + p).orElse(""));
        return pool.preparedQuery("INSERT INTO broker_instances (instance_id, host_name, advertised_host, cluster_port, "
                        + "lease_expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))")
                .execute(Tuple.of(instance.id(), host, address.host(), address.port(),
                        config.instanceTimeout().toNanos() / 1e9))
                .replaceWithVoid();
    }

    /**
     * The sessions this broker's previous life (the process before it on the same state directory)
     * still held count as disconnected at that life's last heartbeat, now rather than after the
     * instance timeout: a client reconnecting right after a fast restart finds its session past its
     * deadline gone and its will pending. Runs before the listener opens; waits for (rather than
     * skips) a sweep of another replica that is releasing the same instance.
     */
    private Uni<Void> settlePreviousLife() {
        Optional<UUID> previous = instance.previousLife();
        if (previous.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return pool.withTransaction(tx -> tx.preparedQuery(release(
                                "SELECT instance_id, heartbeat_at FROM broker_instances WHERE instance_id = $1 "
                                        + "FOR NO KEY UPDATE"))
                        .execute(Tuple.of(previous.get())))
                .map(Released::of)
                .invoke(r -> LOG.infof("previous life %s: released %d sessions (%d wills pending)", previous.get(),
                        r.sessions(), r.wills()))
                .replaceWithVoid();
    }

    /**
     * Releases the sessions of other instances whose lease has expired, as disconnected at each
     * instance's last heartbeat: instances that died or lost their lease (marked stopped here), and
     * stopped instances still marked as holding connected sessions (a shutdown whose last writes did
     * not complete; the stop ends its lease and counts as its last heartbeat). An instance whose
     * lease still runs keeps its sessions, even when fenced: it may serve until its lease ends. Then deletes
     * the rows of stopped instances silent for longer than the retention that hold no connected
     * session, so that rows do not pile up with every restart. Safe to run on every replica at
     * once: instance rows are claimed with {@code SKIP LOCKED}, and each session row is updated
     * once, under its row lock.
     *
     * @return the number of sessions released
     */
    public Uni<Integer> sweepDeadInstances() {
        return pool.withTransaction(tx -> tx.preparedQuery(release(
                                "SELECT instance_id, heartbeat_at FROM broker_instances b WHERE instance_id <> $1 "
                                        + "AND lease_expires_at < now() "
                                        + "AND (stopped_at IS NULL OR EXISTS (SELECT 1 FROM sessions s "
                                        + "WHERE s.instance_id = b.instance_id AND s.connected)) "
                                        + "FOR NO KEY UPDATE OF b SKIP LOCKED"))
                        .execute(Tuple.of(instance.id()))
                        .map(Released::of)
                        .call(released -> tx.preparedQuery("DELETE FROM broker_instances WHERE instance_id IN ("
                                        + "SELECT instance_id FROM broker_instances b WHERE instance_id <> $1 "
                                        + "AND stopped_at IS NOT NULL "
                                        + "AND heartbeat_at < now() - make_interval(secs => $2) "
                                        + "AND NOT EXISTS (SELECT 1 FROM sessions s "
                                        + "WHERE s.instance_id = b.instance_id AND s.connected) "
                                        + "FOR UPDATE OF b SKIP LOCKED)")
                                .execute(Tuple.of(instance.id(),
                                        (double) config.stoppedInstanceRetention().toSeconds()))
                                .invoke(deleted -> {
                                    if (deleted.rowCount() > 0) {
                                        LOG.infof("deleted the rows of %d broker instances stopped over %s ago",
                                                deleted.rowCount(), config.stoppedInstanceRetention());
                                    }
                                })))
                .invoke(r -> {
                    if (r.sessions() > 0 || r.newlyStopped() > 0) {
                        LOG.infof("released %d sessions (%d wills pending) of other broker instances; "
                                + "%d instances found dead", r.sessions(), r.wills(), r.newlyStopped());
                    }
                })
                .map(Released::sessions);
    }

    /** Counts of one {@link #release} statement. */
    private record Released(int sessions, int wills, int newlyStopped) {
        static Released of(RowSet<Row> rows) {
            Row r = rows.iterator().next();
            return new Released(r.getLong("released").intValue(), r.getLong("wills").intValue(),
                    r.getLong("stopped").intValue());
        }
    }

    /**
     * One statement that releases the sessions still marked connected on the instances that
     * {@code instances} selects and locks ({@code instance_id, heartbeat_at}): each becomes
     * disconnected at its instance's last heartbeat, with its deadline (heartbeat + Session Expiry
     * Interval; none for 4294967295) and its will's publication time (the earlier of heartbeat +
     * Will Delay Interval and the deadline [MQTT-3.1.2-8]) counted from there. The instances are
     * marked stopped, keeping an earlier stop time.
     */
    private static String release(String instances) {
        return release(instances, "true");
    }

    /** As {@link #release(String)}, for the sessions of those instances that {@code sessionFilter} (on {@code s}) keeps. */
    static String release(String instances, String sessionFilter) {
        return "WITH gone AS (" + instances + "), "
                + "released AS (UPDATE sessions s SET connected = false, instance_id = NULL, connection_id = NULL, "
                + "disconnected_at = g.heartbeat_at, "
                + "expires_at = CASE WHEN s.expiry_interval_seconds = 4294967295 THEN NULL "
                + "ELSE g.heartbeat_at + make_interval(secs => s.expiry_interval_seconds) END "
                + "FROM gone g WHERE s.instance_id = g.instance_id AND s.connected AND " + sessionFilter + " "
                + "RETURNING s.client_id, s.expires_at, g.heartbeat_at), "
                + "wills AS (UPDATE session_wills w SET publish_at = CASE WHEN r.expires_at IS NULL "
                + "THEN r.heartbeat_at + make_interval(secs => w.will_delay_seconds) "
                + "ELSE LEAST(r.heartbeat_at + make_interval(secs => w.will_delay_seconds), r.expires_at) END "
                + "FROM released r WHERE w.client_id = r.client_id RETURNING w.client_id), "
                + "stopped AS (UPDATE broker_instances b SET stopped_at = now() FROM gone g "
                + "WHERE b.instance_id = g.instance_id AND b.stopped_at IS NULL RETURNING b.instance_id) "
                + "SELECT (SELECT count(*) FROM released) AS released, (SELECT count(*) FROM wills) AS wills, "
                + "(SELECT count(*) FROM stopped) AS stopped";
    }

    private Uni<Void> load() {
        return pool.query("SELECT client_id, durable FROM sessions").execute()
                .invoke(rows -> rows.forEach(r -> sessions.put(r.getString("client_id"), r.getBoolean("durable"))))
                .chain(() -> pool.query("SELECT client_id, topic_filter, qos, no_local, retain_as_published, "
                        + "retain_handling, subscription_identifier FROM subscriptions").execute())
                .invoke(rows -> rows.forEach(r -> subscriptions.put(SessionWriter.readSubscription(r))))
                .chain(() -> pool.query("SELECT topic, payload, qos, " + SessionWriter.PROPERTY_COLUMNS
                        + ", expires_at FROM retained_messages "
                        + "WHERE expires_at IS NULL OR expires_at > now()").execute())
                .invoke(rows -> rows.forEach(r -> retained.apply(new PublishedMessage(r.getString("topic"),
                        SqlValues.bytes(r.getBuffer("payload")), r.getShort("qos"), true, SessionWriter.readProperties(r),
                        SqlValues.instant(r.getOffsetDateTime("expires_at")), null))))
                .invoke(() -> LOG.infof("loaded %d sessions, %d subscriptions, %d retained messages",
                        sessions.size(), subscriptions.size(), retained.size()))
                .replaceWithVoid();
    }

    /**
     * Graceful stop: the instance is stopped and its lease ends now, so that the sessions a shutdown could not close
     * are released at once by any replica (disconnected at the stop).
     */
    public Uni<Void> markStopped() {
        return pool.preparedQuery("UPDATE broker_instances SET stopped_at = now(), heartbeat_at = now(), "
                        + "lease_expires_at = now() WHERE instance_id = $1")
                .execute(Tuple.of(instance.id())).replaceWithVoid();
    }
}
