package dev.tether.routing;

import java.util.Objects;

/**
 * One subscription of one client to one topic filter, with its MQTT 5 subscription options
 * (MQTT 5.0 §3.8.3.1).
 *
 * @param clientId                 the subscribing client's identifier
 * @param topicFilter              a valid topic filter, possibly shared ({@code $share/{group}/{filter}})
 * @param qos                      maximum QoS, 0..2
 * @param noLocal                  do not deliver messages published by this same client [MQTT-3.8.3-3]
 * @param retainAsPublished        keep the RETAIN flag as published when forwarding
 * @param retainHandling           0 = send retained on subscribe, 1 = only if new subscription, 2 = never
 * @param subscriptionIdentifier   1..268435455, or 0 for none (MQTT 5.0 §3.8.2.1.2)
 */
public record Subscription(
        String clientId,
        String topicFilter,
        int qos,
        boolean noLocal,
        boolean retainAsPublished,
        int retainHandling,
        int subscriptionIdentifier) {

    /** Largest Variable Byte Integer, the maximum subscription identifier. */
    public static final int MAX_SUBSCRIPTION_IDENTIFIER = 268_435_455;

    /**
     * @throws NullPointerException     if {@code clientId} is null
     * @throws IllegalArgumentException if the filter is invalid, a value is out of range, or noLocal is set on
     *                                  a shared subscription (a protocol error [MQTT-3.8.3-4])
     */
    public Subscription {
        Objects.requireNonNull(clientId, "clientId");
        if (!TopicNames.isValidTopicFilter(topicFilter)) {
            throw new IllegalArgumentException("Invalid topic filter: " + topicFilter);
        }
        if (qos < 0 || qos > 2) {
            throw new IllegalArgumentException("qos must be 0..2: " + qos);
        }
        if (retainHandling < 0 || retainHandling > 2) {
            throw new IllegalArgumentException("retainHandling must be 0..2: " + retainHandling);
        }
        if (subscriptionIdentifier < 0 || subscriptionIdentifier > MAX_SUBSCRIPTION_IDENTIFIER) {
            throw new IllegalArgumentException(
                    "subscriptionIdentifier must be 0..268435455: " + subscriptionIdentifier);
        }
        if (noLocal && TopicNames.isShared(topicFilter)) {
            throw new IllegalArgumentException("noLocal must not be set on a shared subscription [MQTT-3.8.3-4]");
        }
    }

    /** Whether this is a shared subscription ({@code $share/...}). */
    public boolean isShared() {
        return TopicNames.isShared(topicFilter);
    }

    /** Whether a subscription identifier is present (non-zero). */
    public boolean hasSubscriptionIdentifier() {
        return subscriptionIdentifier != 0;
    }
}
