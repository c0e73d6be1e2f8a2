package dev.tether.session;

import dev.tether.protocol.MessageProperties;
import java.util.Arrays;
import java.util.Objects;

/**
 * A Will Message with its Will Delay Interval (MQTT 5.0 §3.1.2.5, §3.1.3.2).
 *
 * @param messageExpirySeconds the will's Message Expiry Interval, or {@code null} when it has none
 */
public record Will(
        String topic,
        byte[] payload,
        int qos,
        boolean retain,
        long delaySeconds,
        Long messageExpirySeconds,
        MessageProperties properties) {

    public Will {
        Objects.requireNonNull(topic, "topic");
        payload = payload == null ? new byte[0] : payload.clone();
        properties = properties == null ? MessageProperties.NONE : properties;
        if (delaySeconds < 0) {
            throw new IllegalArgumentException("will delay " + delaySeconds);
        }
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Will w && topic.equals(w.topic) && Arrays.equals(payload, w.payload) && qos == w.qos
                && retain == w.retain && delaySeconds == w.delaySeconds
                && Objects.equals(messageExpirySeconds, w.messageExpirySeconds) && properties.equals(w.properties);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, Arrays.hashCode(payload), qos, retain, delaySeconds, messageExpirySeconds, properties);
    }
}
