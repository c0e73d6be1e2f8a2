package dev.tether.limits;

/** A limit Tether enforces, with the value of the {@code limit} tag its metrics carry. */
public enum Limit {
    /** {@code tether.limits.max-connections}: CONNACK 0x97 Quota exceeded (3.1.1: 3). */
    MAX_CONNECTIONS("max-connections"),
    /** {@code tether.limits.connections-per-second-per-address}: the connection is closed before it is read. */
    CONNECTION_RATE("connection-rate"),
    /** {@code tether.limits.max-subscriptions-per-session}: SUBACK 0x97 (3.1.1: 0x80) for that filter. */
    MAX_SUBSCRIPTIONS("max-subscriptions"),
    /** {@code tether.limits.max-topic-length}: Topic Name invalid (0x90) or Topic Filter invalid (0x8F). */
    TOPIC_LENGTH("topic-length"),
    /** {@code tether.limits.max-topic-levels}: as {@link #TOPIC_LENGTH}. */
    TOPIC_LEVELS("topic-levels"),
    /** {@code tether.limits.publish-rate}: the client's connection is not read for a while. */
    PUBLISH_RATE("publish-rate"),
    /** {@code tether.limits.publish-bytes-rate}: as {@link #PUBLISH_RATE}. */
    PUBLISH_BYTES_RATE("publish-bytes-rate");

    private final String tag;

    Limit(String tag) {
        this.tag = tag;
    }

    /** The value of the metrics' {@code limit} tag. */
    public String tag() {
        return tag;
    }
}
