package dev.tether.delivery;

import dev.tether.cluster.Change;
import dev.tether.cluster.Cluster;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvents;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Match;
import dev.tether.routing.SharedMatch;
import dev.tether.routing.SubscriptionIndex;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Routes a published message to every matching subscription: live connections get it at once,
 * durable sessions (QoS 1/2) get it through PostgreSQL first. The returned {@link Uni} completes
 * when everything that must be durable is committed, which is when the publisher may be acknowledged.
 *
 * <p><b>Shared subscriptions</b> (MQTT 5.0 §4.8.2): each message goes to exactly one member of each matching
 * share group, at min(published QoS, that member's granted QoS) [MQTT-4.8.2-3]. Members with a live
 * connection on this instance are preferred, taken round-robin per group. While no member is connected the
 * message is queued (QoS 1/2 only) for one durable member, also round-robin, so it is not lost; it is
 * delivered when that member returns. Messages already queued for a member that disconnects stay in its
 * queue until it returns or its session expires; they are not moved to another member. A QoS 0 message for a
 * group with no connected member is dropped, as for a non-shared subscription. A group's round-robin position
 * goes when its last member leaves.
 *
 * <p><b>Several replicas</b>: every replica knows every subscription and which replica holds each connected client
 * ({@link Cluster}); the replica where a message is published routes it, and hands each copy for a client connected
 * elsewhere to that replica. Copies for durable sessions are committed first, as on one replica. "Connected members
 * first" for share groups counts members connected on any replica.
 *
 * <p><b>A session without a row</b> (deleted with SQL while this broker knew it) has ended: PostgreSQL is the
 * truth. When the store finds no row for a copy, the connection routing saw (if still there) is told
 * ({@link ClientConnection#sessionEnded()}) and this broker forgets the session's subscriptions. The publisher's
 * acknowledgement stays what routing found: a subscription matched, so no 0x10 No matching subscribers.
 */
@ApplicationScoped
public class MessageRouter {

    /** The store's answer for a copy not queued because its session's queue is full (drop-newest). */
    public static final long QUEUE_FULL = 0;
    /** The store's answer for a copy whose session has no row: the session ended. */
    public static final long NO_SESSION = -1;

    private final SubscriptionIndex subscriptions;
    private final ConnectedClients clients;
    private final SessionDirectory sessions;
    private final RetainedMessages retained;
    private final SessionEvents events;
    private final Cluster cluster;
    private final AtomicLong droppedForFullQueue = new AtomicLong();
    /** Round-robin position per share group (full {@code $share/...} filter). */
    private final ConcurrentHashMap<String, AtomicLong> groupTurns = new ConcurrentHashMap<>();

    public MessageRouter(SubscriptionIndex subscriptions, ConnectedClients clients, SessionDirectory sessions,
                         RetainedMessages retained, SessionEvents events, Cluster cluster) {
        this.subscriptions = subscriptions;
        this.clients = clients;
        this.sessions = sessions;
        this.retained = retained;
        this.events = events;
        this.cluster = cluster;
        subscriptions.onShareGroupEmptied(groupTurns::remove);
    }

    /** What routing found: how many sessions the message matched. */
    public record Routed(int matchedSessions) {
    }

    public Uni<Routed> route(PublishedMessage message) {
        return route(message, Optional.empty());
    }

    /**
     * Routes a message that came as a QoS 2 PUBLISH from a durable session: its Packet Identifier is recorded in
     * the same transaction as the message's queued copies (or on its own when nothing is queued), so the message
     * is routed exactly when the identifier that deduplicates the client's resend is stored.
     */
    public Uni<Routed> route(PublishedMessage message, Optional<SessionEvent.InboundQos2Received> receipt) {
        Uni<Void> retainedWrite = Uni.createFrom().voidItem();
        if (message.retain()) {
            retained.apply(message);
            // Stored, then known to every replica (a new subscription anywhere gets it) before the publisher's ack.
            retainedWrite = events.<Object>publish(new SessionEvent.RetainedChanged(message))
                    .chain(() -> Uni.createFrom().completionStage(cluster.announce(new Change.RetainedSet(message))));
        }
        List<Match> matches = subscriptions.match(message.topic(), message.publisherClientId());
        List<DurableCopy> durable = new ArrayList<>();
        for (Match m : matches) {
            int qos = Math.min(message.qos(), m.qos());
            // [MQTT-3.3.1-12] retain flag 0 on delivery unless Retain As Published.
            PublishedMessage out = message.withRetain(m.retainAsPublished() && message.retain()).withQos(qos);
            if (qos > 0 && sessions.isDurable(m.clientId())) {
                durable.add(durableCopy(m, out));
            } else {
                deliverLive(m.clientId(), out, qos, m.subscriptionIdentifiers(), 0);
            }
        }
        List<SharedMatch> groups = subscriptions.matchShared(message.topic());
        for (SharedMatch g : groups) {
            routeToGroup(message, g, durable);
        }
        Routed routed = new Routed(matches.size() + groups.size());
        if (durable.isEmpty()) {
            Uni<Void> receiptWrite = receipt.isEmpty() ? Uni.createFrom().voidItem()
                    : events.publish(receipt.get()).replaceWithVoid();
            return Uni.combine().all().unis(retainedWrite, receiptWrite).discardItems().replaceWith(routed);
        }
        // The store answers a MessagesQueued with the message ids, in order (or QUEUE_FULL, NO_SESSION).
        Uni<List<Long>> queued = events.publish(new SessionEvent.MessagesQueued(
                durable.stream().map(DurableCopy::message).toList(), receipt));
        return retainedWrite.chain(() -> queued).map(ids -> {
            for (int i = 0; i < durable.size(); i++) {
                QueuedMessage q = durable.get(i).message();
                long id = ids.get(i);
                if (id == NO_SESSION) {
                    sessionEnded(q.clientId(), durable.get(i).routedTo());
                    continue;
                }
                if (id == QUEUE_FULL) {
                    droppedForFullQueue.incrementAndGet();
                    continue;
                }
                deliverLive(q.clientId(), q.message(), q.message().qos(), q.subscriptionIdentifiers(), id);
            }
            return routed;
        });
    }

    /**
     * Hands a copy to the client's live connection: on this replica directly, on another one over the replica link.
     * Nothing happens when the client is connected nowhere (a stored copy waits in PostgreSQL for its next session).
     */
    private void deliverLive(String clientId, PublishedMessage message, int qos, List<Integer> subscriptionIds,
                             long messageId) {
        Optional<ClientConnection> local = clients.get(clientId);
        if (local.isPresent()) {
            local.get().deliver(message, qos, subscriptionIds, messageId);
            return;
        }
        cluster.remoteHolderOf(clientId)
                .ifPresent(replica -> cluster.forward(replica, clientId, message, qos, subscriptionIds, messageId));
    }

    /** Whether the client has a live connection on any replica. */
    private boolean isConnected(String clientId) {
        return clients.get(clientId).isPresent() || cluster.remoteHolderOf(clientId).isPresent();
    }

    /** A copy for a durable session, with the connection routing saw for its client (if any). */
    private record DurableCopy(QueuedMessage message, Optional<ClientConnection> routedTo) {
    }

    private DurableCopy durableCopy(Match m, PublishedMessage out) {
        return new DurableCopy(new QueuedMessage(m.clientId(), out, m.subscriptionIdentifiers()),
                clients.get(m.clientId()));
    }

    /**
     * The session of {@code clientId} has no row: it ended. The connection routing saw, if it is still the
     * client's, is told and closes; the session's subscriptions go. A connection that came since routing sent
     * its own CONNECT, which decides its session: it is left alone.
     */
    private void sessionEnded(String clientId, Optional<ClientConnection> routedTo) {
        Optional<ClientConnection> live = clients.get(clientId);
        if (live.isPresent() && (routedTo.isEmpty() || live.get() != routedTo.get())) {
            return;
        }
        live.ifPresent(ClientConnection::sessionEnded);
        subscriptions.removeAll(clientId);
        sessions.remove(clientId);
    }

    /** Sends (or queues) the message for one member of {@code group}; see the class comment. */
    private void routeToGroup(PublishedMessage message, SharedMatch group, List<DurableCopy> durable) {
        List<Match> candidates = new ArrayList<>(group.members().size());
        for (Match m : group.members()) {
            if (isConnected(m.clientId())) {
                candidates.add(m);
            }
        }
        if (candidates.isEmpty()) {
            for (Match m : group.members()) {
                if (Math.min(message.qos(), m.qos()) > 0 && sessions.isDurable(m.clientId())) {
                    candidates.add(m);
                }
            }
            if (candidates.isEmpty()) {
                return; // nobody connected, nobody who could keep it: dropped like QoS 0 to an offline client
            }
        }
        long turn = turnsOf(group.topicFilter()).getAndIncrement();
        Match m = candidates.get((int) Math.floorMod(turn, (long) candidates.size()));
        int qos = Math.min(message.qos(), m.qos()); // [MQTT-4.8.2-3]
        PublishedMessage out = message.withRetain(m.retainAsPublished() && message.retain()).withQos(qos);
        if (qos > 0 && sessions.isDurable(m.clientId())) {
            durable.add(durableCopy(m, out));
        } else {
            deliverLive(m.clientId(), out, qos, m.subscriptionIdentifiers(), 0);
        }
    }

    /** The round-robin position of a share group, created on its first message. */
    private AtomicLong turnsOf(String group) {
        AtomicLong turns = groupTurns.get(group);
        if (turns == null) {
            turns = groupTurns.computeIfAbsent(group, k -> new AtomicLong());
            // Its last member may have left since matching, and the index's notice come before this position
            // existed: then nobody else would remove it.
            if (!subscriptions.hasShareGroup(group)) {
                groupTurns.remove(group, turns);
            }
        }
        return turns;
    }

    /** Whether a round-robin position is kept for the share group {@code group}; for tests. */
    boolean keepsTurnsOf(String group) {
        return groupTurns.containsKey(group);
    }

    /** Messages not queued because a session's queue was full (drop-newest), since start. */
    public long droppedForFullQueue() {
        return droppedForFullQueue.get();
    }
}
