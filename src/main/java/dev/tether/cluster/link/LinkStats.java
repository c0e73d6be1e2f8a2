package dev.tether.cluster.link;

/**
 * Counters of one peer's links since this {@link Links} was created; an immutable snapshot.
 *
 * @param framesSent     user frames (one-way, requests, replies) written to the peer
 * @param framesReceived user frames (one-way, requests, replies) read from the peer
 * @param framesDropped  one-way frames {@link Links#send} dropped: link down or write queue full
 * @param authFailures   handshakes with this peer that failed (either direction)
 */
public record LinkStats(long framesSent, long framesReceived, long framesDropped, long authFailures) {
    static final LinkStats ZERO = new LinkStats(0, 0, 0, 0);
}
