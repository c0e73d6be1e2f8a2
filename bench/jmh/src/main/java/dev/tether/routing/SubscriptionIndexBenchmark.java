package dev.tether.routing;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link SubscriptionIndex} with {@code subscriptions} (default 100,000) non-shared subscriptions over an IoT-style
 * topic tree {@code site/{s}/device/{d}/{metric}} (1,000 sites x 100 devices x 3 metrics), held by
 * subscriptions/4 clients, built once per trial from a fixed seed:
 * <ul>
 *   <li>75% exact topics: {@code site/{s}/device/{d}/{metric}}</li>
 *   <li>15% one device level wildcard: {@code site/{s}/device/+/{metric}}</li>
 *   <li>4.5% {@code site/{s}/#} and 4.5% {@code site/{s}/device/{d}/#}</li>
 *   <li>1% fleet-wide: {@code site/+/device/{d}/temperature}</li>
 * </ul>
 * A matching topic ({@code site/{s}/device/{d}/{metric}} with s &lt; 1000) finds about 10-20 clients; a
 * non-matching one ({@code site/{s}/device/{d}/pressure} with s &ge; 1000) walks the {@code site/+/device/{d}/}
 * branch and finds nobody. Both pools hold 4,096 topics, used round robin. {@link #putThenRemove} adds a new
 * client's subscription and removes it again (the index stays at its size); {@link #putReplace} re-subscribes an
 * existing client to its existing filter (the replacement path).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class SubscriptionIndexBenchmark {

    static final int SITES = 1_000;
    static final int DEVICES = 100;
    static final String[] METRICS = {"temperature", "humidity", "battery"};
    static final int POOL = 4_096;

    @Param("100000")
    public int subscriptions;

    private SubscriptionIndex index;
    private String[] matchingTopics;
    private String[] nonMatchingTopics;
    private Subscription[] newSubscriptions;
    private Subscription[] existingSubscriptions;
    private int next;

    @Setup(Level.Trial)
    public void build() {
        SplittableRandom random = new SplittableRandom(42);
        index = new SubscriptionIndex();
        List<Subscription> all = new ArrayList<>(subscriptions);
        Set<String> taken = new HashSet<>();
        for (int k = 0; k < subscriptions; k++) {
            String clientId = "client-" + (k / 4);
            String filter;
            do { // a client's filters are distinct, so the index really holds `subscriptions` entries
                filter = filter(random, k % 200);
            } while (!taken.add(clientId + '\0' + filter));
            Subscription s = new Subscription(clientId, filter, random.nextInt(3), false, false, 0, 0);
            index.put(s);
            all.add(s);
        }
        matchingTopics = new String[POOL];
        nonMatchingTopics = new String[POOL];
        newSubscriptions = new Subscription[POOL];
        existingSubscriptions = new Subscription[POOL];
        long matches = 0;
        for (int i = 0; i < POOL; i++) {
            matchingTopics[i] = "site/" + random.nextInt(SITES) + "/device/" + random.nextInt(DEVICES) + "/"
                    + METRICS[random.nextInt(METRICS.length)];
            nonMatchingTopics[i] = "site/" + (SITES + random.nextInt(SITES)) + "/device/" + random.nextInt(DEVICES)
                    + "/pressure";
            newSubscriptions[i] = new Subscription("new-client-" + i, filter(random, random.nextInt(200)), 1,
                    false, false, 0, 0);
            existingSubscriptions[i] = all.get(random.nextInt(all.size()));
            int found = index.match(matchingTopics[i], null).size();
            if (found == 0) {
                // Rare with these densities; keep the pool honest by taking a topic an exact filter names.
                matchingTopics[i] = exactTopicOf(all, random);
                found = index.match(matchingTopics[i], null).size();
            }
            matches += found;
            if (!index.match(nonMatchingTopics[i], null).isEmpty()) {
                throw new IllegalStateException("non-matching topic matched: " + nonMatchingTopics[i]);
            }
        }
        if (index.size() != subscriptions) {
            throw new IllegalStateException("expected " + subscriptions + " subscriptions, got " + index.size());
        }
        System.out.printf("%n[SubscriptionIndexBenchmark] %d subscriptions, %d clients, mean %.1f clients per"
                + " matching topic%n", index.size(), subscriptions / 4, (double) matches / POOL);
    }

    private static String filter(SplittableRandom random, int bucket) {
        int s = random.nextInt(SITES);
        int d = random.nextInt(DEVICES);
        String metric = METRICS[random.nextInt(METRICS.length)];
        if (bucket < 150) {                      // 75%
            return "site/" + s + "/device/" + d + "/" + metric;
        } else if (bucket < 180) {               // 15%
            return "site/" + s + "/device/+/" + metric;
        } else if (bucket < 189) {               // 4.5%
            return "site/" + s + "/#";
        } else if (bucket < 198) {               // 4.5%
            return "site/" + s + "/device/" + d + "/#";
        } else {                                 // 1%
            return "site/+/device/" + d + "/temperature";
        }
    }

    private static String exactTopicOf(List<Subscription> all, SplittableRandom random) {
        while (true) {
            String f = all.get(random.nextInt(all.size())).topicFilter();
            if (f.indexOf('+') < 0 && f.indexOf('#') < 0) {
                return f;
            }
        }
    }

    private int nextSlot() {
        int i = next;
        next = (i + 1) & (POOL - 1);
        return i;
    }

    @Benchmark
    public List<Match> matchHit() {
        return index.match(matchingTopics[nextSlot()], "publisher");
    }

    @Benchmark
    public List<Match> matchMiss() {
        return index.match(nonMatchingTopics[nextSlot()], "publisher");
    }

    @Benchmark
    public boolean putThenRemove() {
        Subscription s = newSubscriptions[nextSlot()];
        index.put(s);
        return index.remove(s.clientId(), s.topicFilter());
    }

    @Benchmark
    public Object putReplace() {
        return index.put(existingSubscriptions[nextSlot()]);
    }
}
