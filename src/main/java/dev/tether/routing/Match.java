package dev.tether.routing;

import java.util.List;
import java.util.Objects;

/**
 * The delivery decision for one client for one published message, aggregated over all of that client's
 * matching (non-shared) subscriptions [MQTT-3.3.4-2].
 *
 * @param clientId                the receiving client
 * @param qos                     the highest QoS of the matching subscriptions (to be capped by the
 *                                message's own QoS by the caller)
 * @param retainAsPublished       true if any matching subscription has Retain As Published set
 * @param subscriptionIdentifiers all non-zero subscription identifiers of the matching subscriptions
 *                                [MQTT-3.3.4-3], ascending; immutable
 */
public record Match(String clientId, int qos, boolean retainAsPublished, List<Integer> subscriptionIdentifiers) {

    /**
     * @throws NullPointerException     if {@code clientId} or the list (or an element) is null
     * @throws IllegalArgumentException if {@code qos} is not 0..2
     */
    public Match {
        Objects.requireNonNull(clientId, "clientId");
        if (qos < 0 || qos > 2) {
            throw new IllegalArgumentException("qos must be 0..2: " + qos);
        }
        subscriptionIdentifiers = List.copyOf(subscriptionIdentifiers);
    }
}
