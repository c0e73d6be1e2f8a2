package dev.tether.cluster.link;

import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.jboss.logging.Logger;

/**
 * Per-peer counters and the rate-limited auth failure log. Thread-safe: updated from every link's event loop
 * and from senders' threads.
 *
 * <p>Failures by a peer id that is not a known peer are counted and logged under {@link Links#UNKNOWN_PEER}, so
 * unauthenticated dialers cannot grow these maps.
 */
final class LinkMetrics {
    private static final Logger LOG = Logger.getLogger(Links.class);
    private static final long LOG_EVERY_NANOS = 60_000_000_000L;

    private final Map<UUID, Counters> counters = new ConcurrentHashMap<>();
    private final Map<UUID, Long> lastLogged = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;

    LinkMetrics(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    Counters of(UUID peer) {
        return counters.computeIfAbsent(peer, p -> new Counters());
    }

    /** Counts an auth failure and logs it at most once per peer per minute. {@code reason} never holds secrets. */
    void authFailure(UUID peer, String direction, String reason) {
        of(peer).authFailures.increment();
        long now = nanoTime.getAsLong();
        boolean log = lastLogged.compute(peer, (p, last) -> last == null || now - last >= LOG_EVERY_NANOS ? now : last) == now;
        if (log) {
            LOG.warnf("replica link %s peer %s refused: %s (logged once a minute per peer)", direction, peer, reason);
        }
    }

    Map<UUID, LinkStats> snapshot() {
        Map<UUID, LinkStats> out = new HashMap<>();
        counters.forEach((peer, c) -> out.put(peer, c.snapshot()));
        return Map.copyOf(out);
    }

    LinkStats snapshot(UUID peer) {
        Counters c = counters.get(peer);
        return c == null ? LinkStats.ZERO : c.snapshot();
    }

    static final class Counters {
        final LongAdder sent = new LongAdder();
        final LongAdder received = new LongAdder();
        final LongAdder dropped = new LongAdder();
        final LongAdder authFailures = new LongAdder();

        LinkStats snapshot() {
            return new LinkStats(sent.sum(), received.sum(), dropped.sum(), authFailures.sum());
        }
    }
}
