package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The sweep the expiry job runs on every replica, against {@code broker_instances} rows other
 * brokers left: sessions of an instance whose lease has expired (dead, or stopped with sessions
 * still marked connected) are released at its last heartbeat; an instance whose lease runs keeps
 * them, fenced or not, however old its heartbeat; rows of instances stopped long ago that hold no
 * session are deleted.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class InstanceSweepTest {

    @Inject
    DataSource dataSource;

    @Test
    void sweep_whenStoppedInstanceStillHoldsConnectedSessions_thenReleasedAtItsLastHeartbeat() {
        // A shutdown whose drain timed out marked its instance stopped with sessions still connected;
        // the stop ended its lease and is its last heartbeat.
        Sql sql = new Sql(dataSource);
        UUID stopped = UUID.randomUUID();
        sql.update("INSERT INTO broker_instances (instance_id, host_name, heartbeat_at, stopped_at, lease_expires_at) "
                + "VALUES (?, 'drained-late', now() - interval '15 seconds', now() - interval '15 seconds', "
                + "now() - interval '15 seconds')", stopped);
        String resumable = TestClients.uniqueId("stopped-resumable");
        String expired = TestClients.uniqueId("stopped-expired");
        // One statement: a sweep running between the session and its will would release the session before the
        // will exists.
        sql.update("WITH s AS (INSERT INTO sessions (client_id, protocol_version, connected, instance_id, connection_id, "
                + "expiry_interval_seconds) VALUES (?, '5.0', true, ?, gen_random_uuid(), 3600), "
                + "(?, '5.0', true, ?, gen_random_uuid(), 1)) "
                + "INSERT INTO session_wills (client_id, topic, payload, qos, will_delay_seconds) "
                + "VALUES (?, 'sweep/will', '\\x00'::bytea, 0, 30)", resumable, stopped, expired, stopped, resumable);

        await().atMost(Duration.ofSeconds(5)).until(() -> sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", resumable) == 1);

        Map<String, Object> row = sql.rows("SELECT s.instance_id IS NULL AND s.connection_id IS NULL AS unowned, "
                + "s.disconnected_at = b.heartbeat_at AS at_heartbeat, "
                + "s.expires_at = b.heartbeat_at + interval '3600 seconds' AS deadline_from_heartbeat, "
                + "w.publish_at = b.heartbeat_at + interval '30 seconds' AS will_from_heartbeat "
                + "FROM sessions s JOIN session_wills w ON w.client_id = s.client_id, broker_instances b "
                + "WHERE s.client_id = ? AND b.instance_id = ?", resumable, stopped).get(0);
        assertThat(row).containsEntry("unowned", true).containsEntry("at_heartbeat", true)
                .containsEntry("deadline_from_heartbeat", true).containsEntry("will_from_heartbeat", true);
        // Its deadline (last heartbeat + 1 s) has passed: the expiry job removes it.
        await().atMost(Duration.ofSeconds(5)).until(() -> sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ?", expired) == 0);
    }

    @Test
    void sweep_whenLeaseExpired_thenReleasedAtTheLastHeartbeatAndInstanceMarkedStopped() {
        // A replica that died (or lost PostgreSQL) a moment ago: its last renewal gave it a 1 s lease, now past.
        Sql sql = new Sql(dataSource);
        UUID dead = UUID.randomUUID();
        sql.update("INSERT INTO broker_instances (instance_id, host_name, heartbeat_at, lease_expires_at) "
                + "VALUES (?, 'lease-expired', now() - interval '2 seconds', now() - interval '1 second')", dead);
        String online = TestClients.uniqueId("lease-expired");
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, instance_id, connection_id, "
                + "expiry_interval_seconds) VALUES (?, '5.0', true, ?, gen_random_uuid(), 3600)", online, dead);

        await().atMost(Duration.ofSeconds(5)).until(() -> sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", online) == 1);

        assertThat(sql.rows("SELECT s.instance_id IS NULL AND s.connection_id IS NULL AS unowned, "
                + "s.disconnected_at = b.heartbeat_at AS at_heartbeat, b.stopped_at IS NOT NULL AS stopped "
                + "FROM sessions s, broker_instances b WHERE s.client_id = ? AND b.instance_id = ?", online, dead))
                .singleElement().satisfies(r -> assertThat(r).containsEntry("unowned", true)
                        .containsEntry("at_heartbeat", true).containsEntry("stopped", true));
    }

    @Test
    void sweep_whenLeaseRunsThoughTheHeartbeatIsOld_thenItsSessionsStayConnected() {
        // The lease decides, not this replica's instance timeout: another replica may run with a longer one.
        Sql sql = new Sql(dataSource);
        UUID longLease = UUID.randomUUID();
        sql.update("INSERT INTO broker_instances (instance_id, host_name, heartbeat_at, lease_expires_at) "
                + "VALUES (?, 'long-lease', now() - interval '30 seconds', now() + interval '30 seconds')", longLease);
        String online = TestClients.uniqueId("long-lease-online");
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, instance_id, expiry_interval_seconds) "
                + "VALUES (?, '5.0', true, ?, 3600)", online, longLease);

        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND connected AND instance_id = ?", online, longLease) == 1);
    }

    @Test
    void sweep_whenFencedButLeaseRuns_thenItsSessionsStayConnected() {
        // Fencing refuses the next renewal but does not shorten the lease: the fenced replica may still serve until
        // its lease ends, so its sessions are not released before.
        Sql sql = new Sql(dataSource);
        UUID fenced = UUID.randomUUID();
        sql.update("INSERT INTO broker_instances (instance_id, host_name, lease_expires_at, fenced_at, fenced_by) "
                + "VALUES (?, 'fenced', now() + interval '30 seconds', now(), gen_random_uuid())", fenced);
        String online = TestClients.uniqueId("fenced-online");
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, instance_id, expiry_interval_seconds) "
                + "VALUES (?, '5.0', true, ?, 3600)", online, fenced);

        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> sql.count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND connected AND instance_id = ?", online, fenced) == 1);
    }

    @Test
    void sweep_whenInstanceStoppedLongerThanRetentionAndHoldsNoSession_thenRowDeleted() {
        // One row per start would otherwise accumulate forever.
        Sql sql = new Sql(dataSource);
        UUID longGone = UUID.randomUUID();
        UUID longGoneWithSession = UUID.randomUUID();
        UUID recentlyStopped = UUID.randomUUID();
        UUID stoppedLongAgoStillBeating = UUID.randomUUID();
        String leftover = TestClients.uniqueId("long-gone");
        // One statement: a sweep running between the rows and the session would delete the instance the session names.
        sql.update("WITH i AS (INSERT INTO broker_instances (instance_id, host_name, started_at, heartbeat_at, stopped_at) VALUES "
                        + "(?, 'old', now() - interval '3 hours', now() - interval '2 hours', now() - interval '2 hours'), "
                        + "(?, 'old', now() - interval '3 hours', now() - interval '2 hours', now() - interval '2 hours'), "
                        + "(?, 'recent', now() - interval '1 hour', now() - interval '1 minute', now() - interval '1 minute'), "
                        + "(?, 'beating', now() - interval '3 hours', now(), now() - interval '2 hours')) "
                        + "INSERT INTO sessions (client_id, protocol_version, connected, instance_id, expiry_interval_seconds) "
                        + "VALUES (?, '5.0', true, ?, 4294967295)",
                longGone, longGoneWithSession, recentlyStopped, stoppedLongAgoStillBeating, leftover, longGoneWithSession);

        await().atMost(Duration.ofSeconds(5)).until(() -> sql.count(
                "SELECT count(*) FROM broker_instances WHERE instance_id IN (?, ?)", longGone, longGoneWithSession) == 0);
        // Its session was released first (never deleted with the row, never left connected without an owner).
        assertThat(sql.rows("SELECT connected, instance_id, expires_at FROM sessions WHERE client_id = ?", leftover))
                .singleElement().satisfies(s -> assertThat(s).containsEntry("connected", false)
                        .containsEntry("instance_id", null).containsEntry("expires_at", null));
        // Stopped a minute ago: kept for people looking at recent restarts. Still beating: a live
        // process whose sessions would otherwise lose their instance.
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> sql.count(
                "SELECT count(*) FROM broker_instances WHERE instance_id IN (?, ?)", recentlyStopped,
                stoppedLongAgoStillBeating) == 2);
    }
}
