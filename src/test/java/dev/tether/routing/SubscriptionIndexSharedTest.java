package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@link SubscriptionIndex#matchShared(String)}: share groups and their members (MQTT 5.0 §4.8.2). */
class SubscriptionIndexSharedTest {

    private final SubscriptionIndex index = new SubscriptionIndex();

    private static Subscription sub(String client, String filter, int qos) {
        return new Subscription(client, filter, qos, false, false, 0, 0);
    }

    private Map<String, List<String>> membersByGroup(String topic) {
        return index.matchShared(topic).stream().collect(Collectors.toMap(SharedMatch::topicFilter,
                g -> g.members().stream().map(Match::clientId).toList()));
    }

    @Test
    void matchShared_whenTwoMembersOfOneGroup_thenOneGroupWithBothSortedByClient() {
        // §4.8.2: a group is identified by ShareName and filter; each member keeps its own granted QoS
        index.put(sub("b", "$share/g/sport/#", 1));
        index.put(sub("a", "$share/g/sport/#", 2));
        List<SharedMatch> groups = index.matchShared("sport/tennis");
        assertThat(groups).containsExactly(new SharedMatch("$share/g/sport/#", "g",
                List.of(new Match("a", 2, false, List.of()), new Match("b", 1, false, List.of()))));
    }

    @Test
    void matchShared_whenSameShareNameDifferentFilters_thenSeparateGroups() {
        // §4.8.2: $share/g/sport/# and $share/g/sport/+ are different shared subscriptions
        index.put(sub("a", "$share/g/sport/#", 1));
        index.put(sub("b", "$share/g/sport/+", 1));
        index.put(sub("c", "$share/h/sport/#", 1));
        assertThat(membersByGroup("sport/tennis")).isEqualTo(Map.of(
                "$share/g/sport/#", List.of("a"), "$share/g/sport/+", List.of("b"), "$share/h/sport/#", List.of("c")));
        assertThat(membersByGroup("sport")).isEqualTo(Map.of("$share/g/sport/#", List.of("a"),
                "$share/h/sport/#", List.of("c")));
    }

    @Test
    void matchShared_whenClientInTwoGroupsOnSameFilter_thenMemberOfBoth() {
        index.put(sub("a", "$share/g/x", 0));
        index.put(sub("a", "$share/h/x", 2));
        List<SharedMatch> groups = index.matchShared("x");
        assertThat(groups).extracting(SharedMatch::shareName).containsExactlyInAnyOrder("g", "h");
        assertThat(groups).allSatisfy(g -> assertThat(g.members()).extracting(Match::clientId).containsExactly("a"));
    }

    @Test
    void match_whenSharedAndNonShared_thenMatchReturnsOnlyNonSharedAndMatchSharedOnlyShared() {
        index.put(sub("a", "$share/g/x", 1));
        index.put(sub("b", "x", 1));
        assertThat(index.match("x", null)).extracting(Match::clientId).containsExactly("b");
        assertThat(membersByGroup("x")).isEqualTo(Map.of("$share/g/x", List.of("a")));
    }

    @Test
    void matchShared_whenSubscriptionIdentifierAndRetainAsPublished_thenCarriedPerMember() {
        index.put(new Subscription("a", "$share/g/x/+", 1, false, true, 0, 7));
        index.put(new Subscription("b", "$share/g/x/+", 2, false, false, 0, 0));
        SharedMatch g = index.matchShared("x/y").get(0);
        assertThat(g.members()).containsExactly(new Match("a", 1, true, List.of(7)), new Match("b", 2, false, List.of()));
    }

    @Test
    void matchShared_whenReplacedOrRemoved_thenGroupUpdated() {
        // [MQTT-3.8.4-3] a SUBSCRIBE with an identical filter replaces the subscription
        index.put(sub("a", "$share/g/x", 0));
        assertThat(index.put(sub("a", "$share/g/x", 2))).isPresent();
        assertThat(index.matchShared("x").get(0).members()).containsExactly(new Match("a", 2, false, List.of()));
        index.put(sub("b", "$share/g/x", 1));
        assertThat(index.remove("a", "$share/g/x")).isTrue();
        assertThat(membersByGroup("x")).isEqualTo(Map.of("$share/g/x", List.of("b")));
        index.removeAll("b");
        assertThat(index.matchShared("x")).isEmpty();
        assertThat(index.size()).isZero();
        assertThat(index.sharedNodeCount()).isEqualTo(1);
        assertThat(index.nodeCount()).isEqualTo(1);
    }

    @Test
    void matchShared_whenDollarTopic_thenWildcardFirstLevelDoesNotMatch() {
        // [MQTT-4.7.2-1] applies to the filter part of a shared subscription
        index.put(sub("a", "$share/g/#", 1));
        index.put(sub("b", "$share/g/+/x", 1));
        index.put(sub("c", "$share/g/$SYS/#", 1));
        assertThat(membersByGroup("$SYS/x")).isEqualTo(Map.of("$share/g/$SYS/#", List.of("c")));
        assertThat(membersByGroup("a/x")).isEqualTo(Map.of("$share/g/#", List.of("a"), "$share/g/+/x", List.of("b")));
    }

    @Test
    void matchShared_whenNoSharedOrNoMatch_thenEmpty() {
        assertThat(index.matchShared("x")).isEmpty();
        index.put(sub("a", "$share/g/y", 1));
        index.put(sub("b", "x", 1));
        assertThat(index.matchShared("x")).isEmpty();
        // the $share/ prefix is not part of the matched topic
        assertThat(index.matchShared("$share/g/y")).isEmpty();
    }

    @Test
    void matchShared_whenTopicNameInvalid_thenIllegalArgument() {
        assertThatThrownBy(() -> index.matchShared("a/+")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sharedMatch_whenNoMembers_thenIllegalArgument() {
        assertThatThrownBy(() -> new SharedMatch("$share/g/x", "g", List.of()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
