package dev.tether.routing;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Index of all subscriptions, keyed by client and by topic filter, answering "who receives a message
 * published to this topic name?".
 *
 * <p>Non-shared subscriptions are kept in a topic trie (one node per filter level, levels split on
 * {@code '/'}); each node holds the subscriptions whose filter ends there, at most one per client. A
 * secondary map {@code clientId -> (topicFilter -> Subscription)} serves {@link #subscriptionsOf(String)},
 * {@link #removeAll(String)} and replacement detection.
 *
 * <p><b>Shared subscriptions</b> ({@code $share/{ShareName}/{filter}}, MQTT 5.0 §4.8.2) live in a second trie
 * keyed by their filter part, so they cost nothing to {@link #match(String, String)}, which returns non-shared
 * subscriptions only. {@link #matchShared(String)} returns each matching share group with all its members;
 * the caller delivers each message to one member per group. Shared subscriptions count in {@link #size()}, are
 * returned by {@link #subscriptionsOf(String)}, and {@link #remove(String, String)} and
 * {@link #removeAll(String)} handle them. A group exists while it has a member; whoever keeps state per group
 * (a round-robin position, say) hears when its last member leaves ({@link #onShareGroupEmptied(Consumer)}).
 *
 * <p><b>Thread safety:</b> all methods may be called concurrently from any thread. Mutations of one client
 * are serialized (per client id); mutations of different clients and {@link #match(String, String)} run in
 * parallel. {@code match} does not lock and is weakly consistent: a subscription added or removed
 * concurrently with a match may or may not be seen by it, but every subscription present for the whole
 * duration of the match is seen ({@link #matchShared(String)} likewise). Trie nodes left empty by a removal
 * are pruned.
 */
public final class SubscriptionIndex {

    private static final String SINGLE = "+";
    private static final String MULTI = "#";

    /** Trie node. {@code children} and {@code removed} change only while holding this node's monitor. */
    private static final class Node {
        final ConcurrentHashMap<String, Node> children = new ConcurrentHashMap<>();
        final ConcurrentHashMap<String, Subscription> subscriptions = new ConcurrentHashMap<>();
        /** Set once this node has been unlinked from its parent; it then never receives entries again. */
        boolean removed;

        boolean isEmpty() {
            return children.isEmpty() && subscriptions.isEmpty();
        }
    }

    /** Per-client aggregation while matching. */
    private static final class Accumulator {
        int qos = -1;
        boolean retainAsPublished;
        List<Integer> identifiers;
    }

    private final Node root = new Node();
    /**
     * Shared subscriptions by the filter part of {@code $share/{ShareName}/{filter}}; each node's entries are
     * keyed by {@code ShareName + "/" + clientId} (a ShareName contains no '/').
     */
    private final Node sharedRoot = new Node();
    /**
     * clientId -> (topicFilter -> subscription). All mutations of a client happen inside
     * {@code clients.compute(clientId, ...)}, which serializes them per client; lock order is always
     * client bin, then trie nodes top-down.
     */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Subscription>> clients =
            new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();
    /** Members per share group (full {@code $share/...} filter); a group's entry goes with its last member. */
    private final ConcurrentHashMap<String, Integer> shareGroupSizes = new ConcurrentHashMap<>();
    private final List<Consumer<String>> shareGroupEmptiedListeners = new CopyOnWriteArrayList<>();

    /**
     * Adds {@code subscription}, replacing an existing subscription of the same client and topic filter
     * [MQTT-3.8.4-3].
     *
     * @return the replaced subscription, or empty if there was none
     */
    public Optional<Subscription> put(Subscription subscription) {
        Objects.requireNonNull(subscription, "subscription");
        Subscription[] previous = new Subscription[1];
        clients.compute(subscription.clientId(), (clientId, filters) -> {
            ConcurrentHashMap<String, Subscription> map = filters != null ? filters : new ConcurrentHashMap<>();
            previous[0] = map.put(subscription.topicFilter(), subscription);
            insert(subscription);
            if (previous[0] == null) {
                size.incrementAndGet();
                if (subscription.isShared()) {
                    shareGroupSizes.merge(subscription.topicFilter(), 1, Integer::sum);
                }
            }
            return map;
        });
        return Optional.ofNullable(previous[0]);
    }

    /**
     * Removes the subscription of {@code clientId} to exactly {@code topicFilter} (as subscribed, including a
     * {@code $share/} prefix if any).
     *
     * @return true if such a subscription existed
     */
    public boolean remove(String clientId, String topicFilter) {
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(topicFilter, "topicFilter");
        boolean[] removed = new boolean[1];
        List<String> emptiedGroups = new ArrayList<>(0);
        clients.computeIfPresent(clientId, (id, filters) -> {
            Subscription old = filters.remove(topicFilter);
            if (old != null) {
                removed[0] = true;
                size.decrementAndGet();
                delete(old);
                leaveShareGroup(old, emptiedGroups);
            }
            return filters.isEmpty() ? null : filters;
        });
        notifyShareGroupsEmptied(emptiedGroups);
        return removed[0];
    }

    /** Removes every subscription of {@code clientId} (e.g. when its session ends). */
    public void removeAll(String clientId) {
        Objects.requireNonNull(clientId, "clientId");
        List<String> emptiedGroups = new ArrayList<>(0);
        clients.computeIfPresent(clientId, (id, filters) -> {
            for (Subscription old : filters.values()) {
                delete(old);
                leaveShareGroup(old, emptiedGroups);
            }
            size.addAndGet(-filters.size());
            return null;
        });
        notifyShareGroupsEmptied(emptiedGroups);
    }

    /**
     * Calls {@code listener} with a share group's full filter ({@code $share/{ShareName}/{filter}}) each time the
     * group's last member leaves, on the thread that removed it, after the removal. A member may join again at
     * any time, so a listener that drops per-group state must expect the group back.
     */
    public void onShareGroupEmptied(Consumer<String> listener) {
        shareGroupEmptiedListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Whether the share group {@code sharedFilter} ({@code $share/{ShareName}/{filter}}) has a member now. */
    public boolean hasShareGroup(String sharedFilter) {
        return shareGroupSizes.containsKey(sharedFilter);
    }

    /** Number of share groups with at least one member. */
    public int shareGroupCount() {
        return shareGroupSizes.size();
    }

    /** How many subscriptions {@code clientId} has, shared ones included. */
    public int countOf(String clientId) {
        Map<String, Subscription> filters = clients.get(Objects.requireNonNull(clientId, "clientId"));
        return filters == null ? 0 : filters.size();
    }

    /** Whether {@code clientId} has a subscription to exactly {@code topicFilter} (as subscribed). */
    public boolean has(String clientId, String topicFilter) {
        Map<String, Subscription> filters = clients.get(Objects.requireNonNull(clientId, "clientId"));
        return filters != null && filters.containsKey(topicFilter);
    }

    /** All subscriptions of {@code clientId}, shared ones included, sorted by topic filter; immutable. */
    public List<Subscription> subscriptionsOf(String clientId) {
        Objects.requireNonNull(clientId, "clientId");
        Map<String, Subscription> filters = clients.get(clientId);
        if (filters == null) {
            return List.of();
        }
        List<Subscription> result = new ArrayList<>(filters.values());
        result.sort(Comparator.comparing(Subscription::topicFilter));
        return List.copyOf(result);
    }

    /**
     * The clients that receive a message published to {@code topicName}, one {@link Match} per client,
     * aggregated over all of that client's matching subscriptions: highest QoS [MQTT-3.3.4-2], Retain As
     * Published if any has it, and every non-zero subscription identifier [MQTT-3.3.4-3]. Subscriptions with
     * No Local set are skipped when their client is the publisher [MQTT-3.8.3-3]. Topic names starting with
     * {@code '$'} are not matched by filters starting with a wildcard [MQTT-4.7.2-1].
     *
     * <p>Shared subscriptions are <em>not</em> returned: see {@link #matchShared(String)}.
     *
     * @param topicName         a valid topic name
     * @param publisherClientId the publishing client, or null if the message has no client origin
     * @return an immutable list in no particular order
     * @throws IllegalArgumentException if {@code topicName} is not a valid topic name
     */
    public List<Match> match(String topicName, String publisherClientId) {
        if (!TopicNames.isValidTopicName(topicName)) {
            throw new IllegalArgumentException("Invalid topic name: " + topicName);
        }
        String[] levels = topicName.split("/", -1);
        Map<String, Accumulator> byClient = new HashMap<>();
        boolean dollar = topicName.startsWith("$");
        collect(root, levels, dollar, node -> accumulate(node, publisherClientId, byClient));
        if (byClient.isEmpty()) {
            return List.of();
        }
        List<Match> result = new ArrayList<>(byClient.size());
        for (Map.Entry<String, Accumulator> e : byClient.entrySet()) {
            Accumulator acc = e.getValue();
            List<Integer> ids = acc.identifiers == null ? List.of() : acc.identifiers;
            if (ids.size() > 1) {
                ids.sort(null);
            }
            result.add(new Match(e.getKey(), acc.qos, acc.retainAsPublished, ids));
        }
        return List.copyOf(result);
    }

    /**
     * The share groups that receive a message published to {@code topicName}: one {@link SharedMatch} per
     * shared subscription filter ({@code $share/{ShareName}/{filter}}) with at least one member whose filter
     * part matches, with every member of that group (MQTT 5.0 §4.8.2). Each member's {@link Match} carries
     * that member's granted QoS, Retain As Published and subscription identifier. Topic names starting with
     * {@code '$'} are not matched by filter parts starting with a wildcard [MQTT-4.7.2-1]. Which member gets
     * the message is the caller's choice; this index does no I/O and keeps no delivery state.
     *
     * @param topicName a valid topic name
     * @return an immutable list in no particular order; members of each group sorted by client id
     * @throws IllegalArgumentException if {@code topicName} is not a valid topic name
     */
    public List<SharedMatch> matchShared(String topicName) {
        if (!TopicNames.isValidTopicName(topicName)) {
            throw new IllegalArgumentException("Invalid topic name: " + topicName);
        }
        if (sharedRoot.children.isEmpty()) {
            return List.of();
        }
        Map<String, List<Match>> byGroup = new HashMap<>();
        collect(sharedRoot, topicName.split("/", -1), topicName.startsWith("$"), node -> {
            for (Subscription s : node.subscriptions.values()) {
                List<Integer> ids = s.hasSubscriptionIdentifier() ? List.of(s.subscriptionIdentifier()) : List.of();
                byGroup.computeIfAbsent(s.topicFilter(), k -> new ArrayList<>())
                        .add(new Match(s.clientId(), s.qos(), s.retainAsPublished(), ids));
            }
        });
        if (byGroup.isEmpty()) {
            return List.of();
        }
        List<SharedMatch> result = new ArrayList<>(byGroup.size());
        for (Map.Entry<String, List<Match>> e : byGroup.entrySet()) {
            List<Match> members = e.getValue();
            members.sort(Comparator.comparing(Match::clientId));
            result.add(new SharedMatch(e.getKey(), shareName(e.getKey()), members));
        }
        return List.copyOf(result);
    }

    /** Total number of subscriptions, shared ones included. */
    public int size() {
        return size.get();
    }

    /** Number of trie nodes including the root; for tests of pruning. */
    int nodeCount() {
        return countNodes(root);
    }

    /** Number of nodes of the shared subscriptions' trie including its root; for tests of pruning. */
    int sharedNodeCount() {
        return countNodes(sharedRoot);
    }

    // ---- matching ----------------------------------------------------------------------------------

    /**
     * Iterative depth-first walk (filters and topics may have tens of thousands of levels, so no recursion).
     */
    private static void collect(Node root, String[] levels, boolean dollar, Consumer<Node> visit) {
        ArrayDeque<Node> nodes = new ArrayDeque<>();
        ArrayDeque<Integer> depths = new ArrayDeque<>();
        nodes.push(root);
        depths.push(0);
        while (!nodes.isEmpty()) {
            Node node = nodes.pop();
            int depth = depths.pop();
            // A wildcard in the first level never matches a topic starting with '$' [MQTT-4.7.2-1].
            boolean wildcardsAllowed = depth > 0 || !dollar;
            if (wildcardsAllowed) {
                Node multi = node.children.get(MULTI);
                if (multi != null) {
                    // '#' matches the parent level and all descendants: "sport/#" matches "sport" [MQTT-4.7.1-1]
                    visit.accept(multi);
                }
            }
            if (depth == levels.length) {
                visit.accept(node);
                continue;
            }
            Node exact = node.children.get(levels[depth]);
            if (exact != null) {
                nodes.push(exact);
                depths.push(depth + 1);
            }
            if (wildcardsAllowed) {
                Node single = node.children.get(SINGLE); // exactly one level, possibly empty
                if (single != null) {
                    nodes.push(single);
                    depths.push(depth + 1);
                }
            }
        }
    }

    private static void accumulate(Node node, String publisher, Map<String, Accumulator> out) {
        for (Subscription s : node.subscriptions.values()) {
            if (s.noLocal() && s.clientId().equals(publisher)) {
                continue; // [MQTT-3.8.3-3]
            }
            Accumulator acc = out.computeIfAbsent(s.clientId(), k -> new Accumulator());
            acc.qos = Math.max(acc.qos, s.qos()); // overlapping subscriptions [MQTT-3.3.4-2]
            acc.retainAsPublished |= s.retainAsPublished();
            if (s.hasSubscriptionIdentifier()) { // [MQTT-3.3.4-3]
                if (acc.identifiers == null) {
                    acc.identifiers = new ArrayList<>(2);
                }
                acc.identifiers.add(s.subscriptionIdentifier());
            }
        }
    }

    // ---- share groups -------------------------------------------------------------------------------

    /** Counts {@code old} leaving its share group, if shared; adds the group to {@code emptied} if it was the last. */
    private void leaveShareGroup(Subscription old, List<String> emptied) {
        if (!old.isShared()) {
            return;
        }
        boolean[] last = new boolean[1];
        shareGroupSizes.computeIfPresent(old.topicFilter(), (group, members) -> {
            last[0] = members == 1;
            return last[0] ? null : members - 1;
        });
        if (last[0]) {
            emptied.add(old.topicFilter());
        }
    }

    private void notifyShareGroupsEmptied(List<String> emptied) {
        for (String group : emptied) {
            for (Consumer<String> listener : shareGroupEmptiedListeners) {
                listener.accept(group);
            }
        }
    }

    // ---- trie mutation (callers hold the client's bin in {@code clients}) ----------------------------

    /** The trie a subscription lives in: non-shared ones in {@link #root}, shared ones in {@link #sharedRoot}. */
    private Node rootOf(Subscription subscription) {
        return subscription.isShared() ? sharedRoot : root;
    }

    /** The levels of the filter a subscription is stored under: for a shared one, its filter part. */
    private static String[] levelsOf(Subscription subscription) {
        String filter = subscription.topicFilter();
        return (subscription.isShared() ? TopicNames.sharedFilterPart(filter) : filter).split("/", -1);
    }

    /** A subscription's key within its trie node: the client id, prefixed by the ShareName if shared. */
    private static String keyOf(Subscription subscription) {
        return subscription.isShared()
                ? shareName(subscription.topicFilter()) + "/" + subscription.clientId()
                : subscription.clientId();
    }

    /** The ShareName of a valid shared filter ({@code "g"} for {@code "$share/g/a/b"}). */
    private static String shareName(String sharedFilter) {
        int start = TopicNames.SHARE_PREFIX.length();
        return sharedFilter.substring(start, sharedFilter.indexOf('/', start));
    }

    private void insert(Subscription subscription) {
        String[] levels = levelsOf(subscription);
        retry:
        while (true) {
            Node node = rootOf(subscription);
            for (String level : levels) {
                Node child;
                synchronized (node) {
                    if (node.removed) {
                        continue retry; // pruned concurrently; walk again from the root
                    }
                    child = node.children.computeIfAbsent(level, k -> new Node());
                }
                node = child;
            }
            synchronized (node) {
                if (node.removed) {
                    continue;
                }
                node.subscriptions.put(keyOf(subscription), subscription);
            }
            return;
        }
    }

    private void delete(Subscription subscription) {
        String[] levels = levelsOf(subscription);
        Node[] path = new Node[levels.length + 1];
        path[0] = rootOf(subscription);
        for (int i = 0; i < levels.length; i++) {
            // A node holding a subscription is never pruned, so the path to it is intact.
            path[i + 1] = path[i].children.get(levels[i]);
            if (path[i + 1] == null) {
                return;
            }
        }
        Node leaf = path[levels.length];
        synchronized (leaf) {
            leaf.subscriptions.remove(keyOf(subscription), subscription);
        }
        // Prune empty nodes bottom-up; lock order parent then child, like insert's top-down walk.
        for (int i = levels.length; i > 0; i--) {
            Node parent = path[i - 1];
            Node child = path[i];
            synchronized (parent) {
                synchronized (child) {
                    if (child.removed || !child.isEmpty()) {
                        return;
                    }
                    child.removed = true;
                    parent.children.remove(levels[i - 1], child);
                }
            }
        }
    }

    private static int countNodes(Node root) {
        int n = 0;
        ArrayDeque<Node> pending = new ArrayDeque<>();
        pending.push(root);
        while (!pending.isEmpty()) {
            Node node = pending.pop();
            n++;
            node.children.values().forEach(pending::push);
        }
        return n;
    }
}
