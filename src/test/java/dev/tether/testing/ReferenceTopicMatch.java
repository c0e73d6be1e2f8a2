package dev.tether.testing;

import java.util.List;

/**
 * MQTT 5.0 §4.7.1 topic matching restated for tests: a level-by-level match, recursive, with nothing shared with the
 * code under test (the fuzz tests compare the broker's matchers against it).
 */
public final class ReferenceTopicMatch {

    private ReferenceTopicMatch() {
    }

    /** Whether {@code filter} matches {@code topic}. */
    public static boolean matches(String filter, String topic) {
        if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) {
            return false; // [MQTT-4.7.2-1]
        }
        return levels(List.of(filter.split("/", -1)), List.of(topic.split("/", -1)));
    }

    private static boolean levels(List<String> f, List<String> t) {
        if (f.isEmpty()) {
            return t.isEmpty();
        }
        String head = f.get(0);
        if (head.equals("#")) {
            return true; // this level (even absent: the parent) and any below
        }
        if (t.isEmpty()) {
            return false;
        }
        return (head.equals("+") || head.equals(t.get(0))) && levels(f.subList(1, f.size()), t.subList(1, t.size()));
    }
}
