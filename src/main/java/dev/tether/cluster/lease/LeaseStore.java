package dev.tether.cluster.lease;

import dev.tether.store.BrokerInstance;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The SQL of leases on {@code broker_instances}, for one instance ({@code self}): renewal, fencing a peer, and
 * which peers hold a lease. The row itself, with its first lease, is inserted by {@code SessionRecovery.register}.
 * Every statement goes through the reactive pool and never blocks.
 */
@ApplicationScoped
public class LeaseStore {

    /** A replica that holds its lease: how to reach it, and until when PostgreSQL counts it alive. */
    public record Peer(UUID instanceId, String advertisedHost, Integer clusterPort, Instant leaseExpiresAt) {
    }

    /** What {@link #fence} found. */
    public sealed interface FenceOutcome {
        /** This replica is itself fenced, stopped or expired: its lease is lost, and nothing was fenced. */
        record SelfLost() implements FenceOutcome {
        }

        /** The peer is stopped, gone, or its lease has expired: it serves nothing, no wait needed. */
        record PeerGone() implements FenceOutcome {
        }

        /**
         * The peer is fenced (by this call or earlier): its renewals are refused from now on, but it may serve until
         * its lease ends, {@code waitFor} from PostgreSQL's now. Treat it as gone only after {@code waitFor} plus the
         * lease margin.
         */
        record Fenced(Duration waitFor) implements FenceOutcome {
        }
    }

    private final Pool pool;
    private final UUID self;

    @Inject
    public LeaseStore(Pool pool, BrokerInstance instance) {
        this(pool, instance.id());
    }

    /** The lease SQL of instance {@code self} (tests use other instances than the running broker). */
    public LeaseStore(Pool pool, UUID self) {
        this.pool = pool;
        this.self = self;
    }

    /**
     * Renews the lease for {@code duration} from PostgreSQL's now, also writing the heartbeat. Empty when the row
     * refused it (fenced, stopped, expired or deleted): the lease is lost. Otherwise the new end of the lease.
     */
    public Uni<Optional<Instant>> renew(Duration duration) {
        return pool.preparedQuery("UPDATE broker_instances SET heartbeat_at = now(), "
                        + "lease_expires_at = now() + make_interval(secs => $2) "
                        + "WHERE instance_id = $1 AND fenced_at IS NULL AND stopped_at IS NULL "
                        + "AND lease_expires_at > now() RETURNING lease_expires_at")
                .execute(Tuple.of(self, seconds(duration)))
                .map(rows -> rows.rowCount() == 0 ? Optional.empty()
                        : Optional.of(rows.iterator().next().getOffsetDateTime("lease_expires_at").toInstant()));
    }

    /**
     * Fences {@code peer} (it did not answer in time): in one transaction, both rows locked in {@code instance_id}
     * order, so that two replicas fencing each other at once serialise and exactly one of them wins. If this
     * instance is fenced, stopped or expired, nothing is fenced ({@link FenceOutcome.SelfLost}). A stopped or
     * expired (or deleted) peer is {@link FenceOutcome.PeerGone}. Otherwise the peer's row gets {@code fenced_at}
     * and {@code fenced_by}; its {@code lease_expires_at} stays, so the sweep does not release its sessions while
     * it may still serve ({@link FenceOutcome.Fenced}).
     */
    public Uni<FenceOutcome> fence(UUID peer) {
        return pool.withTransaction(tx -> tx.preparedQuery("SELECT instance_id, fenced_at, stopped_at, "
                                + "lease_expires_at, now() AS db_now FROM broker_instances "
                                + "WHERE instance_id IN ($1, $2) ORDER BY instance_id FOR UPDATE")
                .execute(Tuple.of(self, peer))
                .chain(rows -> {
                    Row own = null;
                    Row other = null;
                    for (Row r : rows) {
                        if (self.equals(r.getUUID("instance_id"))) {
                            own = r;
                        } else {
                            other = r;
                        }
                    }
                    if (own == null || own.getValue("fenced_at") != null || own.getValue("stopped_at") != null
                            || !own.getOffsetDateTime("lease_expires_at").isAfter(own.getOffsetDateTime("db_now"))) {
                        return Uni.createFrom().<FenceOutcome>item(new FenceOutcome.SelfLost());
                    }
                    if (other == null || other.getValue("stopped_at") != null
                            || !other.getOffsetDateTime("lease_expires_at").isAfter(other.getOffsetDateTime("db_now"))) {
                        return Uni.createFrom().<FenceOutcome>item(new FenceOutcome.PeerGone());
                    }
                    Duration waitFor = Duration.between(other.getOffsetDateTime("db_now"),
                            other.getOffsetDateTime("lease_expires_at"));
                    return tx.preparedQuery("UPDATE broker_instances SET fenced_at = now(), fenced_by = $2 "
                                    + "WHERE instance_id = $1 AND fenced_at IS NULL AND stopped_at IS NULL")
                            .execute(Tuple.of(peer, self))
                            .map(updated -> (FenceOutcome) new FenceOutcome.Fenced(waitFor));
                }));
    }

    /** The other replicas that hold their lease (not stopped, not fenced, not expired), by instance id. */
    public Uni<List<Peer>> livePeers() {
        return pool.preparedQuery("SELECT instance_id, advertised_host, cluster_port, lease_expires_at "
                        + "FROM broker_instances WHERE instance_id <> $1 AND stopped_at IS NULL AND fenced_at IS NULL "
                        + "AND lease_expires_at > now() ORDER BY instance_id")
                .execute(Tuple.of(self))
                .map(rows -> {
                    List<Peer> peers = new ArrayList<>();
                    for (Row r : rows) {
                        peers.add(new Peer(r.getUUID("instance_id"), r.getString("advertised_host"),
                                r.getInteger("cluster_port"), instant(r.getOffsetDateTime("lease_expires_at"))));
                    }
                    return peers;
                });
    }

    /** Whether {@code peer} serves nothing any more: stopped, lease expired, or its row deleted. */
    public Uni<Boolean> isGone(UUID peer) {
        return pool.preparedQuery("SELECT stopped_at IS NOT NULL OR lease_expires_at <= now() AS gone "
                        + "FROM broker_instances WHERE instance_id = $1")
                .execute(Tuple.of(peer))
                .map(rows -> rows.rowCount() == 0 || rows.iterator().next().getBoolean("gone"));
    }

    /** The lease duration as a {@code make_interval(secs => ...)} argument. */
    static double seconds(Duration duration) {
        return duration.toNanos() / 1e9;
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
