package dev.tether.store;

import dev.tether.session.Will;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;

/** The SQL of session expiry: bounded, index-ordered claims with {@code FOR UPDATE SKIP LOCKED}. */
@ApplicationScoped
public class ExpiredSessions {

    /** A will whose time has come, removed from {@code session_wills}. */
    public record DueWill(String clientId, Will will) {
    }

    private final Pool pool;
    private final SessionRecovery recovery;

    public ExpiredSessions(Pool pool, SessionRecovery recovery) {
        this.pool = pool;
        this.recovery = recovery;
    }

    public Uni<Integer> releaseDeadInstances() {
        return recovery.sweepDeadInstances();
    }

    /** Removes and returns up to {@code limit} wills whose publish time has passed. */
    public Uni<List<DueWill>> claimDueWills(int limit) {
        return pool.preparedQuery("DELETE FROM session_wills WHERE client_id IN (SELECT client_id FROM session_wills "
                        + "WHERE publish_at <= now() ORDER BY publish_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
                        + "RETURNING client_id, " + SessionWriter.WILL_COLUMNS)
                .execute(Tuple.of(limit))
                .map(rows -> {
                    List<DueWill> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new DueWill(r.getString("client_id"), SessionWriter.readWill(r)));
                    }
                    return out;
                });
    }

    /**
     * Deletes up to {@code limit} queued messages whose Message Expiry Interval has passed before they were sent,
     * earliest expiry first; returns how many. A message already sent stays until the client acknowledges it:
     * its delivery has started [MQTT-3.3.2-5].
     */
    public Uni<Integer> removeExpiredMessages(int limit) {
        return pool.preparedQuery("DELETE FROM queued_messages WHERE message_id IN (SELECT message_id "
                        + "FROM queued_messages WHERE expires_at <= now() AND state = 'queued' ORDER BY expires_at "
                        + "LIMIT $1 FOR UPDATE SKIP LOCKED)")
                .execute(Tuple.of(limit))
                .map(rows -> rows.rowCount());
    }

    /**
     * Deletes up to {@code limit} retained messages whose Message Expiry Interval has passed, earliest expiry
     * first; returns their topics.
     */
    public Uni<List<String>> removeExpiredRetained(int limit) {
        return pool.preparedQuery("DELETE FROM retained_messages WHERE topic IN (SELECT topic FROM retained_messages "
                        + "WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
                        + "RETURNING topic")
                .execute(Tuple.of(limit))
                .map(rows -> {
                    List<String> topics = new ArrayList<>();
                    for (Row r : rows) {
                        topics.add(r.getString("topic"));
                    }
                    return topics;
                });
    }

    /** A session removed at its deadline, with the will it still had pending (published now). */
    public record ExpiredSession(String clientId, java.util.Optional<Will> pendingWill) {
    }

    /**
     * Removes up to {@code limit} disconnected sessions whose deadline has passed, oldest deadline
     * first, with their subscriptions, queued messages and wills (by cascade). A will still pending
     * is returned to be published: a session that ends publishes its will [MQTT-3.1.2-8].
     */
    public Uni<List<ExpiredSession>> removeExpiredSessions(int limit) {
        return pool.preparedQuery("WITH gone AS (DELETE FROM sessions WHERE client_id IN (SELECT client_id FROM sessions "
                        + "WHERE expires_at <= now() AND NOT connected ORDER BY expires_at LIMIT $1 "
                        + "FOR UPDATE SKIP LOCKED) RETURNING client_id) "
                        + "SELECT g.client_id, w.publish_at, " + SessionWriter.WILL_COLUMNS + " "
                        + "FROM gone g LEFT JOIN session_wills w ON w.client_id = g.client_id")
                .execute(Tuple.of(limit))
                .map(rows -> {
                    List<ExpiredSession> out = new ArrayList<>();
                    for (Row r : rows) {
                        boolean willPending = r.getOffsetDateTime("publish_at") != null;
                        out.add(new ExpiredSession(r.getString("client_id"),
                                willPending ? java.util.Optional.of(SessionWriter.readWill(r)) : java.util.Optional.empty()));
                    }
                    return out;
                });
    }
}
