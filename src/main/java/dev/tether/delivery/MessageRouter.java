package dev.tether.delivery;

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
 * group with no connected member is dropped, as for a non-shared subscription.
 */
@ApplicationScoped
public class MessageRouter {

    private final SubscriptionIndex subscriptions;
    private final ConnectedClients clients;
    private final SessionDirectory sessions;
    private final RetainedMessages retained;
    private final SessionEvents events;
    private final AtomicLong droppedForFullQueue = new AtomicLong();
    /** Round-robin position per share group (full {@code $share/...} filter). */
    private final ConcurrentHashMap<String, AtomicLong> groupTurns = new ConcurrentHashMap<>();

    public MessageRouter(SubscriptionIndex subscriptions, ConnectedClients clients, SessionDirectory sessions,
                         RetainedMessages retained, SessionEvents events) {
        this.subscriptions = subscriptions;
        this.clients = clients;
        this.sessions = sessions;
        this.retained = retained;
        this.events = events;
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
            retainedWrite = events.<Object>publish(new SessionEvent.RetainedChanged(message)).replaceWithVoid();
        }
        List<Match> matches = subscriptions.match(message.topic(), message.publisherClientId());
        List<QueuedMessage> durable = new ArrayList<>();
        for (Match m : matches) {
            int qos = Math.min(message.qos(), m.qos());
            // [MQTT-3.3.1-12] retain flag 0 on delivery unless Retain As Published.
            PublishedMessage out = message.withRetain(m.retainAsPublished() && message.retain()).withQos(qos);
            if (qos > 0 && sessions.isDurable(m.clientId())) {
                durable.add(new QueuedMessage(m.clientId(), out, m.subscriptionIdentifiers()));
            } else {
                clients.get(m.clientId()).ifPresent(c -> c.deliver(out, qos, m.subscriptionIdentifiers(), 0));
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
        // The store answers a MessagesQueued with the message ids, in order (0: not queued, queue full).
        Uni<List<Long>> queued = events.publish(new SessionEvent.MessagesQueued(durable, receipt));
        return retainedWrite.chain(() -> queued).map(ids -> {
            for (int i = 0; i < durable.size(); i++) {
                QueuedMessage q = durable.get(i);
                long id = ids.get(i);
                if (id == 0) {
                    droppedForFullQueue.incrementAndGet();
                    continue;
                }
                Optional<ClientConnection> live = clients.get(q.clientId());
                live.ifPresent(c -> c.deliver(q.message(), q.message().qos(), q.subscriptionIdentifiers(), id));
            }
            return routed;
        });
    }

    /** Sends (or queues) the message for one member of {@code group}; see the class comment. */
    private void routeToGroup(PublishedMessage message, SharedMatch group, List<QueuedMessage> durable) {
        List<Match> candidates = new ArrayList<>(group.members().size());
        for (Match m : group.members()) {
            if (clients.get(m.clientId()).isPresent()) {
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
        long turn = groupTurns.computeIfAbsent(group.topicFilter(), k -> new AtomicLong()).getAndIncrement();
        Match m = candidates.get((int) Math.floorMod(turn, (long) candidates.size()));
        int qos = Math.min(message.qos(), m.qos()); // [MQTT-4.8.2-3]
        PublishedMessage out = message.withRetain(m.retainAsPublished() && message.retain()).withQos(qos);
        if (qos > 0 && sessions.isDurable(m.clientId())) {
            durable.add(new QueuedMessage(m.clientId(), out, m.subscriptionIdentifiers()));
        } else {
            clients.get(m.clientId()).ifPresent(c -> c.deliver(out, qos, m.subscriptionIdentifiers(), 0));
        }
    }

    /** Messages not queued because a session's queue was full (drop-newest), since start. */
    public long droppedForFullQueue() {
        return droppedForFullQueue.get();
    }
}
