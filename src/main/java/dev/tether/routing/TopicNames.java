package dev.tether.routing;

/**
 * Validation helpers for MQTT 5 topic names and topic filters (MQTT 5.0 §4.7, §4.8.2).
 *
 * <p>All methods are pure, thread-safe and treat {@code null} as invalid.
 */
public final class TopicNames {

    /** Prefix of a shared subscription filter: {@code $share/{ShareName}/{filter}} [MQTT 5.0 §4.8.2]. */
    public static final String SHARE_PREFIX = "$share/";

    /** Maximum encoded length of an MQTT UTF-8 string [MQTT 5.0 §1.5.4]. */
    static final int MAX_UTF8_LENGTH = 65_535;

    private TopicNames() {
    }

    /**
     * Whether {@code name} is a valid topic name for a PUBLISH: non-empty [MQTT-4.7.3-1], no wildcard
     * characters [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2], well-formed UTF-16 (encodable as well-formed
     * UTF-8 [MQTT-1.5.4-1]) and an encoded length of at most 65535 bytes.
     */
    public static boolean isValidTopicName(String name) {
        if (name == null || name.isEmpty()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '+' || c == '#') {
                return false;
            }
        }
        return isValidMqttString(name);
    }

    /**
     * Whether {@code filter} is a valid topic filter for a SUBSCRIBE or UNSUBSCRIBE.
     *
     * <p>Rules: non-empty [MQTT-4.7.3-1], no U+0000 [MQTT-4.7.3-2], encoded length at most 65535 bytes,
     * {@code '#'} only as the whole last level [MQTT-4.7.1-1], {@code '+'} only as a whole level
     * [MQTT-4.7.1-2]. A filter starting with {@code "$share/"} is a shared subscription and is valid
     * only as {@code $share/{group}/{filter}} where the group is non-empty and contains none of
     * {@code '/'}, {@code '+'}, {@code '#'} [MQTT-4.8.2-1] and is followed by a valid filter
     * [MQTT-4.8.2-2].
     */
    public static boolean isValidTopicFilter(String filter) {
        if (filter == null || filter.isEmpty() || !isValidMqttString(filter)) {
            return false;
        }
        if (!isShared(filter)) {
            return isValidPlainFilter(filter);
        }
        int slash = filter.indexOf('/', SHARE_PREFIX.length());
        if (slash < 0 || slash == SHARE_PREFIX.length()) {
            return false; // no filter after the group, or empty group [MQTT-4.8.2-1, MQTT-4.8.2-2]
        }
        for (int i = SHARE_PREFIX.length(); i < slash; i++) {
            char c = filter.charAt(i);
            if (c == '+' || c == '#') {
                return false; // [MQTT-4.8.2-1]
            }
        }
        return isValidPlainFilter(filter.substring(slash + 1));
    }

    /**
     * Whether {@code filter} denotes a shared subscription, i.e. starts with {@code "$share/"}. This does
     * not validate the filter; use {@link #isValidTopicFilter(String)} for that.
     */
    public static boolean isShared(String filter) {
        return filter != null && filter.startsWith(SHARE_PREFIX);
    }

    /** The filter part of a valid shared filter ({@code "a/b"} for {@code "$share/g/a/b"}). */
    static String sharedFilterPart(String sharedFilter) {
        return sharedFilter.substring(sharedFilter.indexOf('/', SHARE_PREFIX.length()) + 1);
    }

    /** Wildcard placement rules for a non-shared filter (U+0000 and length already checked). */
    private static boolean isValidPlainFilter(String filter) {
        int len = filter.length();
        if (len == 0) {
            return false;
        }
        for (int i = 0; i < len; i++) {
            char c = filter.charAt(i);
            if (c == '+' || c == '#') {
                boolean startsLevel = i == 0 || filter.charAt(i - 1) == '/';
                boolean endsLevel = i == len - 1 || filter.charAt(i + 1) == '/';
                if (!startsLevel || !endsLevel) {
                    return false; // [MQTT-4.7.1-1], [MQTT-4.7.1-2]
                }
                if (c == '#' && i != len - 1) {
                    return false; // '#' must be the last level [MQTT-4.7.1-1]
                }
            }
        }
        return true;
    }

    /**
     * No U+0000, no unpaired surrogates [MQTT-1.5.4-1, MQTT-1.5.4-2] and UTF-8 length within bounds
     * [MQTT 5.0 §1.5.4].
     */
    private static boolean isValidMqttString(String s) {
        long bytes = 0;
        int len = s.length();
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c == '\u0000') {
                return false;
            } else if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)) {
                if (i + 1 >= len || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                bytes += 4;
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            } else {
                bytes += 3;
            }
            if (bytes > MAX_UTF8_LENGTH) {
                return false;
            }
        }
        return true;
    }
}
