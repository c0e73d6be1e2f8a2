package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tether.testing.ReferenceTopicMatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Topic names and filters from hostile input: validation never throws, a filter it accepts makes a
 * {@link TopicFilter} and matches without throwing, and every match agrees with {@link #reference}, a plain reading of
 * MQTT 5.0 §4.7; the {@link SubscriptionIndex} answers as a brute-force scan of the same subscriptions would.
 * Replays {@code src/test/resources/dev/tether/routing/TopicMatchingFuzzTestInputs/} without {@code JAZZER_FUZZ}.
 */
class TopicMatchingFuzzTest {

    /** Levels mostly from a small alphabet so that filters and topics meet. */
    private static final String[] LEVELS = {"a", "b", "", "+", "#", "$SYS", "$share", "x y", "\u00e9", "%u"};

    @FuzzTest
    void validationAndMatching(FuzzedDataProvider d) {
        String filter = d.consumeBoolean() ? compose(d, 5) : d.consumeString(40);
        String topic = d.consumeBoolean() ? compose(d, 5) : d.consumeString(40);
        boolean validFilter = TopicNames.isValidTopicFilter(filter);
        boolean validTopic = TopicNames.isValidTopicName(topic);
        assertThat(validFilter).as("valid filter %s", filter).isEqualTo(referenceValidFilter(filter));
        if (validTopic) {
            assertThat(topic).isNotEmpty().doesNotContain("+", "#", "\u0000");
            if (!TopicNames.isShared(topic)) { // "$share/x" is a topic name, not a shared filter
                assertThat(TopicNames.isValidTopicFilter(topic)).as("a topic name is a filter too").isTrue();
            }
        }
        if (!validFilter) {
            return;
        }
        TopicFilter f = new TopicFilter(filter);
        boolean[] matched = new boolean[1];
        assertThatCode(() -> matched[0] = f.matches(topic)).doesNotThrowAnyException();
        boolean expected = validTopic && reference(f.isShared() ? TopicNames.sharedFilterPart(filter) : filter, topic);
        assertThat(matched[0]).as("%s matches %s", filter, topic).isEqualTo(expected);
    }

    /**
     * A few subscriptions of a few clients (put, replaced, removed in fuzzed order), then a publish: {@code match}
     * gives each client whose non-shared subscriptions match, with the highest QoS and every identifier, skipping
     * No Local for the publisher; {@code matchShared} gives each matching group with all its members.
     */
    @FuzzTest
    void subscriptionIndex(FuzzedDataProvider d) {
        SubscriptionIndex index = new SubscriptionIndex();
        Map<String, Map<String, Subscription>> model = new HashMap<>();
        int steps = d.consumeInt(0, 12);
        for (int i = 0; i < steps; i++) {
            String client = "c" + d.consumeInt(0, 3);
            String filter = d.consumeBoolean() ? compose(d, 4) : (d.consumeBoolean() ? "$share/g" + d.consumeInt(0, 1) + "/" : "")
                    + compose(d, 4);
            if (!TopicNames.isValidTopicFilter(filter)) {
                continue;
            }
            if (d.consumeInt(0, 3) == 0) {
                boolean had = model.getOrDefault(client, Map.of()).containsKey(filter);
                assertThat(index.remove(client, filter)).isEqualTo(had);
                if (had) {
                    model.get(client).remove(filter);
                }
                continue;
            }
            boolean shared = TopicNames.isShared(filter);
            Subscription s = new Subscription(client, filter, d.consumeInt(0, 2), !shared && d.consumeBoolean(),
                    d.consumeBoolean(), d.consumeInt(0, 2), d.consumeInt(0, 3));
            boolean had = model.computeIfAbsent(client, c -> new HashMap<>()).put(filter, s) != null;
            assertThat(index.put(s).isPresent()).isEqualTo(had);
        }
        String topic = compose(d, 5);
        if (!TopicNames.isValidTopicName(topic)) {
            return;
        }
        String publisher = "c" + d.consumeInt(0, 4);
        assertThat(index.size()).isEqualTo(model.values().stream().mapToInt(Map::size).sum());

        Map<String, Match> expected = new HashMap<>();
        Map<String, Set<String>> expectedShared = new HashMap<>();
        for (Map<String, Subscription> subs : model.values()) {
            for (Subscription s : subs.values()) {
                String plain = s.isShared() ? TopicNames.sharedFilterPart(s.topicFilter()) : s.topicFilter();
                if (!reference(plain, topic)) {
                    continue;
                }
                if (s.isShared()) {
                    expectedShared.computeIfAbsent(s.topicFilter(), g -> new TreeSet<>()).add(s.clientId());
                    continue;
                }
                if (s.noLocal() && s.clientId().equals(publisher)) {
                    continue;
                }
                Match old = expected.get(s.clientId());
                List<Integer> ids = new ArrayList<>(old == null ? List.of() : old.subscriptionIdentifiers());
                if (s.hasSubscriptionIdentifier()) {
                    ids.add(s.subscriptionIdentifier());
                }
                ids.sort(null);
                expected.put(s.clientId(), new Match(s.clientId(), Math.max(old == null ? 0 : old.qos(), s.qos()),
                        (old != null && old.retainAsPublished()) || s.retainAsPublished(), ids));
            }
        }
        Map<String, Match> actual = new HashMap<>();
        for (Match m : index.match(topic, publisher)) {
            assertThat(actual.put(m.clientId(), m)).as("one match per client").isNull();
        }
        assertThat(actual.keySet()).as("clients receiving %s", topic).isEqualTo(expected.keySet());
        actual.forEach((client, m) -> {
            Match e = expected.get(client);
            assertThat(m.qos()).isEqualTo(e.qos());
            assertThat(m.retainAsPublished()).isEqualTo(e.retainAsPublished());
            assertThat(m.subscriptionIdentifiers()).containsExactlyInAnyOrderElementsOf(e.subscriptionIdentifiers());
        });
        Map<String, Set<String>> actualShared = new HashMap<>();
        for (SharedMatch g : index.matchShared(topic)) {
            Set<String> members = new TreeSet<>();
            g.members().forEach(s -> members.add(s.clientId()));
            actualShared.put(g.topicFilter(), members);
        }
        assertThat(actualShared).as("share groups receiving %s", topic).isEqualTo(expectedShared);
    }

    /** A filter or topic of up to {@code max} levels, mostly from {@link #LEVELS}. */
    static String compose(FuzzedDataProvider d, int max) {
        int n = d.consumeInt(1, max);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                b.append('/');
            }
            b.append(d.consumeBoolean() ? d.pickValue(LEVELS) : d.consumeString(4));
        }
        return b.toString();
    }

    /** MQTT 5.0 §4.7.1: {@link ReferenceTopicMatch}, with nothing shared with the code under test. */
    static boolean reference(String filter, String topic) {
        return ReferenceTopicMatch.matches(filter, topic);
    }

    /** §4.7.1 and §4.8.2 wildcard rules restated: each level is '#' (last), '+', or free of both. */
    private static boolean referenceValidFilter(String filter) {
        if (filter.isEmpty() || filter.indexOf('\u0000') >= 0 || !wellFormedUtf16(filter)
                || filter.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 65_535) {
            return false;
        }
        String plain = filter;
        if (filter.startsWith("$share/")) {
            String[] parts = filter.split("/", 3);
            if (parts.length < 3 || parts[1].isEmpty() || parts[1].contains("+") || parts[1].contains("#")) {
                return false;
            }
            plain = parts[2];
            if (plain.isEmpty()) {
                return false;
            }
        }
        String[] levels = plain.split("/", -1);
        for (int i = 0; i < levels.length; i++) {
            String l = levels[i];
            if (l.equals("#") ? i != levels.length - 1 : !l.equals("+") && (l.contains("+") || l.contains("#"))) {
                return false;
            }
        }
        return true;
    }

    private static boolean wellFormedUtf16(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
