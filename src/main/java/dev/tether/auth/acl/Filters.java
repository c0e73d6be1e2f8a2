package dev.tether.auth.acl;

/**
 * Topic filter relations on levels (a filter or name split on {@code /}). {@code +} is one level, {@code #} (last) the
 * parent level and any below; a wildcard first level never matches a topic starting with {@code $} [MQTT-4.7.2-1].
 * Pure.
 */
final class Filters {

    private Filters() {
    }

    private static boolean isWildcard(String level) {
        return level.equals("+") || level.equals("#");
    }

    /** A wildcard at the first level facing a literal {@code $...} level there: no topic matches both. */
    private static boolean dollarBlocks(int i, String wildcardSide, String other) {
        return i == 0 && isWildcard(wildcardSide) && !isWildcard(other) && other.startsWith("$");
    }

    /** Whether the topic name's levels match the filter's levels. */
    static boolean matches(String[] filter, String[] topic) {
        for (int i = 0; i < filter.length; i++) {
            if (i < topic.length && dollarBlocks(i, filter[i], topic[i])) {
                return false;
            }
            if (filter[i].equals("#")) {
                return true;
            }
            if (i >= topic.length || (!filter[i].equals("+") && !filter[i].equals(topic[i]))) {
                return false;
            }
        }
        return filter.length == topic.length;
    }

    /** Whether every topic that {@code requested} can match is matched by {@code rule}. */
    static boolean covers(String[] rule, String[] requested) {
        for (int i = 0; i < requested.length; i++) {
            if (i >= rule.length) {
                return false; // the requested filter reaches deeper than the rule
            }
            String r = rule[i];
            String f = requested[i];
            if (dollarBlocks(i, r, f)) {
                return false;
            }
            if (r.equals("#")) {
                return true; // this level and everything below, the parent included
            }
            if (f.equals("#")) {
                return false; // the request takes any depth from here; the rule's level r does not
            }
            if (f.equals("+") ? !r.equals("+") : !(r.equals("+") || r.equals(f))) {
                return false;
            }
        }
        // Topics of exactly requested.length levels: the rule must end here, or go on with '#' (its parent level).
        return rule.length == requested.length || (rule.length == requested.length + 1 && rule[requested.length].equals("#"));
    }
}
