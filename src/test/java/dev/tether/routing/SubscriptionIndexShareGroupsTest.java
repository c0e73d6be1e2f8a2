package dev.tether.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Share group lifetimes in {@link SubscriptionIndex}: a group exists while it has a member, and its last member's
 * leaving (unsubscribe or session end) is announced once, so per-group state elsewhere can go with it.
 */
class SubscriptionIndexShareGroupsTest {

    private final SubscriptionIndex index = new SubscriptionIndex();
    private final List<String> emptied = new CopyOnWriteArrayList<>();

    SubscriptionIndexShareGroupsTest() {
        index.onShareGroupEmptied(emptied::add);
    }

    private static Subscription sub(String client, String filter) {
        return new Subscription(client, filter, 1, false, false, 0, 0);
    }

    @Test
    void remove_whenLastMemberUnsubscribes_thenGroupEmptiedOnce() {
        index.put(sub("a", "$share/g/x"));
        index.put(sub("b", "$share/g/x"));
        assertThat(index.hasShareGroup("$share/g/x")).isTrue();

        index.remove("a", "$share/g/x");
        assertThat(emptied).isEmpty();
        assertThat(index.hasShareGroup("$share/g/x")).isTrue();

        index.remove("b", "$share/g/x");
        assertThat(emptied).containsExactly("$share/g/x");
        assertThat(index.hasShareGroup("$share/g/x")).isFalse();
        assertThat(index.shareGroupCount()).isZero();
    }

    @Test
    void removeAll_whenSessionOfLastMemberEnds_thenEachOfItsGroupsEmptied() {
        index.put(sub("a", "$share/g/x"));
        index.put(sub("a", "$share/h/x"));
        index.put(sub("a", "plain/x"));
        index.put(sub("b", "$share/h/x"));

        index.removeAll("a");
        assertThat(emptied).containsExactly("$share/g/x");
        assertThat(index.hasShareGroup("$share/h/x")).isTrue();
        assertThat(index.shareGroupCount()).isEqualTo(1);
    }

    @Test
    void put_whenMemberResubscribes_thenStillOneMemberAndGroupKept() {
        // [MQTT-3.8.4-3] a SUBSCRIBE to the same filter replaces the subscription: the member counts once
        index.put(sub("a", "$share/g/x"));
        index.put(new Subscription("a", "$share/g/x", 2, false, false, 0, 0));
        index.remove("a", "$share/g/x");
        assertThat(emptied).containsExactly("$share/g/x");
        assertThat(index.shareGroupCount()).isZero();
    }

    @Test
    void remove_whenNonSharedOrUnknown_thenNoGroupEmptied() {
        index.put(sub("a", "plain/x"));
        index.remove("a", "plain/x");
        index.remove("a", "$share/g/x");
        index.removeAll("nobody");
        assertThat(emptied).isEmpty();
    }

    @Test
    void putAndRemove_whenManyClientsJoinAndLeaveConcurrently_thenEveryGroupEmptiedAndCountZero() throws Exception {
        // Members of one group join and leave from many threads (routing and connections run on many event loops)
        int threads = 4;
        int clientsPerThread = 200;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int c = 0; c < clientsPerThread; c++) {
                        String client = "c" + thread + "-" + c;
                        index.put(sub(client, "$share/g/x"));
                        index.put(sub(client, "$share/g" + thread + "/x"));
                        index.remove(client, "$share/g/x");
                        index.removeAll(client);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(index.shareGroupCount()).isZero();
        assertThat(index.size()).isZero();
        // every emptying was announced: the last announcement of each group follows its last leave
        assertThat(emptied).contains("$share/g/x", "$share/g0/x", "$share/g1/x", "$share/g2/x", "$share/g3/x");
    }
}
