package dev.tether.store;

import dev.tether.config.SessionConfig;
import dev.tether.config.SessionConfig.QueueOverflowPolicy;
import dev.tether.delivery.MessageRouter;
import dev.tether.delivery.QueuedMessage;
import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvent.HolderEvent;
import dev.tether.events.SessionEvent.InboundQos2Received;
import dev.tether.events.SessionEvent.InboundQos2Released;
import dev.tether.events.SessionEvent.MessageAcknowledged;
import dev.tether.events.SessionEvent.MessageReleased;
import dev.tether.events.SessionEvent.MessageSent;
import dev.tether.events.SessionEvent.MessagesQueued;
import dev.tether.events.SessionEvent.RetainedChanged;
import dev.tether.events.SessionEvent.SessionClosed;
import dev.tether.events.SessionEvent.SessionOpening;
import dev.tether.events.SessionEvent.SessionTakenOver;
import dev.tether.events.SessionEvent.Subscribed;
import dev.tether.events.SessionEvent.Unsubscribed;
import dev.tether.events.SessionOpened;
import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.session.ConnectDecision;
import dev.tether.session.ConnectDecision.PendingWillAction;
import dev.tether.session.SessionPolicy;
import dev.tether.session.SessionRules;
import dev.tether.session.StoredSession;
import dev.tether.session.Will;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Writes a run of same-kind session events inside one transaction, with one statement (or one
 * batched statement) per step rather than one round trip per event. Returns one result per event.
 */
@ApplicationScoped
public class SessionWriter {

    /** The MQTT 5 pass-through properties, stored beside every message, will and retained message. */
    static final String PROPERTY_COLUMNS = "payload_format_indicator, content_type, response_topic, correlation_data, "
            + "user_properties";
    /** A message as stored in {@code queued_messages}. */
    static final String MESSAGE_COLUMNS = "topic, payload, qos, retain, " + PROPERTY_COLUMNS + ", expires_at";
    /** A will as stored in {@code session_wills} (without client and publish time). */
    static final String WILL_COLUMNS = "will_delay_seconds, message_expiry_seconds, topic, payload, qos, retain, "
            + PROPERTY_COLUMNS;

    /** Seed of the advisory-lock keys that serialise openings of one Client Identifier across replicas. */
    private static final long OPENING_LOCK_SEED = 0x7e7e;

    private final SessionPolicy policy;
    private final SessionConfig sessionConfig;
    private final java.util.concurrent.atomic.AtomicLong droppedOldest = new java.util.concurrent.atomic.AtomicLong();

    public SessionWriter(SessionConfig sessionConfig, SessionPolicy policy) {
        this.sessionConfig = sessionConfig;
        this.policy = policy;
    }

    /** Queued messages dropped to make room under the drop-oldest policy, since start. */
    public long droppedOldest() {
        return droppedOldest.get();
    }

    /** Writes {@code run} (events of one kind) and returns one result per event, in order. */
    public Uni<List<Object>> write(SqlConnection tx, List<SessionEvent> run) {
        SessionEvent first = run.get(0);
        if (first instanceof SessionOpening) {
            return opening(tx, cast(run));
        } else if (first instanceof SessionClosed) {
            return closed(tx, cast(run));
        } else if (first instanceof Subscribed) {
            return subscribed(tx, cast(run));
        } else if (first instanceof Unsubscribed) {
            return unsubscribed(tx, cast(run));
        } else if (first instanceof MessagesQueued) {
            return queued(tx, cast(run));
        } else if (first instanceof MessageSent) {
            return sent(tx, cast(run));
        } else if (first instanceof MessageReleased) {
            return released(tx, cast(run));
        } else if (first instanceof MessageAcknowledged) {
            return acknowledged(tx, cast(run));
        } else if (first instanceof InboundQos2Received) {
            return inboundReceived(tx, cast(run));
        } else if (first instanceof InboundQos2Released) {
            return inboundReleased(tx, cast(run));
        } else if (first instanceof RetainedChanged) {
            return retained(tx, cast(run));
        } else if (first instanceof SessionTakenOver) {
            return Uni.createFrom().item(nulls(run.size()));
        }
        return Uni.createFrom().failure(new IllegalArgumentException("unknown event " + first));
    }

    @SuppressWarnings("unchecked")
    private static <T> List<T> cast(List<SessionEvent> run) {
        return (List<T>) (List<?>) run;
    }

    private static List<Object> nulls(int n) {
        return new ArrayList<>(Arrays.asList(new Object[n]));
    }

    /**
     * The result of a holder event ({@link HolderEvent}) that PostgreSQL refused: its session row no longer names its
     * connection (another connection holds the session, or it ended). Nothing of the event was written.
     */
    public static final Object FENCED = Refusal.FENCED;

    private enum Refusal { FENCED }

    /**
     * The common part of every holder statement: {@code e}, the run's events with their 1-based position {@code ord}
     * (defined by each statement with {@code unnest(...) WITH ORDINALITY}), and {@code holder}, those whose session row
     * still names their connection. Each statement writes through {@code holder} only and returns its {@code ord}s.
     */
    private static final String HOLDER = "holder AS (SELECT e.* FROM e JOIN sessions s "
            + "ON s.client_id = e.client_id AND s.connection_id = e.connection_id) ";

    /**
     * Runs one holder statement for a run of {@code n} events; it returns the {@code ord} of each event written. The
     * result of the others is {@link #FENCED}, of the written ones {@code null}.
     */
    private static Uni<List<Object>> holderStatement(SqlConnection tx, String sql, int n, Tuple params) {
        return tx.preparedQuery(sql).execute(params).map(rows -> {
            List<Object> out = new ArrayList<>(Collections.nCopies(n, FENCED));
            for (Row r : rows) {
                out.set((int) (r.getLong(0) - 1), null);
            }
            return out;
        });
    }

