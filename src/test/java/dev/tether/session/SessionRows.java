package dev.tether.session;

import static org.awaitility.Awaitility.await;

import dev.tether.testing.Sql;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import javax.sql.DataSource;

/** What PostgreSQL shows about one session, read with plain SQL as an operator would. Injected into tests. */
@Singleton
final class SessionRows {

    /** How long a close takes to reach PostgreSQL (group commit), at most. */
    static final Duration WRITE_TIMEOUT = Duration.ofSeconds(5);

    /** One offline session as {@code SELECT} shows it. */
    record Offline(long expiryIntervalSeconds, Instant disconnectedAt, Instant expiresAt) {

        /** {@code expires_at - disconnected_at} in milliseconds; throws when there is no deadline. */
        long deadlineAfterCloseMillis() {
            return Duration.between(disconnectedAt, expiresAt).toMillis();
        }
    }

    private final Sql sql;

    @Inject
    SessionRows(DataSource dataSource) {
        this.sql = new Sql(dataSource);
    }

    Sql sql() {
        return sql;
    }

    boolean exists(String clientId) {
        return sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", clientId) > 0;
    }

    boolean isConnected(String clientId) {
        return sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND connected", clientId) > 0;
    }

    long subscriptions(String clientId) {
        return sql.count("SELECT count(*) FROM subscriptions WHERE client_id = ?", clientId);
    }

    long queuedMessages(String clientId) {
        return sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", clientId);
    }

    long expiryIntervalSeconds(String clientId) {
        return ((Number) sql.rows("SELECT expiry_interval_seconds FROM sessions WHERE client_id = ?", clientId)
                .get(0).get("expiry_interval_seconds")).longValue();
    }

    /** Waits (bounded) until the session row shows the client offline, and returns it. */
    Offline awaitOffline(String clientId) {
        await().atMost(WRITE_TIMEOUT).pollInterval(Duration.ofMillis(50))
                .until(() -> sql.count("SELECT count(*) FROM sessions WHERE client_id = ? AND NOT connected", clientId) == 1);
        Map<String, Object> row = sql.rows("SELECT expiry_interval_seconds, "
                + "(extract(epoch FROM disconnected_at) * 1000)::bigint AS disconnected_ms, "
                + "(extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms "
                + "FROM sessions WHERE client_id = ?", clientId).get(0);
        Object expires = row.get("expires_ms");
        return new Offline(((Number) row.get("expiry_interval_seconds")).longValue(),
                Instant.ofEpochMilli(((Number) row.get("disconnected_ms")).longValue()),
                expires == null ? null : Instant.ofEpochMilli(((Number) expires).longValue()));
    }

    /** Waits (bounded) until the session row is gone and returns when that was first seen. */
    Instant awaitGone(String clientId, Duration atMost) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(50)).until(() -> !exists(clientId));
        return Instant.now();
    }

    /** Waits (bounded) until the session row exists and shows a live connection. */
    void awaitConnected(String clientId) {
        await().atMost(WRITE_TIMEOUT).pollInterval(Duration.ofMillis(50)).until(() -> isConnected(clientId));
    }

    List<Map<String, Object>> rows(String query, Object... params) {
        return sql.rows(query, params);
    }
}
