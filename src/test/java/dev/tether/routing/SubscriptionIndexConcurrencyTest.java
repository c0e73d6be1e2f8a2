package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class SubscriptionIndexConcurrencyTest {

    private static final int THREADS = 8;
    private static final int OPERATIONS = 20_000;
    private static final String[] FILTERS = {"a", "a/b", "a/+", "a/#", "#", "+/b", "a/b/c", "x/y/z", "x/#",
            "$SYS/#", "+/+/+", "$share/g/a/#"};
    private static final String[] TOPICS = {"a", "a/b", "a/b/c", "x/y/z", "$SYS/x", "q/b"};

    private final ExecutorService executor = Executors.newFixedThreadPool(THREADS + 2);

    @AfterEach
    void shutdown() throws InterruptedException {
        executor.shutdownNow();
        assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    @Timeout(60)
    void putRemoveMatch_whenManyThreadsOwnDistinctClients_thenFinalStateMatchesModel() throws Exception {
        SubscriptionIndex index = new SubscriptionIndex();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Map<String, Map<String, Subscription>>>> writers = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            writers.add(executor.submit(() -> {
                Map<String, Map<String, Subscription>> model = new HashMap<>();
                ThreadLocalRandom random = ThreadLocalRandom.current();
                start.await();
                for (int i = 0; i < OPERATIONS; i++) {
                    String client = "c" + thread + "-" + random.nextInt(4);
                    String filter = FILTERS[random.nextInt(FILTERS.length)];
                    int op = random.nextInt(10);
                    if (op < 6) {
                        Subscription s = new Subscription(client, filter, random.nextInt(3), false,
                                random.nextBoolean(), 0, random.nextInt(3));
                        Subscription expectedPrevious = model.computeIfAbsent(client, k -> new HashMap<>())
                                .put(filter, s);
                        assertThat(index.put(s).orElse(null)).isEqualTo(expectedPrevious);
                    } else if (op < 9) {
                        Subscription expected = model.getOrDefault(client, Map.of()).get(filter);
                        if (expected != null) {
                            model.get(client).remove(filter);
                        }
                        assertThat(index.remove(client, filter)).isEqualTo(expected != null);
                    } else {
                        model.remove(client);
                        index.removeAll(client);
                    }
                }
                return model;
            }));
        }
        List<Future<Integer>> readers = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            readers.add(executor.submit(() -> {
                start.await();
                int seen = 0;
                for (int i = 0; i < OPERATIONS; i++) {
                    seen += index.match(TOPICS[i % TOPICS.length], "c0-0").size();
                }
                return seen;
            }));
        }
        start.countDown();

        Map<String, Map<String, Subscription>> model = new HashMap<>();
        for (Future<Map<String, Map<String, Subscription>>> writer : writers) {
            model.putAll(writer.get(30, TimeUnit.SECONDS));
        }
        for (Future<Integer> reader : readers) {
            assertThat(reader.get(30, TimeUnit.SECONDS)).isNotNegative();
        }

        int expectedSize = model.values().stream().mapToInt(Map::size).sum();
        assertThat(index.size()).isEqualTo(expectedSize);
        for (Map.Entry<String, Map<String, Subscription>> e : model.entrySet()) {
            assertThat(index.subscriptionsOf(e.getKey())).containsExactlyInAnyOrderElementsOf(e.getValue().values());
        }
        for (String topic : TOPICS) {
            assertThat(index.match(topic, null)).containsExactlyInAnyOrderElementsOf(expectedMatches(model, topic));
        }

        model.keySet().forEach(index::removeAll);
        assertThat(index.size()).isZero();
        assertThat(index.nodeCount()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void putRemove_whenThreadsContendOnSameClientsAndFilters_thenIndexStaysConsistent() throws Exception {
        SubscriptionIndex index = new SubscriptionIndex();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            futures.add(executor.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                start.await();
                for (int i = 0; i < OPERATIONS; i++) {
                    String client = "shared-" + random.nextInt(3);
                    // deep, narrow filters maximize put/prune races on the same trie nodes
                    String filter = random.nextBoolean() ? "p/q/r/s" : "p/q/" + random.nextInt(3);
                    switch (random.nextInt(5)) {
                        case 0, 1 -> index.put(new Subscription(client, filter, 1, false, false, 0, 0));
                        case 2, 3 -> index.remove(client, filter);
                        default -> index.match("p/q/r/s", null);
                    }
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> future : futures) {
            future.get(30, TimeUnit.SECONDS);
        }

        Map<String, Map<String, Subscription>> model = new HashMap<>();
        int total = 0;
        for (int c = 0; c < 3; c++) {
            String client = "shared-" + c;
            Map<String, Subscription> subs = new HashMap<>();
            index.subscriptionsOf(client).forEach(s -> subs.put(s.topicFilter(), s));
            model.put(client, subs);
            total += subs.size();
        }
        assertThat(index.size()).isEqualTo(total);
        for (String topic : List.of("p/q/r/s", "p/q/0", "p/q/1", "p/q/2")) {
            assertThat(index.match(topic, null)).containsExactlyInAnyOrderElementsOf(expectedMatches(model, topic));
        }
        model.keySet().forEach(index::removeAll);
        assertThat(index.size()).isZero();
        assertThat(index.nodeCount()).isEqualTo(1);
    }

    @Test
    @Timeout(60)
    void putRemove_whenEachThreadTogglesOwnClientOnSharedDeepPath_thenNoSubscriptionLostToPruning()
            throws Exception {
        // Every thread keeps emptying and refilling the same trie branch, so pruning of a node races with
        // other threads inserting below it; a subscription put into an already unlinked node would be lost.
        SubscriptionIndex index = new SubscriptionIndex();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Boolean>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            String client = "toggle-" + t;
            futures.add(executor.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                start.await();
                boolean subscribed = false;
                for (int i = 0; i < OPERATIONS * 5; i++) {
                    if (subscribed) {
                        index.remove(client, "p/q/r/s");
                    } else {
                        index.put(new Subscription(client, "p/q/r/s", 0, false, false, 0, 0));
                    }
                    subscribed = !subscribed;
                }
                if (random.nextBoolean() && !subscribed) {
                    index.put(new Subscription(client, "p/q/r/s", 0, false, false, 0, 0));
                    subscribed = true;
                }
                return subscribed;
            }));
        }
        start.countDown();
        List<String> expected = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            if (futures.get(t).get(30, TimeUnit.SECONDS)) {
                expected.add("toggle-" + t);
            }
        }
        assertThat(index.size()).isEqualTo(expected.size());
        assertThat(index.match("p/q/r/s", null)).extracting(Match::clientId)
                .containsExactlyInAnyOrderElementsOf(expected);
        expected.forEach(index::removeAll);
        assertThat(index.nodeCount()).isEqualTo(1);
    }

    /** Brute-force reference: aggregate with TopicFilter.matches over the model. */
    private static List<Match> expectedMatches(Map<String, Map<String, Subscription>> model, String topic) {
        List<Match> result = new ArrayList<>();
        for (Map.Entry<String, Map<String, Subscription>> e : model.entrySet()) {
            int qos = -1;
            boolean rap = false;
            List<Integer> ids = new ArrayList<>();
            for (Subscription s : e.getValue().values()) {
                if (s.isShared() || !new TopicFilter(s.topicFilter()).matches(topic)) {
                    continue;
                }
                qos = Math.max(qos, s.qos());
                rap |= s.retainAsPublished();
                if (s.subscriptionIdentifier() != 0) {
                    ids.add(s.subscriptionIdentifier());
                }
            }
            if (qos >= 0) {
                ids.sort(null);
                result.add(new Match(e.getKey(), qos, rap, ids));
            }
        }
        return result;
    }
}
