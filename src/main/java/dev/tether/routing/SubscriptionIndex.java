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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Index of all subscriptions, keyed by client and by topic filter, answering "who receives a message
 * published to this topic name?".
 *
 * <p>Non-shared subscriptions are kept in a topic trie (one node per filter level, levels split on
 * {@code '/'}); each node holds the subscriptions whose filter ends there, at most one per client. A
 * secondary map {@code clientId -> (topicFilter -> Subscription)} serves {@link #subscriptionsOf(String)},
 * {@link #removeAll(String)} and replacement detection.
 *
 * <p><b>Shared subscriptions</b> ({@code $share/{group}/{filter}}) are stored (they count in {@link #size()}
 * and are returned by {@link #subscriptionsOf(String)}, {@link #remove(String, String)} and
 * {@link #removeAll(String)} handle them) but are <em>not</em> returned by {@link #match(String, String)}:
 * delivery to one member of a share group is added by a later issue.
 *
 * <p><b>Thread safety:</b> all methods may be called concurrently from any thread. Mutations of one client
 * are serialized (per client id); mutations of different clients and {@link #match(String, String)} run in
 * parallel. {@code match} does not lock and is weakly consistent: a subscription added or removed
 * concurrently with a match may or may not be seen by it, but every subscription present for the whole
 * duration of the match is seen. Trie nodes left empty by a removal are pruned.
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
     * clientId -> (topicFilter -> subscription). All mutations of a client happen inside
     * {@code clients.compute(clientId, ...)}, which serializes them per client; lock order is always
     * client bin, then trie nodes top-down.
     */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Subscription>> clients =
            new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();

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
            if (!subscription.isShared()) {
                insert(subscription);
            }
            if (previous[0] == null) {
                size.incrementAndGet();
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
        clients.computeIfPresent(clientId, (id, filters) -> {
            Subscription old = filters.remove(topicFilter);
            if (old != null) {
                removed[0] = true;
                size.decrementAndGet();
                if (!old.isShared()) {
                    delete(old);
                }
            }
            return filters.isEmpty() ? null : filters;
        });
        return removed[0];
    }

    /** Removes every subscription of {@code clientId} (e.g. when its session ends). */
    public void removeAll(String clientId) {
        Objects.requireNonNull(clientId, "clientId");
        clients.computeIfPresent(clientId, (id, filters) -> {
            for (Subscription old : filters.values()) {
                if (!old.isShared()) {
                    delete(old);
                }
            }
            size.addAndGet(-filters.size());
            return null;
        });
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
     * <p>Shared subscriptions are <em>not</em> returned (group delivery comes in a later issue).
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
        collect(root, levels, dollar, publisherClientId, byClient);
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

    /** Total number of subscriptions, shared ones included. */
    public int size() {
        return size.get();
    }

    /** Number of trie nodes including the root; for tests of pruning. */
    int nodeCount() {
        return countNodes(root);
    }

    // ---- matching ----------------------------------------------------------------------------------

    /**
     * Iterative depth-first walk (filters and topics may have tens of thousands of levels, so no recursion).
     */
    private static void collect(Node root, String[] levels, boolean dollar, String publisher,
                                Map<String, Accumulator> out) {
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
                    accumulate(multi, publisher, out);
                }
            }
            if (depth == levels.length) {
                accumulate(node, publisher, out);
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

    // ---- trie mutation (callers hold the client's bin in {@code clients}) ----------------------------

    private void insert(Subscription subscription) {
        String[] levels = subscription.topicFilter().split("/", -1);
        retry:
        while (true) {
            Node node = root;
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
                node.subscriptions.put(subscription.clientId(), subscription);
            }
            return;
        }
    }

    private void delete(Subscription subscription) {
        String[] levels = subscription.topicFilter().split("/", -1);
        Node[] path = new Node[levels.length + 1];
        path[0] = root;
        for (int i = 0; i < levels.length; i++) {
            // A node holding a subscription is never pruned, so the path to it is intact.
            path[i + 1] = path[i].children.get(levels[i]);
            if (path[i + 1] == null) {
                return;
            }
        }
        Node leaf = path[levels.length];
        synchronized (leaf) {
            leaf.subscriptions.remove(subscription.clientId(), subscription);
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
