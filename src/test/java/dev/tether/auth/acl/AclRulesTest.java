package dev.tether.auth.acl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AclRulesTest {

    private static long nextId = 1;

    private static AclRule allow(String username, AclAction action, String filter, int priority) {
        return new AclRule(nextId++, username, null, action, filter, true, priority);
    }

    private static AclRule deny(String username, AclAction action, String filter, int priority) {
        return new AclRule(nextId++, username, null, action, filter, false, priority);
    }

    private static AclRules rules(AclRule... rules) {
        return AclRules.of(List.of(rules));
    }

    /** Each user only under devices/%u/#. */
    private static final AclRules OWN_DEVICES = rules(allow(null, AclAction.ALL, "devices/%u/#", 0));

    @Test
    void mayPublish_whenUsernameIsPercentC_thenItStaysLiteralText() {
        // Found by AclFuzzTest: %u was replaced first, then %c inside the username too.
        AclRules own = rules(allow(null, AclAction.ALL, "t/%u/%c", 0));
        assertThat(own.mayPublish("%c", "bob", "t/bob/bob")).as("bob's topic").isFalse();
        assertThat(own.mayPublish("%c", "bob", "t/%c/bob")).isTrue();
        assertThat(OWN_DEVICES.mayPublish("%c", "+", "devices//x")).as("the empty username's topic").isFalse();
    }

    @Test
    void decide_whenNoRule_thenEverythingAllowed() {
        assertThat(AclRules.EMPTY.mayPublish(null, "c", "any/topic")).isTrue();
        assertThat(AclRules.EMPTY.maySubscribe(null, "c", "#")).isTrue();
        assertThat(AclRules.EMPTY.maySubscribe("alice", "c", "$share/g/#")).isTrue();
    }

    @Test
    void decide_whenRulesExistAndNoneMatches_thenDenied() {
        AclRules r = rules(allow("bob", AclAction.ALL, "#", 0));
        assertThat(r.mayPublish("alice", "c", "a")).isFalse();
        assertThat(r.maySubscribe("alice", "c", "a")).isFalse();
        assertThat(r.mayPublish("bob", "c", "a")).isTrue();
    }

    @Test
    void mayPublish_whenUsernameSubstituted_thenOnlyOwnTopics() {
        assertThat(OWN_DEVICES.mayPublish("alice", "c", "devices/alice/t")).isTrue();
        assertThat(OWN_DEVICES.mayPublish("alice", "c", "devices/alice")).isTrue(); // '#' includes the parent
        assertThat(OWN_DEVICES.mayPublish("alice", "c", "devices/bob/t")).isFalse();
        assertThat(OWN_DEVICES.mayPublish("alice", "c", "devices")).isFalse();
    }

    @Test
    void decide_whenAnonymousAndRuleNamesUsername_thenRuleDoesNotApply() {
        assertThat(OWN_DEVICES.mayPublish(null, "c", "devices//t")).isFalse();
        assertThat(OWN_DEVICES.maySubscribe(null, "c", "devices/+/t")).isFalse();
    }

    @Test
    void mayPublish_whenClientIdSubstituted_thenOnlyOwnClientTopics() {
        AclRules r = rules(allow(null, AclAction.PUBLISH, "clients/%c/+/status", 0));
        assertThat(r.mayPublish("u", "sensor-1", "clients/sensor-1/x/status")).isTrue();
        assertThat(r.mayPublish("u", "sensor-2", "clients/sensor-1/x/status")).isFalse();
        assertThat(r.maySubscribe("u", "sensor-1", "clients/sensor-1/x/status")).isFalse(); // publish only
    }

    @Test
    void decide_whenUsernameAndClientIdColumnsSet_thenOnlyThatPairMatches() {
        AclRules r = AclRules.of(List.of(new AclRule(1, "alice", "phone", AclAction.ALL, "x", true, 0)));
        assertThat(r.mayPublish("alice", "phone", "x")).isTrue();
        assertThat(r.mayPublish("alice", "laptop", "x")).isFalse();
        assertThat(r.mayPublish("bob", "phone", "x")).isFalse();
        assertThat(r.mayPublish(null, "phone", "x")).isFalse();
    }

    @Test
    void decide_whenHigherPriorityDeny_thenDenyWins() {
        AclRules r = rules(allow(null, AclAction.ALL, "#", 0), deny(null, AclAction.PUBLISH, "secret/#", 10));
        assertThat(r.mayPublish("u", "c", "secret/plans")).isFalse();
        assertThat(r.mayPublish("u", "c", "open/plans")).isTrue();
        assertThat(r.maySubscribe("u", "c", "secret/plans")).isTrue(); // the deny is about publishing
    }

    @Test
    void decide_whenSamePriority_thenLowerIdFirst() {
        AclRules allowFirst = AclRules.of(List.of(
                new AclRule(2, null, null, AclAction.ALL, "a", false, 0),
                new AclRule(1, null, null, AclAction.ALL, "a", true, 0)));
        assertThat(allowFirst.mayPublish("u", "c", "a")).isTrue();
        AclRules denyFirst = AclRules.of(List.of(
                new AclRule(1, null, null, AclAction.ALL, "a", false, 0),
                new AclRule(2, null, null, AclAction.ALL, "a", true, 0)));
        assertThat(denyFirst.mayPublish("u", "c", "a")).isFalse();
    }

    @Test
    void decide_whenFirstMatchAllows_thenLaterDenyIgnored() {
        AclRules r = rules(allow("alice", AclAction.ALL, "a/#", 5), deny(null, AclAction.ALL, "a/b", 1));
        assertThat(r.mayPublish("alice", "c", "a/b")).isTrue();
        assertThat(r.mayPublish("bob", "c", "a/b")).isFalse();
    }

    @Test
    void maySubscribe_whenRequestedFilterNarrower_thenCovered() {
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/alice/+/temp")).isTrue();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/alice/#")).isTrue();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/alice")).isTrue();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/alice/a/b/c")).isTrue();
    }

    @Test
    void maySubscribe_whenRequestedFilterWider_thenNotCovered() {
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/#")).isFalse();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "devices/+/temp")).isFalse();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "#")).isFalse();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "+/alice/t")).isFalse();
    }

    @Test
    void maySubscribe_whenRuleHasPlus_thenCoversPlusAndLiteralsButNotHash() {
        AclRules r = rules(allow(null, AclAction.SUBSCRIBE, "a/+/c", 0));
        assertThat(r.maySubscribe("u", "x", "a/+/c")).isTrue();
        assertThat(r.maySubscribe("u", "x", "a/b/c")).isTrue();
        assertThat(r.maySubscribe("u", "x", "a/#")).isFalse();
        assertThat(r.maySubscribe("u", "x", "a/+/#")).isFalse(); // a/b matches the request, not the rule
        assertThat(r.maySubscribe("u", "x", "a/+/c/d")).isFalse();
        assertThat(r.maySubscribe("u", "x", "a/+")).isFalse();
    }

    @Test
    void maySubscribe_whenRuleEndsWithHashAfterPlus_thenParentLevelNeeded() {
        AclRules r = rules(allow(null, AclAction.SUBSCRIBE, "a/+/#", 0));
        assertThat(r.maySubscribe("u", "x", "a/b")).isTrue(); // '#' includes the parent level a/b
        assertThat(r.maySubscribe("u", "x", "a/+/#")).isTrue();
        assertThat(r.maySubscribe("u", "x", "a/#")).isFalse(); // would receive "a" itself
        assertThat(r.maySubscribe("u", "x", "a")).isFalse();
    }

    @Test
    void maySubscribe_whenShared_thenJudgedByFilterPart() {
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "$share/g/devices/alice/#")).isTrue();
        assertThat(OWN_DEVICES.maySubscribe("alice", "c", "$share/g/devices/#")).isFalse();
    }

    @Test
    void decide_whenDollarTopic_thenWildcardRuleDoesNotReachIt() {
        AclRules r = rules(allow(null, AclAction.ALL, "#", 0), allow(null, AclAction.ALL, "+/x", 0));
        assertThat(r.maySubscribe("u", "c", "$SYS/#")).isFalse();
        assertThat(r.maySubscribe("u", "c", "$SYS/x")).isFalse();
        assertThat(r.mayPublish("u", "c", "$SYS/x")).isFalse();
        assertThat(rules(allow(null, AclAction.ALL, "$SYS/#", 0)).maySubscribe("u", "c", "$SYS/x")).isTrue();
    }

    @Test
    void maySubscribe_whenHigherDenyCoversRequest_thenDenied_whenItOnlyOverlaps_thenAllowedAndTopicsWithheld() {
        AclRules r = rules(allow(null, AclAction.ALL, "devices/%u/#", 0),
                deny(null, AclAction.SUBSCRIBE, "devices/%u/secret", 10));
        assertThat(r.maySubscribe("alice", "c", "devices/alice/secret")).isFalse(); // only denied topics
        assertThat(r.maySubscribe("alice", "c", "devices/alice/#")).isTrue(); // shares one topic with the deny
        assertThat(r.maySubscribe("alice", "c", "devices/alice/+")).isTrue();
        assertThat(r.maySubscribe("alice", "c", "devices/alice/public")).isTrue();
        // What the overlapping subscriptions receive: everything but the denied topic.
        assertThat(r.mayReceive("alice", "c", "devices/alice/secret")).isFalse();
        assertThat(r.mayReceive("alice", "c", "devices/alice/public")).isTrue();
        assertThat(r.mayReceive("alice", "c", "devices/alice/secret/deeper")).isTrue();
    }

    @Test
    void mayReceive_whenNoDenyRuleForSubscribing_thenEverythingAnAllowedSubscriptionMatches() {
        AclRules r = rules(allow(null, AclAction.SUBSCRIBE, "devices/%u/#", 0),
                deny(null, AclAction.PUBLISH, "devices/%u/firmware/#", 10));
        assertThat(r.mayReceive("alice", "c", "devices/alice/firmware/v2")).isTrue(); // the deny is about publishing
        assertThat(rules(deny(null, AclAction.ALL, "secret/#", 1), allow(null, AclAction.ALL, "#", 0))
                .mayReceive("u", "c", "secret/plans")).isFalse();
    }

    @Test
    void maySubscribe_whenPahoSuiteRules_thenBroadFiltersAllowedAndOnlyTheDeniedFilterRefused() {
        AclRules r = rules(deny(null, AclAction.SUBSCRIBE, "test/nosubscribe", 10), allow(null, AclAction.ALL, "#", 0));
        assertThat(r.maySubscribe(null, "c", "test/nosubscribe")).isFalse();
        assertThat(r.maySubscribe(null, "c", "#")).isTrue();
        assertThat(r.maySubscribe(null, "c", "+/+")).isTrue();
        assertThat(r.mayReceive(null, "c", "test/nosubscribe")).isFalse();
        assertThat(r.mayReceive(null, "c", "TopicA/B")).isTrue();
    }

    @Test
    void isUnsafeIdentity_whenWildcardCharacter_thenTrue() {
        assertThat(AclRules.isUnsafeIdentity("a+b")).isTrue();
        assertThat(AclRules.isUnsafeIdentity("#")).isTrue();
        assertThat(AclRules.isUnsafeIdentity("alice")).isFalse();
        assertThat(AclRules.isUnsafeIdentity(null)).isFalse();
    }

    @Test
    void usesSubstitution_whenAnyRuleNamesUsernameOrClientId_thenTrue() {
        assertThat(OWN_DEVICES.usesSubstitution()).isTrue();
        assertThat(rules(allow(null, AclAction.ALL, "clients/%c", 0)).usesSubstitution()).isTrue();
        assertThat(rules(allow(null, AclAction.ALL, "a/#", 0)).usesSubstitution()).isFalse();
        assertThat(AclRules.EMPTY.usesSubstitution()).isFalse();
    }

    @Test
    void decide_whenUnsafeIdentitySubstituted_thenAllowNeverMatchesAndDenyAlways() {
        assertThat(OWN_DEVICES.maySubscribe("+", "c", "devices/+/t")).isFalse();
        AclRules r = rules(allow(null, AclAction.ALL, "#", 0), deny(null, AclAction.ALL, "private/%u/#", 10));
        assertThat(r.mayPublish("#", "c", "open")).isFalse();
        assertThat(r.mayPublish("alice", "c", "open")).isTrue();
    }

    @Test
    void of_whenRowsGiven_thenSortedByPriorityThenId() {
        List<AclRule> rows = new ArrayList<>(List.of(
                new AclRule(3, null, null, AclAction.ALL, "c", true, 1),
                new AclRule(1, null, null, AclAction.ALL, "a", true, 0),
                new AclRule(2, null, null, AclAction.ALL, "b", true, 1)));
        assertThat(AclRules.of(rows).rules()).extracting(AclRule::id).containsExactly(2L, 3L, 1L);
    }

    @Test
    void decide_whenActionAll_thenRejectedAsRequest() {
        assertThatThrownBy(() -> OWN_DEVICES.decide("u", "c", AclAction.ALL, "x"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
