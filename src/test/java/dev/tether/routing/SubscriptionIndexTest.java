package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SubscriptionIndexTest {

    private final SubscriptionIndex index = new SubscriptionIndex();

    private static Subscription sub(String clientId, String filter, int qos) {
        return new Subscription(clientId, filter, qos, false, false, 0, 0);
    }

    private static Subscription sub(String clientId, String filter, int qos, boolean rap, int id) {
        return new Subscription(clientId, filter, qos, false, rap, 0, id);
    }

    private static Subscription noLocal(String clientId, String filter) {
        return new Subscription(clientId, filter, 1, true, false, 0, 0);
    }

    private List<String> clientsMatching(String topic) {
        return index.match(topic, null).stream().map(Match::clientId).sorted().toList();
    }

    @Test
    void match_whenSpecExamples_thenSameAsTopicFilter() {
        String[] filters = {"sport/tennis/player1/#", "sport/#", "+/+", "/+", "+", "#", "$SYS/#",
                "+/monitor/Clients", "$SYS/monitor/+", "sport/tennis/+", "sport/+", "a/+/b", "/"};
        for (int i = 0; i < filters.length; i++) {
            index.put(sub("c" + i, filters[i], 0));
        }
        String[] topics = {"sport/tennis/player1", "sport/tennis/player1/ranking", "sport", "sport/", "/finance",
                "finance", "$SYS/monitor/Clients", "$SYS", "a//b", "/", "x/monitor/Clients", "sport/tennis"};
        for (String topic : topics) {
            List<String> expected = new java.util.ArrayList<>();
            for (int i = 0; i < filters.length; i++) {
                if (new TopicFilter(filters[i]).matches(topic)) {
                    expected.add("c" + i);
                }
            }
            assertThat(clientsMatching(topic)).as(topic).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    void match_whenMultiLevelWildcard_thenParentAndChildrenMatched() {
        index.put(sub("a", "sport/tennis/player1/#", 0));
        index.put(sub("b", "sport/#", 0));
        assertThat(clientsMatching("sport/tennis/player1")).containsExactly("a", "b");
        assertThat(clientsMatching("sport/tennis/player1/ranking")).containsExactly("a", "b");
        assertThat(clientsMatching("sport")).containsExactly("b");
        assertThat(clientsMatching("sports")).isEmpty();
    }

    @Test
    void match_whenSingleLevelWildcard_thenExactlyOneLevelMatched() {
        index.put(sub("pp", "+/+", 0));
        index.put(sub("sp", "/+", 0));
        index.put(sub("p", "+", 0));
        assertThat(clientsMatching("/finance")).containsExactly("pp", "sp");
        assertThat(clientsMatching("finance")).containsExactly("p");
    }

    @Test
    void match_whenHashAtFirstLevel_thenDollarTopicNotMatched() {
        index.put(sub("all", "#", 0));
        index.put(sub("sys", "$SYS/#", 0));
        assertThat(clientsMatching("$SYS/monitor/Clients")).containsExactly("sys"); // [MQTT-4.7.2-1]
        assertThat(clientsMatching("$SYS")).containsExactly("sys");
        assertThat(clientsMatching("sport")).containsExactly("all");
    }

    @Test
    void match_whenPlusAtFirstLevel_thenDollarTopicNotMatched() {
        index.put(sub("plus", "+/monitor/Clients", 0));
        index.put(sub("sys", "$SYS/monitor/+", 0));
        assertThat(clientsMatching("$SYS/monitor/Clients")).containsExactly("sys"); // [MQTT-4.7.2-1]
        assertThat(clientsMatching("x/monitor/Clients")).containsExactly("plus");
    }

    @Test
    void match_whenOverlappingSubscriptions_thenOneMatchWithMaxQosAndAllIdentifiers() {
        // [MQTT-3.3.4-2] one delivery per client, highest QoS; [MQTT-3.3.4-3] all subscription identifiers
        index.put(sub("c", "sport/#", 0, false, 7));
        index.put(sub("c", "sport/+", 2, false, 3));
        index.put(sub("c", "sport/tennis", 1, true, 0));
        index.put(sub("other", "sport/tennis", 1));

        List<Match> matches = index.match("sport/tennis", null);

        assertThat(matches).containsExactlyInAnyOrder(
                new Match("c", 2, true, List.of(3, 7)),
                new Match("other", 1, false, List.of()));
    }

    @Test
    void match_whenNoRetainAsPublishedAnywhere_thenFalse() {
        index.put(sub("c", "a/#", 1, false, 0));
        index.put(sub("c", "a/b", 0, false, 0));
        assertThat(index.match("a/b", null)).containsExactly(new Match("c", 1, false, List.of()));
    }

    @Test
    void match_whenNoLocalAndPublisherIsSubscriber_thenSkipped() {
        index.put(noLocal("self", "chat/#"));
        index.put(sub("other", "chat/#", 0));
        // [MQTT-3.8.3-3]
        assertThat(index.match("chat/room", "self")).extracting(Match::clientId).containsExactly("other");
        assertThat(index.match("chat/room", "other")).extracting(Match::clientId)
                .containsExactlyInAnyOrder("self", "other");
        assertThat(index.match("chat/room", null)).hasSize(2);
    }

    @Test
    void match_whenNoLocalOnOneOfOverlappingSubscriptions_thenOthersStillDeliver() {
        index.put(new Subscription("self", "chat/#", 2, true, false, 0, 1));
        index.put(sub("self", "chat/+", 1, false, 2));
        assertThat(index.match("chat/room", "self")).containsExactly(new Match("self", 1, false, List.of(2)));
    }

    @Test
    void match_whenSharedSubscription_thenNotReturnedButStored() {
        Subscription shared = sub("c", "$share/g/sport/#", 1);
        index.put(shared);
        assertThat(index.match("sport/tennis", null)).isEmpty();
        assertThat(index.match("$share/g/sport/x", null)).isEmpty();
        assertThat(index.subscriptionsOf("c")).containsExactly(shared);
        assertThat(index.size()).isEqualTo(1);
        assertThat(index.remove("c", "$share/g/sport/#")).isTrue();
        assertThat(index.size()).isZero();
    }

    @Test
    void match_whenSharedAndNonSharedSameFilter_thenBothStoredIndependently() {
        index.put(sub("c", "$share/g/a", 2));
        index.put(sub("c", "a", 1));
        assertThat(index.size()).isEqualTo(2);
        assertThat(index.match("a", null)).containsExactly(new Match("c", 1, false, List.of()));
        index.remove("c", "a");
        assertThat(index.match("a", null)).isEmpty();
        assertThat(index.subscriptionsOf("c")).extracting(Subscription::topicFilter).containsExactly("$share/g/a");
    }

    @Test
    void match_whenTopicNameInvalid_thenIllegalArgument() {
        assertThatThrownBy(() -> index.match("a/+", null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> index.match("", null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void match_whenEmpty_thenEmptyList() {
        assertThat(index.match("a", "c")).isEmpty();
    }

    @Test
    void put_whenSameClientAndFilter_thenReplacesAndReturnsPrevious() {
        Subscription first = sub("c", "a/+", 0, false, 1);
        Subscription second = sub("c", "a/+", 2, true, 5);

        assertThat(index.put(first)).isEmpty();
        assertThat(index.put(second)).contains(first); // [MQTT-3.8.4-3]

        assertThat(index.size()).isEqualTo(1);
        assertThat(index.subscriptionsOf("c")).containsExactly(second);
        assertThat(index.match("a/b", null)).containsExactly(new Match("c", 2, true, List.of(5)));
    }

    @Test
    void put_whenDifferentClientsSameFilter_thenBothKept() {
        assertThat(index.put(sub("c1", "a", 0))).isEqualTo(Optional.empty());
        assertThat(index.put(sub("c2", "a", 1))).isEmpty();
        assertThat(index.size()).isEqualTo(2);
        assertThat(clientsMatching("a")).containsExactly("c1", "c2");
    }

    @Test
    void remove_whenPresent_thenTrueAndNoLongerMatched() {
        index.put(sub("c", "a/b", 0));
        index.put(sub("c", "a/#", 0));

        assertThat(index.remove("c", "a/b")).isTrue();
        assertThat(index.remove("c", "a/b")).isFalse();
        assertThat(index.remove("c", "x")).isFalse();
        assertThat(index.remove("unknown", "a/#")).isFalse();

        assertThat(index.size()).isEqualTo(1);
        assertThat(clientsMatching("a/b")).containsExactly("c");
        assertThat(index.remove("c", "a/#")).isTrue();
        assertThat(clientsMatching("a/b")).isEmpty();
        assertThat(index.subscriptionsOf("c")).isEmpty();
    }

    @Test
    void remove_whenLastSubscriptionOfBranch_thenNodesPruned() {
        index.put(sub("c", "a/b/c/d", 0));
        index.put(sub("c", "a/x", 0));
        assertThat(index.nodeCount()).isEqualTo(1 + 5);

        index.remove("c", "a/b/c/d");
        assertThat(index.nodeCount()).isEqualTo(1 + 2);
        index.remove("c", "a/x");
        assertThat(index.nodeCount()).isEqualTo(1);

        index.put(sub("c", "a/b/c/d", 1));
        assertThat(clientsMatching("a/b/c/d")).containsExactly("c");
    }

    @Test
    void remove_whenOtherClientStillOnNode_thenNodeKept() {
        index.put(sub("c1", "a/b", 0));
        index.put(sub("c2", "a/b", 0));
        index.remove("c1", "a/b");
        assertThat(clientsMatching("a/b")).containsExactly("c2");
    }

    @Test
    void removeAll_whenClientHasSeveralSubscriptions_thenAllRemovedOthersKept() {
        index.put(sub("c", "a", 0));
        index.put(sub("c", "a/#", 0));
        index.put(sub("c", "$share/g/a", 0));
        index.put(sub("d", "a", 1));

        index.removeAll("c");
        index.removeAll("unknown");

        assertThat(index.subscriptionsOf("c")).isEmpty();
        assertThat(index.size()).isEqualTo(1);
        assertThat(index.match("a", null)).containsExactly(new Match("d", 1, false, List.of()));
        index.removeAll("d");
        assertThat(index.size()).isZero();
        assertThat(index.nodeCount()).isEqualTo(1);
    }

    @Test
    void subscriptionsOf_whenSeveral_thenSortedByFilterAndImmutable() {
        index.put(sub("c", "b", 0));
        index.put(sub("c", "a", 0));
        List<Subscription> subs = index.subscriptionsOf("c");
        assertThat(subs).extracting(Subscription::topicFilter).containsExactly("a", "b");
        assertThatThrownBy(() -> subs.add(sub("c", "x", 0))).isInstanceOf(UnsupportedOperationException.class);
        assertThat(index.subscriptionsOf("nobody")).isEmpty();
    }

    @Test
    void match_whenVeryDeepFilterAndTopic_thenNoStackOverflow() {
        String deep = "/".repeat(20_000);
        index.put(sub("c", deep + "#", 0));
        index.put(sub("d", deep, 0));
        assertThat(clientsMatching(deep)).containsExactly("c", "d");
        index.removeAll("c");
        index.removeAll("d");
        assertThat(index.nodeCount()).isEqualTo(1);
    }
}
