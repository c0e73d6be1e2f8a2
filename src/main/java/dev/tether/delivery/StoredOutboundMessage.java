package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import java.util.List;

/**
 * A row of {@code queued_messages} read back on resume.
 *
 * @param state     "queued", "sent" (PUBLISH sent, not acknowledged) or "released" (QoS 2, PUBREL sent)
 * @param packetId  the Packet Identifier it was sent with, 0 when never sent
 */
public record StoredOutboundMessage(long messageId, PublishedMessage message, List<Integer> subscriptionIdentifiers,
                                    String state, int packetId) {
    public StoredOutboundMessage {
        subscriptionIdentifiers = List.copyOf(subscriptionIdentifiers);
    }

    public boolean isSent() {
        return "sent".equals(state);
    }

    public boolean isReleased() {
        return "released".equals(state);
    }
}
