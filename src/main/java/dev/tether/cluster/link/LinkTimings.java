package dev.tether.cluster.link;

import java.time.Duration;

/**
 * The link's clocks: heartbeat period, silence limit, handshake limit and re-dial back-off.
 * Tests shorten them; production uses {@link #DEFAULT}.
 */
record LinkTimings(Duration ping, Duration silence, Duration handshake, Duration backoffMin, Duration backoffMax) {
    static final LinkTimings DEFAULT = new LinkTimings(
            Duration.ofSeconds(1), Duration.ofSeconds(3), Duration.ofSeconds(5), Duration.ofMillis(100), Duration.ofSeconds(2));

    LinkTimings {
        if (ping.compareTo(silence) >= 0) {
            throw new IllegalArgumentException("ping must be shorter than the silence limit");
        }
        if (backoffMin.compareTo(backoffMax) > 0 || backoffMin.isZero()) {
            throw new IllegalArgumentException("back-off must grow from a positive minimum to the maximum");
        }
    }

    /** How often each connection checks its deadlines (and an outbound one pings). */
    long tickMillis() {
        return ping.toMillis();
    }
}
