package dev.tether.limits;

import dev.tether.routing.TopicNames;
import java.util.Optional;

/**
 * The longest topic (in UTF-8 bytes) and the most levels a topic name or filter may have. Pure.
 *
 * @param maxLength {@code tether.limits.max-topic-length}
 * @param maxLevels {@code tether.limits.max-topic-levels}
 */
public record TopicLimits(int maxLength, int maxLevels) {

    /**
     * The limit a valid topic name or topic filter goes beyond, if any. A shared subscription's
     * {@code $share/{ShareName}/} prefix counts towards the length, not towards the levels.
     */
    public Optional<Limit> brokenBy(String topic) {
        if (utf8Length(topic) > maxLength) {
            return Optional.of(Limit.TOPIC_LENGTH);
        }
        int from = 0;
        if (TopicNames.isShared(topic)) {
            int slash = topic.indexOf('/', TopicNames.SHARE_PREFIX.length());
            from = slash < 0 ? topic.length() : slash + 1;
        }
        int levels = 1;
        for (int i = from; i < topic.length(); i++) {
            if (topic.charAt(i) == '/' && ++levels > maxLevels) {
                return Optional.of(Limit.TOPIC_LEVELS);
            }
        }
        return levels > maxLevels ? Optional.of(Limit.TOPIC_LEVELS) : Optional.empty();
    }

    /** UTF-8 length of a well-formed string, without encoding it (stops counting past the maximum). */
    private int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length() && bytes <= maxLength; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }
}
