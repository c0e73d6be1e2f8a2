package dev.tether.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.cluster.lease.LeaseStore.FenceOutcome;
import dev.tether.cluster.lease.LeaseStore.Peer;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The lease SQL against the real PostgreSQL, on {@code broker_instances} rows of made-up instances (never the running
 * broker's own row, whose lease this test must not end).
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class LeaseStoreTest {

    private static final Duration LEASE = Duration.ofSeconds(10);
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Inject
    Pool pool;
    @Inject
    DataSource dataSource;

    /** Inserts an instance whose lease runs for another {@code seconds} (negative: expired). */
    private UUID instance(double seconds) {
        UUID id = UUID.randomUUID();
        new Sql(dataSource).update("INSERT INTO broker_instances (instance_id, host_name, lease_expires_at) "
                + "VALUES (?, 'lease-test', now() + make_interval(secs => ?))", id, seconds);
        return id;
    }

    private LeaseStore store(UUID self) {
        return new LeaseStore(pool, self);
    }

    @Test
    void renew_whenLeaseRuns_thenExtendedFromNowAndHeartbeatWritten() {
        UUID self = instance(1);
        Sql sql = new Sql(dataSource);
        sql.update("UPDATE broker_instances SET heartbeat_at = now() - interval '5 seconds' WHERE instance_id = ?", self);

        Optional<Instant> renewed = store(self).renew(LEASE).await().atMost(WAIT);

        assertThat(renewed).isPresent();
        assertThat(sql.rows("SELECT lease_expires_at = heartbeat_at + interval '10 seconds' AS from_now, "
                + "heartbeat_at > now() - interval '5 seconds' AS beat FROM broker_instances WHERE instance_id = ?", self))
                .singleElement().satisfies(r -> assertThat(r).containsEntry("from_now", true).containsEntry("beat", true));
    }

    @Test
    void renew_whenFenced_thenRefusedAndRowUnchanged() {
        UUID self = instance(5);
        Sql sql = new Sql(dataSource);
        sql.update("UPDATE broker_instances SET fenced_at = now(), fenced_by = ? WHERE instance_id = ?",
                UUID.randomUUID(), self);
        Object before = sql.rows("SELECT lease_expires_at FROM broker_instances WHERE instance_id = ?", self).get(0)
                .get("lease_expires_at");

        assertThat(store(self).renew(LEASE).await().atMost(WAIT)).isEmpty();

        assertThat(sql.rows("SELECT lease_expires_at FROM broker_instances WHERE instance_id = ?", self).get(0))
                .containsEntry("lease_expires_at", before);
    }

    @Test
    void renew_whenStopped_thenRefused() {
        UUID self = instance(5);
        new Sql(dataSource).update("UPDATE broker_instances SET stopped_at = now() WHERE instance_id = ?", self);
        assertThat(store(self).renew(LEASE).await().atMost(WAIT)).isEmpty();
    }

    @Test
    void renew_whenLeaseExpired_thenRefused() {
        // Once expired, any replica may already be releasing the sessions: a late renewal must not revive it.
        UUID self = instance(-1);
        assertThat(store(self).renew(LEASE).await().atMost(WAIT)).isEmpty();
    }

    @Test
    void renew_whenRowDeleted_thenRefused() {
        assertThat(store(UUID.randomUUID()).renew(LEASE).await().atMost(WAIT)).isEmpty();
    }

    @Test
    void fence_whenPeerLive_thenFencedByUsWithItsLeaseKeptAndItsRenewalRefused() {
        UUID self = instance(10);
        UUID peer = instance(6);

        FenceOutcome outcome = store(self).fence(peer).await().atMost(WAIT);

        assertThat(outcome).isInstanceOfSatisfying(FenceOutcome.Fenced.class, f -> assertThat(f.waitFor())
                .isGreaterThan(Duration.ofSeconds(4)).isLessThanOrEqualTo(Duration.ofSeconds(6)));
        assertThat(new Sql(dataSource).rows("SELECT fenced_at IS NOT NULL AS fenced, fenced_by, "
                + "lease_expires_at > now() + interval '4 seconds' AS lease_kept FROM broker_instances "
                + "WHERE instance_id = ?", peer)).singleElement().satisfies(r -> assertThat(r)
                .containsEntry("fenced", true).containsEntry("fenced_by", self).containsEntry("lease_kept", true));
        assertThat(store(peer).renew(LEASE).await().atMost(WAIT)).isEmpty();
    }

    @Test
    void fence_whenPeerStoppedOrExpiredOrDeleted_thenGoneAndNothingFenced() {
        UUID self = instance(10);
        UUID stopped = instance(10);
        UUID expired = instance(-1);
        new Sql(dataSource).update("UPDATE broker_instances SET stopped_at = now() WHERE instance_id = ?", stopped);

        for (UUID peer : List.of(stopped, expired, UUID.randomUUID())) {
            assertThat(store(self).fence(peer).await().atMost(WAIT)).as("peer %s", peer)
                    .isInstanceOf(FenceOutcome.PeerGone.class);
        }
        assertThat(new Sql(dataSource).count("SELECT count(*) FROM broker_instances WHERE instance_id IN (?, ?) "
                + "AND fenced_at IS NOT NULL", stopped, expired)).isZero();
    }

    @Test
    void fence_whenSelfFencedStoppedOrExpired_thenSelfLostAndPeerUntouched() {
        Sql sql = new Sql(dataSource);
        UUID peer = instance(10);
        UUID fenced = instance(10);
        UUID stopped = instance(10);
        UUID expired = instance(-1);
        sql.update("UPDATE broker_instances SET fenced_at = now() WHERE instance_id = ?", fenced);
        sql.update("UPDATE broker_instances SET stopped_at = now() WHERE instance_id = ?", stopped);

        for (UUID self : List.of(fenced, stopped, expired)) {
            assertThat(store(self).fence(peer).await().atMost(WAIT)).as("self %s", self)
                    .isInstanceOf(FenceOutcome.SelfLost.class);
        }
        assertThat(sql.count("SELECT count(*) FROM broker_instances WHERE instance_id = ? AND fenced_at IS NULL", peer))
                .isEqualTo(1);
    }

    @Test
    void fence_whenTwoReplicasFenceEachOtherAtOnce_thenExactlyOneIsFenced() throws Exception {
        // Both rows are locked in instance_id order: the two transactions serialise, and the second finds itself
        // fenced. Repeated with fresh pairs, both orders of ids, to give the race many chances.
        Sql sql = new Sql(dataSource);
        for (int round = 0; round < 20; round++) {
            UUID a = instance(10);
            UUID b = instance(10);
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<FenceOutcome> aFencesB = CompletableFuture.supplyAsync(() -> {
                awaitLatch(go);
                return store(a).fence(b).await().atMost(WAIT);
            });
            CompletableFuture<FenceOutcome> bFencesA = CompletableFuture.supplyAsync(() -> {
                awaitLatch(go);
                return store(b).fence(a).await().atMost(WAIT);
            });
            go.countDown();
            FenceOutcome byA = aFencesB.get(15, TimeUnit.SECONDS);
            FenceOutcome byB = bFencesA.get(15, TimeUnit.SECONDS);

            assertThat(Set.of(byA.getClass(), byB.getClass())).as("round %d: %s and %s", round, byA, byB)
                    .containsExactlyInAnyOrder(FenceOutcome.Fenced.class, FenceOutcome.SelfLost.class);
            List<Map<String, Object>> fenced = sql.rows("SELECT instance_id, fenced_by FROM broker_instances "
                    + "WHERE instance_id IN (?, ?) AND fenced_at IS NOT NULL", a, b);
            assertThat(fenced).as("round %d", round).singleElement().satisfies(r -> assertThat(r.get("fenced_by"))
                    .isEqualTo(byA instanceof FenceOutcome.Fenced ? a : b));
        }
    }

    @Test
    void livePeers_whenSomeAreFencedStoppedOrExpired_thenOnlyThoseHoldingALeaseWithTheirAddress() {
        Sql sql = new Sql(dataSource);
        UUID self = instance(10);
        UUID live = instance(10);
        UUID fenced = instance(10);
        UUID stopped = instance(10);
        UUID expired = instance(-1);
        sql.update("UPDATE broker_instances SET advertised_host = '10.0.0.7', cluster_port = 7883 WHERE instance_id = ?",
                live);
        sql.update("UPDATE broker_instances SET fenced_at = now() WHERE instance_id = ?", fenced);
        sql.update("UPDATE broker_instances SET stopped_at = now() WHERE instance_id = ?", stopped);
        Set<UUID> ours = Set.of(self, live, fenced, stopped, expired);

        List<Peer> peers;
        try {
            peers = store(self).livePeers().await().atMost(WAIT).stream()
                    .filter(p -> ours.contains(p.instanceId())).toList(); // other tests' and the broker's rows aside
        } finally {
            // The broker under test shares this database: a live row with an address would be a peer it links to.
            sql.update("UPDATE broker_instances SET advertised_host = NULL, cluster_port = NULL WHERE instance_id = ?",
                    live);
        }

        assertThat(peers).singleElement().satisfies(p -> {
            assertThat(p.instanceId()).isEqualTo(live);
            assertThat(p.advertisedHost()).isEqualTo("10.0.0.7");
            assertThat(p.clusterPort()).isEqualTo(7883);
            assertThat(p.leaseExpiresAt()).isAfter(Instant.now().plusSeconds(5));
        });
        assertThat(store(live).livePeers().await().atMost(WAIT)).extracting(Peer::instanceId)
                .contains(self).doesNotContain(live);
    }

    @Test
    void isGone_whenStoppedExpiredOrDeleted_thenTrue_whenLeaseRunsEvenFenced_thenFalse() {
        Sql sql = new Sql(dataSource);
        UUID self = instance(10);
        UUID live = instance(10);
        UUID fenced = instance(10);
        UUID stopped = instance(10);
        UUID expired = instance(-1);
        sql.update("UPDATE broker_instances SET fenced_at = now() WHERE instance_id = ?", fenced);
        sql.update("UPDATE broker_instances SET stopped_at = now() WHERE instance_id = ?", stopped);
        LeaseStore store = store(self);

        assertThat(store.isGone(live).await().atMost(WAIT)).isFalse();
        assertThat(store.isGone(fenced).await().atMost(WAIT)).as("fenced: may serve until its lease ends").isFalse();
        assertThat(store.isGone(stopped).await().atMost(WAIT)).isTrue();
        assertThat(store.isGone(expired).await().atMost(WAIT)).isTrue();
        assertThat(store.isGone(UUID.randomUUID()).await().atMost(WAIT)).isTrue();
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("start signal not given");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
