package dev.tether.events;

import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.routing.Subscription;
import dev.tether.session.ConnectDecision;
import dev.tether.session.Will;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The committed result of a {@link SessionEvent.SessionOpening}.
 *
 * @param subscriptions       the resumed session's subscriptions (empty for a new session)
 * @param outbound            the resumed session's queued and in-flight messages, oldest first
 * @param inboundQos2         Packet Identifiers of QoS 2 messages awaiting PUBREL from the client
 * @param willsToPublish      a pending will of the previous session that is due now
 * @param epoch               the session's {@code sessions.epoch} for this connection (new with every opening)
 * @param heldBy              when present, nothing was written: a live connection on another replica holds the
 *                            session, and must be taken over first; the other fields are then empty
 */
public record SessionOpened(ConnectDecision decision, List<Subscription> subscriptions,
                            List<StoredOutboundMessage> outbound, List<Integer> inboundQos2,
                            List<Will> willsToPublish, long epoch, Optional<Holder> heldBy) {
    public SessionOpened {
        subscriptions = List.copyOf(subscriptions);
        outbound = List.copyOf(outbound);
        inboundQos2 = List.copyOf(inboundQos2);
        willsToPublish = List.copyOf(willsToPublish);
    }

    /** The live connection of a session on another replica. */
    public record Holder(UUID instanceId, UUID connectionId) {
    }

    /** The answer when a live connection on another replica holds the session: nothing written. */
    public static SessionOpened heldBy(Holder holder) {
        return new SessionOpened(null, List.of(), List.of(), List.of(), List.of(), 0, Optional.of(holder));
    }
}
