package dev.tether.protocol;

import java.util.Objects;

/** One MQTT 5 User Property (a UTF-8 string pair); order and duplicates are significant. */
public record UserProperty(String key, String value) {
    public UserProperty {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
    }
}
