package dev.tether.listener;

import dev.tether.limits.Limit;
import dev.tether.limits.Limits;
import dev.tether.limits.TokenBucket;

/**
 * The publish rates of one client ({@code tether.limits.publish-rate}, {@code publish-bytes-rate}): each PUBLISH read
 * takes from two token buckets (one per packet, one per byte); once one is in debt, the connection stops being read
 * (back-pressure: TCP's window fills, the client slows down) until a timer finds the debt repaid. Nothing is dropped,
 * nobody is disconnected. Created only when a rate is configured; owned by the connection's event loop.
 */
final class PublishRateLimiter {

    private final MqttConnection connection;
    private final Limits limits;
    /** Null when that rate is off. */
    private final TokenBucket packets;
    private final TokenBucket bytes;
    private boolean throttled;
    private long timer = -1;

    private PublishRateLimiter(MqttConnection connection, Limits limits, TokenBucket packets, TokenBucket bytes) {
        this.connection = connection;
        this.limits = limits;
        this.packets = packets;
        this.bytes = bytes;
    }

    /** The limiter of a new connection; null when no publish rate is configured. */
    static PublishRateLimiter of(MqttConnection connection, Limits limits) {
        if (limits.publishRate() <= 0 && limits.publishBytesRate() <= 0) {
            return null;
        }
        long now = System.nanoTime();
        double burst = limits.publishBurstSeconds();
        TokenBucket packets = limits.publishRate() <= 0 ? null
                : new TokenBucket(limits.publishRate(), Math.max(1, limits.publishRate() * burst), now);
        TokenBucket bytes = limits.publishBytesRate() <= 0 ? null
                : new TokenBucket(limits.publishBytesRate(), Math.max(1, limits.publishBytesRate() * burst), now);
        return new PublishRateLimiter(connection, limits, packets, bytes);
    }

    /** While true the connection is not read: the client published faster than its rate. */
    boolean isThrottled() {
        return throttled;
    }

    /** A PUBLISH of {@code size} bytes (Remaining Length) was read and handled. */
    void onPublish(int size) {
        long now = System.nanoTime();
        long packetWait = packets == null ? 0 : packets.take(1, now);
        long byteWait = bytes == null ? 0 : bytes.take(size, now);
        if (throttled || (packetWait == 0 && byteWait == 0)) {
            return; // already waiting (a packet read before the pause took effect): the wait is checked again then
        }
        limits.throttled(packetWait >= byteWait ? Limit.PUBLISH_RATE : Limit.PUBLISH_BYTES_RATE);
        throttled = true;
        connection.transport().pause();
        schedule(Math.max(packetWait, byteWait));
    }

    private void schedule(long waitNanos) {
        long millis = Math.max(1, (waitNanos + 999_999) / 1_000_000);
        timer = connection.context().owner().setTimer(millis, t -> {
            timer = -1;
            if (connection.isClosed()) {
                return;
            }
            long now = System.nanoTime();
            long wait = Math.max(packets == null ? 0 : packets.debtNanos(now), bytes == null ? 0 : bytes.debtNanos(now));
            if (wait > 0) {
                schedule(wait);
                return;
            }
            throttled = false;
            connection.resumeReading();
        });
    }

    /** The connection closed: the timer goes. */
    void close() {
        if (timer >= 0) {
            connection.context().owner().cancelTimer(timer);
            timer = -1;
        }
    }
}
