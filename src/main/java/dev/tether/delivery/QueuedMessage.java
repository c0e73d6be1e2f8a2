package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import java.util.List;
import java.util.Objects;

/**
 * A message for one session's client, as it is queued: at the QoS it will be delivered with
 * (min of published and granted) and with the Subscription Identifiers of the matching subscriptions.
 */
public record QueuedMessage(String clientId, PublishedMessage message, List<Integer> subscriptionIdentifiers) {
    public QueuedMessage {
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(message, "message");
        subscriptionIdentifiers = subscriptionIdentifiers == null ? List.of() : List.copyOf(subscriptionIdentifiers);
    }
}
