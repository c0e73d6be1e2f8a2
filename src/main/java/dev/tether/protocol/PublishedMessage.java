package dev.tether.protocol;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * An application message as published, independent of protocol version and of who receives it.
 *
 * @param publisherClientId client that published it (for No Local); empty for wills published by the broker itself is not
 *                          the case: a will carries its session's client id
 * @param expiresAt         from the Message Expiry Interval; {@code null} when it does not expire
 */
public record PublishedMessage(
        String topic,
        byte[] payload,
        int qos,
        boolean retain,
        MessageProperties properties,
        Instant expiresAt,
        String publisherClientId) {

    public PublishedMessage {
        Objects.requireNonNull(topic, "topic");
        payload = payload == null ? new byte[0] : payload.clone();
        if (qos < 0 || qos > 2) {
            throw new IllegalArgumentException("qos " + qos);
        }
        properties = properties == null ? MessageProperties.NONE : properties;
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload size without copying it. */
    public int payloadSize() {
        return payload.length;
    }

    public Optional<Instant> expiry() {
        return Optional.ofNullable(expiresAt);
    }

    /** True when the Message Expiry Interval has passed [MQTT-3.3.2-5]. */
    public boolean isExpiredAt(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    /** Seconds left of the Message Expiry Interval, rounded up [MQTT-3.3.2-6]; empty when it does not expire. */
    public Optional<Long> remainingExpirySeconds(Instant now) {
        if (expiresAt == null) {
            return Optional.empty();
        }
        long millis = Math.max(0, expiresAt.toEpochMilli() - now.toEpochMilli());
        return Optional.of(Math.max(1, (millis + 999) / 1000));
    }

    public PublishedMessage withQos(int newQos) {
        return new PublishedMessage(topic, payload, newQos, retain, properties, expiresAt, publisherClientId);
    }

    public PublishedMessage withRetain(boolean newRetain) {
        return new PublishedMessage(topic, payload, qos, newRetain, properties, expiresAt, publisherClientId);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublishedMessage m && topic.equals(m.topic) && Arrays.equals(payload, m.payload)
                && qos == m.qos && retain == m.retain && properties.equals(m.properties)
                && Objects.equals(expiresAt, m.expiresAt) && Objects.equals(publisherClientId, m.publisherClientId);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, Arrays.hashCode(payload), qos, retain, properties, expiresAt, publisherClientId);
    }

    @Override
    public String toString() {
        return "PublishedMessage[topic=" + topic + ", qos=" + qos + ", retain=" + retain + ", bytes=" + payload.length + "]";
    }
}
