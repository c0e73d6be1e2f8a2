package dev.tether.auth.acl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tether.routing.TopicNames;
import dev.tether.testing.ReferenceTopicMatch;
import java.util.ArrayList;
import java.util.List;

/**
 * The access rules against hostile identities, filters and topics: {@code %u}/{@code %c} stand for the identity as
 * literal text and never widen a rule ({@code devices/%u/#} reaches only the user's own topics; an identity holding
 * {@code +} or {@code #} gets no allow rule and every deny rule), and the filter relations agree with a reference
 * matcher on the topics a filter can match. Replays
 * {@code src/test/resources/dev/tether/auth/acl/AclFuzzTestInputs/} without {@code JAZZER_FUZZ}.
 */
class AclFuzzTest {

    private static final String[] LEVELS = {"devices", "a", "b", "", "+", "#", "$SYS", "%u", "%c", "%u%c", "x/y"};
    private static final String[] IDENTITIES = {"alice", "bob", "%c", "%u", "a/b", "+", "#", "", "al+ce", "a%cb"};

    /**
     * One rule with {@code %u}/{@code %c}: for an identity without wildcards it decides exactly as the rule with the
     * identity written in as literal text (no second substitution); with a wildcard in a substituted identity an allow
     * rule never matches and a deny rule always does. The brief's own case: {@code devices/%u/#} allows a topic only
     * under {@code devices/<username>}.
     */
    @FuzzTest
    void substitutionNeverWidens(FuzzedDataProvider d) {
        String username = d.consumeBoolean() ? d.pickValue(IDENTITIES) : d.consumeString(8);
        String clientId = d.consumeBoolean() ? d.pickValue(IDENTITIES) : d.consumeString(8);
        if (d.consumeInt(0, 5) == 0) {
            username = null; // anonymous
        }
        boolean allow = d.consumeBoolean();
        AclAction action = d.pickValue(AclAction.values());
        AclAction requested = d.consumeBoolean() ? AclAction.PUBLISH : AclAction.SUBSCRIBE;
        String filter = d.consumeBoolean() ? "devices/%u/#" : compose(d);
        String wanted = compose(d);
        if (!AccessControl.isValidRuleFilter(filter) || !filter.contains("%")
                || !(requested == AclAction.PUBLISH ? TopicNames.isValidTopicName(wanted) : TopicNames.isValidTopicFilter(wanted))) {
            return;
        }
        AclRule rule = new AclRule(1, null, null, action, filter, allow, 0);
        AclRules rules = AclRules.of(List.of(rule));
        boolean decided = rules.decide(username, clientId, requested, wanted);

        if (!action.appliesTo(requested)) {
            assertThat(decided).as("no rule applies: denied").isFalse();
            return;
        }
        boolean needsUser = filter.contains("%u");
        boolean needsClient = filter.contains("%c");
        if ((needsUser && username == null) || (needsClient && clientId == null)) {
            assertThat(decided).as("a rule about a name the client has not got does not apply").isFalse();
            return;
        }
        if ((needsUser && AclRules.isUnsafeIdentity(username)) || (needsClient && AclRules.isUnsafeIdentity(clientId))) {
            assertThat(decided).as("a wildcard identity gets no allow rule and every deny rule").isFalse();
            return;
        }
        String literal = substitute(filter, needsUser ? username : "", needsClient ? clientId : "");
        String requestedPlain = requested == AclAction.SUBSCRIBE && TopicNames.isShared(wanted)
                ? wanted.substring(wanted.indexOf('/', "$share/".length()) + 1) : wanted;
        boolean applies = requested == AclAction.PUBLISH ? referenceMatch(literal, requestedPlain)
                : allow ? referenceCovers(literal, requestedPlain) : referenceOverlaps(literal, requestedPlain);
        assertThat(decided).as("%s %s for %s/%s on %s (as %s)", allow ? "allow" : "deny", filter, username, clientId,
                wanted, literal).isEqualTo(applies && allow);
        if (decided && filter.equals("devices/%u/#") && requested == AclAction.PUBLISH) {
            assertThat(wanted.equals("devices/" + username) || wanted.startsWith("devices/" + username + "/"))
                    .as("devices/%%u/# reaches only %s's own topics, not %s", username, wanted).isTrue();
        }
    }

