package dev.tether.auth.acl;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The rules of {@code mqtt_acl} at one moment: an immutable value, pure (JDK only), safe to share between threads.
 *
 * <p>With no rule at all everything is allowed. Once any rule exists, what no rule allows is denied. Rules are tried
 * by priority (higher first), then id (lower first); the first rule whose username, Client Identifier and action
 * apply and whose filter matches decides:
 * <ul>
 *   <li>PUBLISH: the topic name matches the rule's filter;</li>
 *   <li>SUBSCRIBE, allow rule: the rule's filter covers the requested filter (every topic the requested filter can
 *       match, the rule's filter matches too): {@code devices/alice/#} covers {@code devices/alice/+/temp}, not
 *       {@code devices/#};</li>
 *   <li>SUBSCRIBE, deny rule: the rule's filter covers the requested filter (every topic it could receive is denied).
 *       A subscription that only shares some topics with a deny rule ({@code #} against a denied {@code secret/#}) is
 *       allowed by a lower allow rule, and the denied topics are withheld from it one message at a time
 *       ({@link #mayReceive}), as Mosquitto does: a broad subscription keeps working beside a few denied topics.</li>
 * </ul>
 * A shared filter {@code $share/{group}/{f}} is judged by {@code f}. In the rule's filter {@code %u} is replaced by
 * the username and {@code %c} by the Client Identifier, as text (a {@code /} in them makes more levels). A rule naming
 * {@code %u} never matches an anonymous client. An identity holding {@code +} or {@code #} would widen the filter: such
 * identities are refused at CONNECT while {@link #usesSubstitution()}, and here an allow rule never matches them while
 * a deny rule always does.
 */
public final class AclRules {

    /** No rule: everything allowed. */
    public static final AclRules EMPTY = new AclRules(List.of());

    private static final String SHARE_PREFIX = "$share/";

    private final List<AclRule> rules;
    private final boolean usesSubstitution;
    private final boolean deniesSubscriptions;

    private AclRules(List<AclRule> rules) {
        this.rules = rules;
        this.usesSubstitution = rules.stream().anyMatch(AclRule::usesSubstitution);
        this.deniesSubscriptions = rules.stream()
                .anyMatch(r -> !r.allow() && r.action().appliesTo(AclAction.SUBSCRIBE));
    }

    /** The rules in deciding order (priority descending, then id ascending). */
    public static AclRules of(List<AclRule> rows) {
        List<AclRule> sorted = new ArrayList<>(rows);
        sorted.sort(Comparator.comparingInt(AclRule::priority).reversed().thenComparingLong(AclRule::id));
        return new AclRules(List.copyOf(sorted));
    }

    public List<AclRule> rules() {
        return rules;
    }

    public boolean isEmpty() {
        return rules.isEmpty();
    }

    /** Whether any rule names {@code %u} or {@code %c}: then identities with {@code +} or {@code #} are refused. */
    public boolean usesSubstitution() {
        return usesSubstitution;
    }

    /**
     * The filter with each {@code %u} and {@code %c} replaced in one pass, the identities as literal text: a username
     * {@code "%c"} stays {@code "%c"} and does not turn into the Client Identifier (found by AclFuzzTest).
     */
    static String substitute(String filter, String username, String clientId) {
        StringBuilder b = new StringBuilder(filter.length() + 16);
        int i = 0;
        while (i < filter.length()) {
            if (filter.startsWith("%u", i) && username != null) {
                b.append(username);
                i += 2;
            } else if (filter.startsWith("%c", i) && clientId != null) {
                b.append(clientId);
                i += 2;
            } else {
                b.append(filter.charAt(i++));
            }
        }
        return b.toString();
    }

    /** Whether a username or Client Identifier would widen a filter it is substituted into. Null is safe (anonymous). */
    public static boolean isUnsafeIdentity(String identity) {
        return identity != null && (identity.indexOf('+') >= 0 || identity.indexOf('#') >= 0);
    }

    /** Whether {@code username} (null when anonymous) on {@code clientId} may publish to {@code topic}. */
    public boolean mayPublish(String username, String clientId, String topic) {
        return decide(username, clientId, AclAction.PUBLISH, topic);
    }

    /** Whether {@code username} (null when anonymous) on {@code clientId} may subscribe to {@code filter}. */
    public boolean maySubscribe(String username, String clientId, String filter) {
        return decide(username, clientId, AclAction.SUBSCRIBE, filter);
    }

    /**
     * Whether a message on {@code topic} may be delivered to {@code username} on {@code clientId} through a
     * subscription the rules allowed: false only where a deny rule for subscribing matches the topic before any allow
     * rule does. Without deny rules for subscribing, an allowed subscription receives all it matches (no rule is tried).
     */
    public boolean mayReceive(String username, String clientId, String topic) {
        return !deniesSubscriptions || decide(username, clientId, AclAction.SUBSCRIBE, topic);
    }

    /**
     * The decision for a request: true to allow.
     *
     * @param action          {@link AclAction#PUBLISH} or {@link AclAction#SUBSCRIBE}
     * @param topicOrFilter   a topic name (PUBLISH) or a topic filter, possibly shared (SUBSCRIBE); assumed valid
     */
    public boolean decide(String username, String clientId, AclAction action, String topicOrFilter) {
        if (action == AclAction.ALL) {
            throw new IllegalArgumentException("a request is a publish or a subscribe");
        }
        if (rules.isEmpty()) {
            return true;
        }
        String requested = topicOrFilter;
        if (action == AclAction.SUBSCRIBE && requested.startsWith(SHARE_PREFIX)) {
            int slash = requested.indexOf('/', SHARE_PREFIX.length());
            requested = slash < 0 ? requested : requested.substring(slash + 1);
        }
        String[] wanted = requested.split("/", -1);
        for (AclRule rule : rules) {
            if (!rule.action().appliesTo(action)
                    || (rule.username() != null && !rule.username().equals(username))
                    || (rule.clientId() != null && !rule.clientId().equals(clientId))) {
                continue;
            }
            String filter = rule.topicFilter();
            if (rule.usesSubstitution()) {
                boolean needsUser = filter.contains("%u");
                boolean needsClient = filter.contains("%c");
                if ((needsUser && username == null) || (needsClient && clientId == null)) {
                    continue; // about the client's own name, which it has not got
                }
                if ((needsUser && isUnsafeIdentity(username)) || (needsClient && isUnsafeIdentity(clientId))) {
                    if (rule.allow()) {
                        continue;
                    }
                    return false;
                }
                filter = substitute(filter, username, clientId);
            }
            String[] ruleLevels = filter.split("/", -1);
            boolean matches = action == AclAction.PUBLISH ? Filters.matches(ruleLevels, wanted)
                    : Filters.covers(ruleLevels, wanted);
            if (matches) {
                return rule.allow();
            }
        }
        return false;
    }
}