    private static String[] clientIdsOf(List<? extends HolderEvent> run) {
        return run.stream().map(HolderEvent::clientId).toArray(String[]::new);
    }

    private static UUID[] connectionIdsOf(List<? extends HolderEvent> run) {
        return run.stream().map(HolderEvent::connectionId).toArray(UUID[]::new);
    }

    // ---- messages to the client: sent, released, acknowledged ------------------------------------

    private static Uni<List<Object>> sent(SqlConnection tx, List<MessageSent> run) {
        Long[] ids = run.stream().map(MessageSent::messageId).toArray(Long[]::new);
        Integer[] packetIds = run.stream().map(MessageSent::packetId).toArray(Integer[]::new);
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], "
                + "$4::integer[]) WITH ORDINALITY AS e (client_id, connection_id, message_id, packet_id, ord)), "
                + HOLDER + ", "
                + "sent AS (UPDATE queued_messages q SET state = 'sent', packet_id = h.packet_id FROM holder h "
                + "WHERE q.message_id = h.message_id AND q.client_id = h.client_id) "
                + "SELECT ord FROM holder", run.size(),
                Tuple.of(clientIdsOf(run), connectionIdsOf(run), ids, packetIds));
    }

    private static Uni<List<Object>> released(SqlConnection tx, List<MessageReleased> run) {
        Long[] ids = run.stream().map(MessageReleased::messageId).toArray(Long[]::new);
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, message_id, ord)), "
                + HOLDER + ", "
                + "released AS (UPDATE queued_messages q SET state = 'released' FROM holder h "
                + "WHERE q.message_id = h.message_id AND q.client_id = h.client_id) "
                + "SELECT ord FROM holder", run.size(), Tuple.of(clientIdsOf(run), connectionIdsOf(run), ids));
    }

    /**
     * A message already gone (e.g. deleted by the expiry job) is no refusal: only a session row that does not name
     * the connection is.
     */
    private static Uni<List<Object>> acknowledged(SqlConnection tx, List<MessageAcknowledged> run) {
        Long[] ids = run.stream().map(MessageAcknowledged::messageId).toArray(Long[]::new);
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, message_id, ord)), "
                + HOLDER + ", "
                + "acknowledged AS (DELETE FROM queued_messages q USING holder h "
                + "WHERE q.message_id = h.message_id AND q.client_id = h.client_id) "
                + "SELECT ord FROM holder", run.size(), Tuple.of(clientIdsOf(run), connectionIdsOf(run), ids));
    }

    // ---- QoS 2 from the client: received, released ------------------------------------------------

    /** Also the receipts of {@link MessagesQueued}: the statement is the same. */
    private static Uni<List<Object>> inboundReceived(SqlConnection tx, List<InboundQos2Received> run) {
        Integer[] packetIds = run.stream().map(InboundQos2Received::packetId).toArray(Integer[]::new);
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::integer[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, packet_id, ord)), "
                + HOLDER + ", "
                + "received AS (INSERT INTO inbound_qos2_messages (client_id, packet_id) "
                + "SELECT DISTINCT client_id, packet_id FROM holder ON CONFLICT DO NOTHING) "
                + "SELECT ord FROM holder", run.size(), Tuple.of(clientIdsOf(run), connectionIdsOf(run), packetIds));
    }

    private static Uni<List<Object>> inboundReleased(SqlConnection tx, List<InboundQos2Released> run) {
        Integer[] packetIds = run.stream().map(InboundQos2Released::packetId).toArray(Integer[]::new);
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::integer[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, packet_id, ord)), "
                + HOLDER + ", "
                + "released AS (DELETE FROM inbound_qos2_messages m USING holder h "
                + "WHERE m.client_id = h.client_id AND m.packet_id = h.packet_id) "
                + "SELECT ord FROM holder", run.size(), Tuple.of(clientIdsOf(run), connectionIdsOf(run), packetIds));
    }

    // ---- CONNECT -------------------------------------------------------------------------------

    private Uni<List<Object>> opening(SqlConnection tx, List<SessionOpening> run) {
        String[] ids = run.stream().map(SessionOpening::clientId).toArray(String[]::new);
        UUID self = run.get(0).instanceId();
        // Openings of one Client Identifier on several replicas take turns, even while the session has no row for
        // FOR UPDATE to lock: each then sees the other's committed row (and its live holder). Locks are taken in one
        // global order, so two batches never wait for each other in a cycle.
        return tx.preparedQuery("SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT "
                        + "hashtextextended(id, " + OPENING_LOCK_SEED + ") AS k FROM unnest($1::text[]) AS id ORDER BY 1) l")
                .execute(Tuple.of((Object) ids))
                // A session still marked connected on a replica that is gone (stopped, or its lease lapsed) is released
                // first, exactly as the sweep would: disconnected at that replica's last heartbeat, its will timed from
                // there.
                .chain(() -> tx.preparedQuery(SessionRecovery.release("SELECT b.instance_id, b.heartbeat_at FROM broker_instances b "
                                + "WHERE b.instance_id IN (SELECT s.instance_id FROM sessions s WHERE s.client_id = ANY($1) "
                                + "AND s.connected AND s.instance_id <> $2) "
                                + "AND (b.stopped_at IS NOT NULL OR b.lease_expires_at <= now()) FOR NO KEY UPDATE OF b",
                        "s.client_id = ANY($1)"))
                .execute(Tuple.of(ids, self)))
                .chain(() -> tx.preparedQuery("SELECT s.client_id, s.connected, s.expires_at, w.publish_at, s.instance_id, "
                                + "s.connection_id, (s.connected AND s.instance_id <> $2 AND b.stopped_at IS NULL "
                                + "AND b.lease_expires_at > now() AND s.connection_id IS DISTINCT FROM e.settled) "
                                + "AS held_elsewhere "
                                + "FROM unnest($1::text[], $3::uuid[]) AS e (client_id, settled) "
                                + "JOIN sessions s ON s.client_id = e.client_id "
                                + "LEFT JOIN session_wills w ON w.client_id = s.client_id "
                                + "LEFT JOIN broker_instances b ON b.instance_id = s.instance_id "
                                + "FOR UPDATE OF s")
                        .execute(Tuple.of(ids, self, run.stream().map(e -> e.settledConnection().orElse(null))
                                .toArray(UUID[]::new))))
                .flatMap(rows -> {
                    Map<String, StoredSession> stored = new HashMap<>();
                    Map<String, SessionOpened.Holder> heldElsewhere = new HashMap<>();
                    for (Row r : rows) {
                        if (Boolean.TRUE.equals(r.getBoolean("held_elsewhere"))) {
                            heldElsewhere.put(r.getString("client_id"), new SessionOpened.Holder(
                                    r.getUUID("instance_id"), r.getUUID("connection_id")));
                            continue;
                        }
                        stored.put(r.getString("client_id"), new StoredSession(r.getString("client_id"),
                                r.getBoolean("connected"),
                                Optional.ofNullable(SqlValues.instant(r.getOffsetDateTime("expires_at"))),
                                Optional.ofNullable(SqlValues.instant(r.getOffsetDateTime("publish_at")))));
                    }
                    if (heldElsewhere.isEmpty()) {
                        return applyOpening(tx, run, decide(run, stored), ids);
                    }
                    // Held by a live connection on another replica: nothing is written for these; the connection takes
                    // that one over and opens again.
                    List<SessionOpening> free = run.stream().filter(e -> !heldElsewhere.containsKey(e.clientId())).toList();
                    Uni<List<Object>> opened = free.isEmpty() ? Uni.createFrom().item(List.of())
                            : applyOpening(tx, free, decide(free, stored),
                                    free.stream().map(SessionOpening::clientId).toArray(String[]::new));
                    return opened.map(results -> {
                        List<Object> out = new ArrayList<>(run.size());
                        int next = 0;
                        for (SessionOpening e : run) {
                            SessionOpened.Holder holder = heldElsewhere.get(e.clientId());
                            out.add(holder != null ? SessionOpened.heldBy(holder) : results.get(next++));
                        }
                        return out;
                    });
                });
    }

    private List<ConnectDecision> decide(List<SessionOpening> run, Map<String, StoredSession> stored) {
        return run.stream()
                .map(e -> SessionRules.onConnect(e.request(), Optional.ofNullable(stored.get(e.clientId())), e.at(), policy))
                .toList();
    }

    private Uni<List<Object>> applyOpening(SqlConnection tx, List<SessionOpening> run, List<ConnectDecision> decisions,
                                           String[] ids) {
        List<String> discard = new ArrayList<>();
        List<String> present = new ArrayList<>();
        List<String> publishWill = new ArrayList<>();
        List<SessionOpening> upserts = new ArrayList<>();
        List<Tuple> wills = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            SessionOpening e = run.get(i);
            ConnectDecision d = decisions.get(i);
            if (d.discardExisting()) {
                discard.add(e.clientId());
            }
            if (d.sessionPresent()) {
                present.add(e.clientId());
            }
            if (d.pendingWill() == PendingWillAction.PUBLISH) {
                publishWill.add(e.clientId());
            }
            upserts.add(e);
            e.will().ifPresent(w -> wills.add(willTuple(e.clientId(), w)));
        }
        Map<String, Will> dueWills = new HashMap<>();
        Uni<Void> steps = tx.preparedQuery("DELETE FROM session_wills WHERE client_id = ANY($1) RETURNING client_id, "
                        + "publish_at, " + WILL_COLUMNS)
                .execute(Tuple.of((Object) ids))
                .invoke(rows -> {
                    for (Row r : rows) {
                        if (r.getOffsetDateTime("publish_at") != null && publishWill.contains(r.getString("client_id"))) {
                            dueWills.put(r.getString("client_id"), readWill(r));
                        }
                    }
                })
                .replaceWithVoid();
        if (!discard.isEmpty()) {
            steps = steps.chain(() -> tx.preparedQuery("DELETE FROM sessions WHERE client_id = ANY($1)")
                    .execute(Tuple.of((Object) discard.toArray(String[]::new))).replaceWithVoid());
        }
        int n = upserts.size();
        Map<String, Long> epochs = new HashMap<>();
        String[] versions = new String[n];
        UUID[] instances = new UUID[n];
        UUID[] connections = new UUID[n];
        OffsetDateTime[] connectedAt = new OffsetDateTime[n];
        Long[] expiries = new Long[n];
        for (int i = 0; i < n; i++) {
            SessionOpening e = upserts.get(i);
            versions[i] = e.request().version().label();
            instances[i] = e.instanceId();
            connections[i] = e.connectionId();
            connectedAt[i] = SqlValues.timestamp(e.at());
            expiries[i] = decisions.get(i).grantedExpiry().seconds();
        }
        // One statement for the run (a client appears once per run, see Reconciler.runs).
        steps = steps.chain(() -> tx.preparedQuery("INSERT INTO sessions (client_id, protocol_version, connected, "
                        + "instance_id, connection_id, connected_at, expiry_interval_seconds) "
                        + "SELECT client_id, protocol_version, true, instance_id, connection_id, connected_at, "
                        + "expiry_interval_seconds FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], "
                        + "$5::timestamptz[], $6::bigint[]) AS o (client_id, protocol_version, instance_id, connection_id, "
                        + "connected_at, expiry_interval_seconds) "
                        + "ON CONFLICT (client_id) DO UPDATE SET protocol_version = EXCLUDED.protocol_version, "
                        + "connected = true, instance_id = EXCLUDED.instance_id, connection_id = EXCLUDED.connection_id, "
                        + "connected_at = EXCLUDED.connected_at, disconnected_at = NULL, expires_at = NULL, "
                        + "expiry_interval_seconds = EXCLUDED.expiry_interval_seconds, epoch = nextval('session_epochs') "
                        + "RETURNING client_id, epoch")
                .execute(Tuple.of(ids, versions, instances, connections, connectedAt, expiries))
                .invoke(rows -> rows.forEach(r -> epochs.put(r.getString("client_id"), r.getLong("epoch"))))
                .replaceWithVoid());
        if (!wills.isEmpty()) {
            steps = steps.chain(() -> tx.preparedQuery("INSERT INTO session_wills (client_id, " + WILL_COLUMNS
                            + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .executeBatch(wills).replaceWithVoid());
        }
        if (present.isEmpty()) {
            return steps.map(v -> results(run, decisions, Map.of(), Map.of(), Map.of(), dueWills, epochs));
        }
        Object[] presentIds = {present.toArray(String[]::new)};
        Map<String, List<Subscription>> subs = new HashMap<>();
        Map<String, List<StoredOutboundMessage>> outbound = new HashMap<>();
        Map<String, List<Integer>> inbound = new HashMap<>();
        return steps
                .chain(() -> tx.preparedQuery("SELECT client_id, topic_filter, qos, no_local, retain_as_published, "
                                + "retain_handling, subscription_identifier FROM subscriptions WHERE client_id = ANY($1)")
                        .execute(Tuple.wrap(presentIds)))
                .invoke(rows -> rows.forEach(r -> subs.computeIfAbsent(r.getString("client_id"), k -> new ArrayList<>())
                        .add(readSubscription(r))))
                .chain(() -> tx.preparedQuery("SELECT message_id, client_id, state, packet_id, subscription_identifiers, "
                                + MESSAGE_COLUMNS + " FROM queued_messages WHERE client_id = ANY($1) ORDER BY message_id")
                        .execute(Tuple.wrap(presentIds)))
                .invoke(rows -> rows.forEach(r -> outbound.computeIfAbsent(r.getString("client_id"), k -> new ArrayList<>())
                        .add(readOutbound(r))))
                .chain(() -> tx.preparedQuery("SELECT client_id, packet_id FROM inbound_qos2_messages "
                                + "WHERE client_id = ANY($1) ORDER BY received_at")
                        .execute(Tuple.wrap(presentIds)))
                .invoke(rows -> rows.forEach(r -> inbound.computeIfAbsent(r.getString("client_id"), k -> new ArrayList<>())
                        .add(r.getInteger("packet_id"))))
                .map(v -> results(run, decisions, subs, outbound, inbound, dueWills, epochs));
    }

    private static List<Object> results(List<SessionOpening> run, List<ConnectDecision> decisions,
                                        Map<String, List<Subscription>> subs,
                                        Map<String, List<StoredOutboundMessage>> outbound,
                                        Map<String, List<Integer>> inbound, Map<String, Will> dueWills,
                                        Map<String, Long> epochs) {
        List<Object> out = new ArrayList<>(run.size());
        for (int i = 0; i < run.size(); i++) {
            String id = run.get(i).clientId();
            Will due = dueWills.get(id);
            out.add(new SessionOpened(decisions.get(i), subs.getOrDefault(id, List.of()),
                    outbound.getOrDefault(id, List.of()), inbound.getOrDefault(id, List.of()),
                    due == null ? List.of() : List.of(due), epochs.getOrDefault(id, 0L), Optional.empty()));
        }
        return out;
    }

    static Tuple willTuple(String clientId, Will w) {
        MessageProperties p = w.properties();
        return addProperties(Tuple.tuple().addString(clientId).addLong(w.delaySeconds())
                .addLong(w.messageExpirySeconds()).addString(w.topic()).addValue(SqlValues.bytes(w.payload()))
                .addShort((short) w.qos()).addBoolean(w.retain()), w.properties());
    }

    /** Appends the pass-through property columns, in the order of {@link #PROPERTY_COLUMNS}. */
    static Tuple addProperties(Tuple t, MessageProperties p) {
        return t.addShort(p.payloadFormatIndicator() == null ? null : p.payloadFormatIndicator().shortValue())
                .addString(p.contentType()).addString(p.responseTopic())
                .addValue(SqlValues.bytes(p.correlationData())).addValue(SqlValues.userProperties(p));
    }

    static Will readWill(Row r) {
        return new Will(r.getString("topic"), SqlValues.bytes(r.getBuffer("payload")), r.getShort("qos"),
                r.getBoolean("retain"), r.getLong("will_delay_seconds"), r.getLong("message_expiry_seconds"),
                readProperties(r));
    }

    static MessageProperties readProperties(Row r) {
        Short pfi = r.getShort("payload_format_indicator");
        return new MessageProperties(pfi == null ? null : pfi.intValue(), r.getString("content_type"),
                r.getString("response_topic"), SqlValues.bytes(r.getBuffer("correlation_data")),
                SqlValues.userProperties(r.getValue("user_properties")));
    }

    static Subscription readSubscription(Row r) {
        Integer id = r.getInteger("subscription_identifier");
        return new Subscription(r.getString("client_id"), r.getString("topic_filter"), r.getShort("qos"),
                r.getBoolean("no_local"), r.getBoolean("retain_as_published"), r.getShort("retain_handling"),
                id == null ? 0 : id);
    }

    static StoredOutboundMessage readOutbound(Row r) {
        PublishedMessage m = new PublishedMessage(r.getString("topic"), SqlValues.bytes(r.getBuffer("payload")),
                r.getShort("qos"), r.getBoolean("retain"), readProperties(r),
                SqlValues.instant(r.getOffsetDateTime("expires_at")), null);
        Integer packetId = r.getInteger("packet_id");
        return new StoredOutboundMessage(r.getLong("message_id"), m,
                Arrays.asList(r.getArrayOfIntegers("subscription_identifiers")), r.getString("state"),
                packetId == null ? 0 : packetId);
    }

    // ---- connection closed -----------------------------------------------------------------------

    private Uni<List<Object>> closed(SqlConnection tx, List<SessionClosed> run) {
        // One statement per step for the whole run: a client appears once per run (Reconciler.runs).
        List<SessionClosed> ended = new ArrayList<>();
        List<SessionClosed> offline = new ArrayList<>();
        List<SessionClosed> willDue = new ArrayList<>();
        List<SessionClosed> willGone = new ArrayList<>();
        for (SessionClosed e : run) {
            if (!e.expiry().isDurable()) {
                ended.add(e);
                continue;
            }
            offline.add(e);
            if (e.willPublishAt().isPresent()) {
                willDue.add(e);
            } else {
                willGone.add(e);
            }
        }
        Uni<Void> steps = Uni.createFrom().voidItem();
        if (!ended.isEmpty()) {
            steps = steps.chain(() -> tx.preparedQuery("DELETE FROM sessions s USING unnest($1::text[], $2::uuid[]) "
                            + "AS c (client_id, connection_id) "
                            + "WHERE s.client_id = c.client_id AND s.connection_id = c.connection_id")
                    .execute(Tuple.of(clientIds(ended), connectionIds(ended))).replaceWithVoid());
        }
        // The wills first, while the session rows still name the closing connections: a late close of an old
        // connection changes nothing of the connection that replaced it.
        if (!willDue.isEmpty()) {
            OffsetDateTime[] publishAt = willDue.stream()
                    .map(e -> SqlValues.timestamp(e.willPublishAt().get())).toArray(OffsetDateTime[]::new);
            steps = steps.chain(() -> tx.preparedQuery("UPDATE session_wills w SET publish_at = c.publish_at "
                            + "FROM unnest($1::text[], $2::uuid[], $3::timestamptz[]) AS c (client_id, connection_id, "
                            + "publish_at) JOIN sessions s ON s.client_id = c.client_id "
                            + "AND s.connection_id = c.connection_id WHERE w.client_id = c.client_id")
                    .execute(Tuple.of(clientIds(willDue), connectionIds(willDue), publishAt)).replaceWithVoid());
        }
        if (!willGone.isEmpty()) {
            steps = steps.chain(() -> tx.preparedQuery("DELETE FROM session_wills w "
                            + "USING unnest($1::text[], $2::uuid[]) AS c (client_id, connection_id) "
                            + "JOIN sessions s ON s.client_id = c.client_id AND s.connection_id = c.connection_id "
                            + "WHERE w.client_id = c.client_id")
                    .execute(Tuple.of(clientIds(willGone), connectionIds(willGone))).replaceWithVoid());
        }
        if (!offline.isEmpty()) {
            int n = offline.size();
            OffsetDateTime[] closedAt = new OffsetDateTime[n];
            Long[] expiries = new Long[n];
            OffsetDateTime[] deadlines = new OffsetDateTime[n];
            for (int i = 0; i < n; i++) {
                SessionClosed e = offline.get(i);
                closedAt[i] = SqlValues.timestamp(e.closedAt());
                expiries[i] = e.expiry().seconds();
                deadlines[i] = SqlValues.timestamp(e.expiry().deadlineAfter(e.closedAt()).orElse(null));
            }
            steps = steps.chain(() -> tx.preparedQuery("UPDATE sessions s SET connected = false, instance_id = NULL, "
                            + "connection_id = NULL, disconnected_at = c.closed_at, expiry_interval_seconds = c.expiry, "
                            + "expires_at = c.deadline "
                            + "FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::bigint[], $5::timestamptz[]) "
                            + "AS c (client_id, connection_id, closed_at, expiry, deadline) "
                            + "WHERE s.client_id = c.client_id AND s.connection_id = c.connection_id")
                    .execute(Tuple.of(clientIds(offline), connectionIds(offline), closedAt, expiries, deadlines))
                    .replaceWithVoid());
        }
        return steps.map(v -> nulls(run.size()));
    }

    private static String[] clientIds(List<SessionClosed> events) {
        return events.stream().map(SessionClosed::clientId).toArray(String[]::new);
    }

    private static UUID[] connectionIds(List<SessionClosed> events) {
        return events.stream().map(SessionClosed::connectionId).toArray(UUID[]::new);
    }

    // ---- subscriptions ---------------------------------------------------------------------------

    /**
     * One statement for the run (a client appears once per run: Reconciler.runs). A filter repeated in one SUBSCRIBE
     * counts once, its last options winning, as the Server replaces an existing subscription [MQTT-3.8.4-3].
     */
    private static Uni<List<Object>> subscribed(SqlConnection tx, List<Subscribed> run) {
        List<Long> ords = new ArrayList<>();
        List<Subscription> subscriptions = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            Map<String, Subscription> byFilter = new LinkedHashMap<>();
            for (Subscription s : run.get(i).subscriptions()) {
                byFilter.remove(s.topicFilter());
                byFilter.put(s.topicFilter(), s);
            }
            for (Subscription s : byFilter.values()) {
                ords.add(i + 1L);
                subscriptions.add(s);
            }
        }
        Tuple params = Tuple.tuple().addArrayOfString(clientIdsOf(run)).addArrayOfUUID(connectionIdsOf(run))
                .addArrayOfLong(ords.toArray(Long[]::new))
                .addArrayOfString(subscriptions.stream().map(Subscription::topicFilter).toArray(String[]::new))
                .addArrayOfShort(subscriptions.stream().map(s -> (short) s.qos()).toArray(Short[]::new))
                .addArrayOfBoolean(subscriptions.stream().map(Subscription::noLocal).toArray(Boolean[]::new))
                .addArrayOfBoolean(subscriptions.stream().map(Subscription::retainAsPublished).toArray(Boolean[]::new))
                .addArrayOfShort(subscriptions.stream().map(s -> (short) s.retainHandling()).toArray(Short[]::new))
                .addArrayOfInteger(subscriptions.stream()
                        .map(s -> s.subscriptionIdentifier() == 0 ? null : s.subscriptionIdentifier())
                        .toArray(Integer[]::new));
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, ord)), "
                + HOLDER + ", "
                + "input AS (SELECT * FROM unnest($3::bigint[], $4::text[], $5::smallint[], $6::boolean[], "
                + "$7::boolean[], $8::smallint[], $9::integer[]) AS i (ord, topic_filter, qos, no_local, "
                + "retain_as_published, retain_handling, subscription_identifier)), "
                + "subscribed AS (INSERT INTO subscriptions (client_id, topic_filter, qos, no_local, "
                + "retain_as_published, retain_handling, subscription_identifier) "
                + "SELECT h.client_id, i.topic_filter, i.qos, i.no_local, i.retain_as_published, i.retain_handling, "
                + "i.subscription_identifier FROM input i JOIN holder h ON h.ord = i.ord "
                + "ON CONFLICT (client_id, topic_filter) DO UPDATE SET qos = EXCLUDED.qos, "
                + "no_local = EXCLUDED.no_local, retain_as_published = EXCLUDED.retain_as_published, "
                + "retain_handling = EXCLUDED.retain_handling, "
                + "subscription_identifier = EXCLUDED.subscription_identifier, subscribed_at = now()) "
                + "SELECT ord FROM holder", run.size(), params);
    }

    private static Uni<List<Object>> unsubscribed(SqlConnection tx, List<Unsubscribed> run) {
        List<Long> ords = new ArrayList<>();
        List<String> filters = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            for (String f : run.get(i).topicFilters()) {
                ords.add(i + 1L);
                filters.add(f);
            }
        }
        return holderStatement(tx, "WITH e AS (SELECT * FROM unnest($1::text[], $2::uuid[]) "
                + "WITH ORDINALITY AS e (client_id, connection_id, ord)), "
                + HOLDER + ", "
                + "input AS (SELECT * FROM unnest($3::bigint[], $4::text[]) AS i (ord, topic_filter)), "
                + "unsubscribed AS (DELETE FROM subscriptions s USING input i JOIN holder h ON h.ord = i.ord "
                + "WHERE s.client_id = h.client_id AND s.topic_filter = i.topic_filter) "
                + "SELECT ord FROM holder", run.size(), Tuple.of(clientIdsOf(run), connectionIdsOf(run),
                ords.toArray(Long[]::new), filters.toArray(String[]::new)));
    }

    // ---- messages --------------------------------------------------------------------------------

    /**
     * Inserts every message copy of the run with one statement, in order; each session takes copies
     * while it has room under {@code max-queued-messages} and {@code max-queued-bytes} (payload bytes) (counted once
     * per session, not per copy; a never-sent message whose expiry passed takes no room: it will not be delivered,
     * and the expiry job deletes it). A session's copies are taken in order: one that does not fit leaves no room to
     * those after it.
     * Returns per event the message ids of its copies, {@link MessageRouter#QUEUE_FULL} for a copy not queued
     * for lack of room, {@link MessageRouter#NO_SESSION} for a copy whose session has no row (it ended), and
     * {@link #FENCED} for an event whose receipt was refused (its copies are not inserted).
     */
    private Uni<List<Object>> queued(SqlConnection tx, List<MessagesQueued> run) {
        return receipts(tx, run).chain(fenced -> {
            List<MessagesQueued> accepted = new ArrayList<>(run.size());
            for (int i = 0; i < run.size(); i++) {
                if (!fenced[i]) {
                    accepted.add(run.get(i));
                }
            }
            Uni<List<Object>> copies = accepted.isEmpty() ? Uni.createFrom().item(List.of()) : copies(tx, accepted);
            return copies.map(results -> {
                List<Object> out = new ArrayList<>(run.size());
                int next = 0;
                for (int i = 0; i < run.size(); i++) {
                    out.add(fenced[i] ? FENCED : results.get(next++));
                }
                return out;
            });
        });
    }

    /** The copies of {@link #queued}, for events whose receipt (if any) was written. */
    private Uni<List<Object>> copies(SqlConnection tx, List<MessagesQueued> run) {
        List<QueuedMessage> copies = new ArrayList<>();
        for (MessagesQueued e : run) {
            copies.addAll(e.messages());
        }
        if (copies.isEmpty()) {
            return Uni.createFrom().item(nulls(run.size()));
        }
        int n = copies.size();
        String[] clients = new String[n];
        String[] topics = new String[n];
        Buffer[] payloads = new Buffer[n];
        Short[] qos = new Short[n];
        Boolean[] retain = new Boolean[n];
        Short[] formats = new Short[n];
        String[] contentTypes = new String[n];
        String[] responseTopics = new String[n];
        Buffer[] correlations = new Buffer[n];
        String[] userProperties = new String[n];
        OffsetDateTime[] expiresAt = new OffsetDateTime[n];
        String[] subscriptionIds = new String[n];
        Map<String, Integer> perClient = new HashMap<>();
        Map<String, Long> bytesPerClient = new HashMap<>();
        for (int i = 0; i < n; i++) {
            QueuedMessage q = copies.get(i);
            PublishedMessage m = q.message();
            MessageProperties p = m.properties();
            clients[i] = q.clientId();
            topics[i] = m.topic();
            payloads[i] = SqlValues.bytes(m.payload());
            qos[i] = (short) m.qos();
            retain[i] = m.retain();
            formats[i] = p.payloadFormatIndicator() == null ? null : p.payloadFormatIndicator().shortValue();
            contentTypes[i] = p.contentType();
            responseTopics[i] = p.responseTopic();
            correlations[i] = SqlValues.bytes(p.correlationData());
            JsonArray props = SqlValues.userProperties(p);
            userProperties[i] = props == null ? null : props.encode();
            expiresAt[i] = SqlValues.timestamp(m.expiresAt());
            subscriptionIds[i] = q.subscriptionIdentifiers().stream().map(String::valueOf)
                    .collect(Collectors.joining(",", "{", "}"));
            perClient.merge(q.clientId(), 1, Integer::sum);
            bytesPerClient.merge(q.clientId(), (long) m.payloadSize(), Long::sum);
        }
        int limit = sessionConfig.maxQueuedMessages();
        long byteLimit = sessionConfig.maxQueuedBytes();
        Uni<Void> makeRoom = Uni.createFrom().voidItem();
        if (sessionConfig.queueOverflowPolicy() == QueueOverflowPolicy.DROP_OLDEST) {
            // Room for all new copies of a session: drop its oldest never-sent messages beyond the limits, in count
            // and in payload bytes (expired ones take no room: the expiry job deletes them).
            String[] roomClients = perClient.keySet().toArray(String[]::new);
            Integer[] incoming = Arrays.stream(roomClients).map(perClient::get).toArray(Integer[]::new);
            Long[] incomingBytes = Arrays.stream(roomClients).map(bytesPerClient::get).toArray(Long[]::new);
            makeRoom = makeRoom.chain(() -> tx.preparedQuery("WITH c AS (SELECT c.client_id, c.incoming, "
                            + "c.incoming_bytes, d.depth, d.depth_bytes "
                            + "FROM unnest($1::text[], $2::integer[], $4::bigint[]) AS c (client_id, incoming, "
                            + "incoming_bytes), LATERAL (SELECT count(*) AS depth, "
                            + "coalesce(sum(octet_length(q.payload)), 0) AS depth_bytes FROM queued_messages q "
                            + "WHERE q.client_id = c.client_id "
                            + "AND (q.expires_at IS NULL OR q.expires_at > now() OR q.state <> 'queued')) d), "
                            + "oldest AS (SELECT q.message_id, row_number() OVER w AS k, "
                            + "sum(octet_length(q.payload)) OVER w - octet_length(q.payload) AS bytes_before, "
                            + "c.depth + c.incoming - $3 AS excess, c.depth_bytes + c.incoming_bytes - $5 AS excess_bytes "
                            + "FROM queued_messages q JOIN c ON c.client_id = q.client_id WHERE q.state = 'queued' "
                            + "AND (q.expires_at IS NULL OR q.expires_at > now()) "
                            + "WINDOW w AS (PARTITION BY q.client_id ORDER BY q.message_id)) "
                            + "DELETE FROM queued_messages WHERE message_id IN (SELECT message_id FROM oldest "
                            + "WHERE k <= excess OR bytes_before < excess_bytes)")
                    .execute(Tuple.of(roomClients, incoming, limit, incomingBytes, byteLimit))
                    .invoke(rows -> droppedOldest.addAndGet(rows.rowCount()))
                    .replaceWithVoid());
        }
        Tuple params = Tuple.tuple().addArrayOfString(clients).addArrayOfString(topics).addValue(payloads)
                .addArrayOfShort(qos).addArrayOfBoolean(retain).addArrayOfShort(formats)
                .addArrayOfString(contentTypes).addArrayOfString(responseTopics).addValue(correlations)
                .addArrayOfString(userProperties).addArrayOfOffsetDateTime(expiresAt)
                .addArrayOfString(subscriptionIds).addInteger(limit).addLong(byteLimit);
        return makeRoom.chain(() -> tx.preparedQuery("WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], "
                        + "$3::bytea[], $4::smallint[], $5::boolean[], $6::smallint[], $7::text[], $8::text[], "
                        + "$9::bytea[], $10::text[], $11::timestamptz[], $12::text[]) WITH ORDINALITY AS i (client_id, "
                        + "topic, payload, qos, retain, payload_format_indicator, content_type, response_topic, "
                        + "correlation_data, user_properties, expires_at, subscription_identifiers, ord)), "
                        + "room AS (SELECT s.client_id, $13 - d.depth AS free, $14 - d.depth_bytes AS free_bytes "
                        + "FROM sessions s, LATERAL (SELECT count(*) AS depth, "
                        + "coalesce(sum(octet_length(q.payload)), 0) AS depth_bytes FROM queued_messages q "
                        + "WHERE q.client_id = s.client_id "
                        + "AND (q.expires_at IS NULL OR q.expires_at > now() OR q.state <> 'queued')) d "
                        + "WHERE s.client_id IN (SELECT client_id FROM input)), "
                        + "ranked AS (SELECT i.*, row_number() OVER w AS rn, "
                        + "sum(octet_length(i.payload)) OVER w AS bytes_through "
                        + "FROM input i WINDOW w AS (PARTITION BY i.client_id ORDER BY i.ord)), "
                        + "inserted AS (INSERT INTO queued_messages (client_id, " + MESSAGE_COLUMNS
                        + ", subscription_identifiers) "
                        + "SELECT r.client_id, r.topic, r.payload, r.qos, r.retain, r.payload_format_indicator, "
                        + "r.content_type, r.response_topic, r.correlation_data, r.user_properties::jsonb, r.expires_at, "
                        + "r.subscription_identifiers::integer[] FROM ranked r JOIN room ON room.client_id = r.client_id "
                        + "WHERE r.rn <= room.free AND r.bytes_through <= room.free_bytes ORDER BY r.ord "
                        + "RETURNING message_id, client_id) "
                        // Then one row without message id per session that has a row: the others ended.
                        + "SELECT message_id, client_id FROM inserted "
                        + "UNION ALL SELECT NULL, client_id FROM room")
                .execute(params))
                .map(rows -> {
                    // Ids come from one sequence in insertion order (ORDER BY ord): per session, its inserted
                    // copies are its first ones (rn <= free, bytes_through <= free_bytes), in order of their ids.
                    List<Row> inserted = new ArrayList<>();
                    Set<String> withSession = new HashSet<>();
                    for (Row r : rows) {
                        if (r.getLong(0) == null) {
                            withSession.add(r.getString(1));
                        } else {
                            inserted.add(r);
                        }
                    }
                    inserted.sort(java.util.Comparator.comparingLong(r -> r.getLong(0)));
                    Map<String, ArrayDeque<Long>> ids = new HashMap<>();
                    for (Row r : inserted) {
                        ids.computeIfAbsent(r.getString(1), k -> new ArrayDeque<>()).add(r.getLong(0));
                    }
                    List<Object> out = new ArrayList<>(run.size());
                    for (MessagesQueued e : run) {
                        List<Long> eventIds = new ArrayList<>(e.messages().size());
                        for (QueuedMessage q : e.messages()) {
                            ArrayDeque<Long> forClient = ids.get(q.clientId());
                            Long id = forClient == null ? null : forClient.poll();
                            if (id == null) {
                                id = withSession.contains(q.clientId()) ? MessageRouter.QUEUE_FULL
                                        : MessageRouter.NO_SESSION;
                            }
                            eventIds.add(id);
                        }
                        out.add(List.copyOf(eventIds));
                    }
                    return out;
                });
    }

    /**
     * Writes the inbound QoS 2 Packet Identifiers that the run's messages came with, fenced like
     * {@link InboundQos2Received}, in the same transaction as their copies. Returns per event whether its receipt was
     * refused (then its copies are not inserted either: the message is routed exactly when its identifier is stored).
     */
    private static Uni<boolean[]> receipts(SqlConnection tx, List<MessagesQueued> run) {
        List<InboundQos2Received> receipts = run.stream().flatMap(e -> e.receipt().stream()).toList();
        boolean[] fenced = new boolean[run.size()];
        if (receipts.isEmpty()) {
            return Uni.createFrom().item(fenced);
        }
        return inboundReceived(tx, receipts).map(results -> {
            int next = 0;
            for (int i = 0; i < run.size(); i++) {
                if (run.get(i).receipt().isPresent()) {
                    fenced[i] = results.get(next++) == FENCED;
                }
            }
            return fenced;
        });
    }

    private Uni<List<Object>> retained(SqlConnection tx, List<RetainedChanged> run) {
        Uni<Void> steps = Uni.createFrom().voidItem();
        // Order matters for the same topic: one statement per event keeps it.
        for (RetainedChanged e : run) {
            PublishedMessage m = e.message();
            if (m.payloadSize() == 0) {
                steps = steps.chain(() -> tx.preparedQuery("DELETE FROM retained_messages WHERE topic = $1")
                        .execute(Tuple.of(m.topic())).replaceWithVoid());
            } else {
                Tuple t = addProperties(Tuple.tuple().addString(m.topic()).addValue(SqlValues.bytes(m.payload()))
                        .addShort((short) m.qos()).addBoolean(true), m.properties())
                        .addOffsetDateTime(SqlValues.timestamp(m.expiresAt()));
                steps = steps.chain(() -> tx.preparedQuery("INSERT INTO retained_messages (topic, payload, qos, "
                                + "payload_format_indicator, content_type, response_topic, correlation_data, "
                                + "user_properties, expires_at) SELECT $1, $2, $3, $5, $6, $7, $8, $9, $10 "
                                + "WHERE $4 ON CONFLICT (topic) DO UPDATE SET payload = EXCLUDED.payload, "
                                + "qos = EXCLUDED.qos, payload_format_indicator = EXCLUDED.payload_format_indicator, "
                                + "content_type = EXCLUDED.content_type, response_topic = EXCLUDED.response_topic, "
                                + "correlation_data = EXCLUDED.correlation_data, "
                                + "user_properties = EXCLUDED.user_properties, expires_at = EXCLUDED.expires_at, "
                                + "retained_at = now()")
                        .execute(t).replaceWithVoid());
            }
        }
        return steps.map(v -> nulls(run.size()));
    }
}