    /**
     * The filter relations on their own: {@code matches} agrees with the reference; when a rule covers a requested
     * filter, every topic the requested filter matches (drawn by filling in its wildcards) the rule matches too.
     */
    @FuzzTest
    void filterRelations(FuzzedDataProvider d) {
        String rule = compose(d);
        String requested = compose(d);
        if (!TopicNames.isValidTopicFilter(rule) || !TopicNames.isValidTopicFilter(requested)
                || TopicNames.isShared(rule) || TopicNames.isShared(requested)) {
            return;
        }
        String[] r = rule.split("/", -1);
        String[] q = requested.split("/", -1);
        boolean[] relations = new boolean[1];
        assertThatCode(() -> relations[0] = Filters.covers(r, q)).doesNotThrowAnyException();
        for (int i = 0; i < 4; i++) {
            String topic = instance(requested, d);
            if (!TopicNames.isValidTopicName(topic)) {
                continue;
            }
            boolean ruleMatches = Filters.matches(r, topic.split("/", -1));
            assertThat(ruleMatches).as("%s matches %s", rule, topic).isEqualTo(referenceMatch(rule, topic));
            if (relations[0] && referenceMatch(requested, topic)) {
                assertThat(ruleMatches).as("%s covers %s, so matches %s", rule, requested, topic).isTrue();
            }
        }
    }

    // ---- reference --------------------------------------------------------------------------------------

    /** %u and %c replaced in one pass, as literal text (a %c inside the username stays "%c"). */
    static String substitute(String filter, String username, String clientId) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < filter.length(); i++) {
            if (filter.startsWith("%u", i)) {
                b.append(username);
                i++;
            } else if (filter.startsWith("%c", i)) {
                b.append(clientId);
                i++;
            } else {
                b.append(filter.charAt(i));
            }
        }
        return b.toString();
    }

    static boolean referenceMatch(String filter, String topic) {
        return ReferenceTopicMatch.matches(filter, topic);
    }

    /**
     * Covers, by brute force over the topics the requested filter can match: wildcards filled in with a fresh level
     * ("\u0001z", which no rule names) or a '$' level at the start, '#' also with zero or two levels.
     */
    static boolean referenceCovers(String rule, String requested) {
        for (String topic : instances(requested)) {
            if (referenceMatch(requested, topic) && !referenceMatch(rule, topic)) {
                return false;
            }
        }
        return true;
    }

    static boolean referenceOverlaps(String a, String b) {
        for (String topic : instances(b)) {
            if (referenceMatch(b, topic) && referenceMatch(a, topic)) {
                return true;
            }
        }
        for (String topic : instances(a)) {
            if (referenceMatch(a, topic) && referenceMatch(b, topic)) {
                return true;
            }
        }
        return false;
    }

    /** Topics the filter matches, with its wildcards filled by levels the other side may name or not. */
    private static List<String> instances(String filter) {
        List<String> out = new ArrayList<>();
        out.add("");
        String[] ls = filter.split("/", -1);
        for (int i = 0; i < ls.length; i++) {
            List<String> next = new ArrayList<>();
            for (String prefix : out) {
                String sep = i == 0 ? "" : "/";
                List<String> options = switch (ls[i]) {
                    case "+" -> fillers();
                    case "#" -> List.of();
                    default -> List.of(ls[i]);
                };
                if (ls[i].equals("#")) {
                    next.add(prefix.isEmpty() && i == 0 ? null : prefix); // the parent level
                    for (String f1 : fillers()) {
                        next.add(prefix + sep + f1);
                        for (String f2 : fillers()) {
                            next.add(prefix + sep + f1 + "/" + f2);
                            for (String f3 : List.of("devices", "a", "b")) {
                                next.add(prefix + sep + f1 + "/" + f2 + "/" + f3);
                            }
                        }
                    }
                } else {
                    for (String o : options) {
                        next.add(prefix + sep + o);
                    }
                }
            }
            next.removeIf(s -> s == null);
            out = next;
        }
        out.removeIf(t -> !TopicNames.isValidTopicName(t));
        return out;
    }

    /** Level values to fill a wildcard with: every literal the generators use, a fresh one, and '$' ones. */
    private static List<String> fillers() {
        return List.of("devices", "a", "b", "", "$SYS", "\u0001z", "%u", "x", "y", "alice", "bob");
    }

    private static String instance(String filter, FuzzedDataProvider d) {
        StringBuilder b = new StringBuilder();
        String[] ls = filter.split("/", -1);
        for (int i = 0; i < ls.length; i++) {
            String level = ls[i].equals("+") ? d.pickValue(fillers()) : ls[i];
            if (ls[i].equals("#")) {
                int extra = d.consumeInt(0, 2);
                if (extra == 0) {
                    break;
                }
                level = d.pickValue(fillers()) + (extra == 2 ? "/" + d.pickValue(fillers()) : "");
            }
            if (i > 0) {
                b.append('/');
            }
            b.append(level);
        }
        return b.toString();
    }

    private static String compose(FuzzedDataProvider d) {
        int n = d.consumeInt(1, 4);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                b.append('/');
            }
            b.append(d.consumeBoolean() ? d.pickValue(LEVELS) : d.consumeString(4));
        }
        return b.toString();
    }
}
