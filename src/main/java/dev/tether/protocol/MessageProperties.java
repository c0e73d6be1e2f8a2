package dev.tether.protocol;

import java.util.Arrays;
import java.util.List;

/**
 * The PUBLISH properties a broker passes through unchanged from publisher to subscriber
 * (MQTT 5.0 §3.3.2.3). Absent values are {@code null} inside, {@link Optional} outside.
 */
public record MessageProperties(
        Integer payloadFormatIndicator,
        String contentType,
        String responseTopic,
        byte[] correlationData,
        List<UserProperty> userProperties) {

    public static final MessageProperties NONE = new MessageProperties(null, null, null, null, List.of());

    public MessageProperties {
        correlationData = correlationData == null ? null : correlationData.clone();
        userProperties = userProperties == null ? List.of() : List.copyOf(userProperties);
    }

    @Override
    public byte[] correlationData() {
        return correlationData == null ? null : correlationData.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MessageProperties p
                && java.util.Objects.equals(payloadFormatIndicator, p.payloadFormatIndicator)
                && java.util.Objects.equals(contentType, p.contentType)
                && java.util.Objects.equals(responseTopic, p.responseTopic)
                && Arrays.equals(correlationData, p.correlationData)
                && userProperties.equals(p.userProperties);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(payloadFormatIndicator, contentType, responseTopic,
                Arrays.hashCode(correlationData), userProperties);
    }
}
