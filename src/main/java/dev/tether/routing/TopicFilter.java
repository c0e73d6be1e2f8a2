package dev.tether.routing;

import java.util.Objects;

/**
 * A validated MQTT topic filter, possibly a shared one ({@code $share/{group}/{filter}}).
 *
 * @param value the filter as received in SUBSCRIBE; must satisfy {@link TopicNames#isValidTopicFilter(String)}
 */
public record TopicFilter(String value) {

    /** @throws IllegalArgumentException if {@code value} is null or not a valid topic filter */
    public TopicFilter {
        if (!TopicNames.isValidTopicFilter(value)) {
            throw new IllegalArgumentException("Invalid topic filter: " + value);
        }
    }

    /** Whether this is a shared subscription filter ({@code $share/...}). */
    public boolean isShared() {
        return TopicNames.isShared(value);
    }

    /**
     * Whether {@code topicName} matches this filter under MQTT 5.0 §4.7 rules: {@code '+'} matches exactly one
     * (possibly empty) level, {@code '#'} matches the parent level and any number of child levels, and topic
     * names starting with {@code '$'} are not matched by a filter whose first level is {@code '+'} or
     * {@code '#'} [MQTT-4.7.2-1]. For a shared filter the {@code $share/{group}/} prefix is ignored.
     *
     * @return false if {@code topicName} is not a valid topic name
     */
    public boolean matches(String topicName) {
        if (!TopicNames.isValidTopicName(topicName)) {
            return false;
        }
        String filter = isShared() ? TopicNames.sharedFilterPart(value) : value;
        return matches(filter.split("/", -1), topicName);
    }

    static boolean matches(String[] filterLevels, String topicName) {
        Objects.requireNonNull(topicName, "topicName");
        String[] topicLevels = topicName.split("/", -1);
        if (topicName.startsWith("$") && (filterLevels[0].equals("+") || filterLevels[0].equals("#"))) {
            return false; // [MQTT-4.7.2-1]
        }
        int i = 0;
        for (; i < filterLevels.length; i++) {
            String level = filterLevels[i];
            if (level.equals("#")) {
                return true; // parent and all children [MQTT-4.7.1-1]
            }
            if (i >= topicLevels.length) {
                return false;
            }
            if (!level.equals("+") && !level.equals(topicLevels[i])) {
                return false;
            }
        }
        return i == topicLevels.length;
    }
}
