package dev.tether.events;

import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.routing.Subscription;
import dev.tether.session.ConnectDecision;
import dev.tether.session.Will;
import java.util.List;

/**
 * The committed result of a {@link SessionEvent.SessionOpening}.
 *
 * @param subscriptions       the resumed session's subscriptions (empty for a new session)
 * @param outbound            the resumed session's queued and in-flight messages, oldest first
 * @param inboundQos2         Packet Identifiers of QoS 2 messages awaiting PUBREL from the client
 * @param willsToPublish      a pending will of the previous session that is due now
 */
public record SessionOpened(ConnectDecision decision, List<Subscription> subscriptions,
                            List<StoredOutboundMessage> outbound, List<Integer> inboundQos2,
                            List<Will> willsToPublish) {
    public SessionOpened {
        subscriptions = List.copyOf(subscriptions);
        outbound = List.copyOf(outbound);
        inboundQos2 = List.copyOf(inboundQos2);
        willsToPublish = List.copyOf(willsToPublish);
    }
}
