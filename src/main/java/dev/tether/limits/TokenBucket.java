package dev.tether.limits;

/**
 * A token bucket: refilled at {@code perSecond}, holding at most {@code capacity} tokens, full at first. Taking may
 * run it into debt (a large message costs what it costs); the bucket then tells how long until the debt is repaid.
 * Pure: time (nanoseconds of {@link System#nanoTime()} or a test's clock) is passed in. Not thread-safe: one owner
 * (a connection's event loop), or its caller's lock.
 */
public final class TokenBucket {

    private final double perNano;
    private final double capacity;
    private double tokens;
    private long lastNanos;

    public TokenBucket(double perSecond, double capacity, long nowNanos) {
        if (perSecond <= 0 || capacity <= 0) {
            throw new IllegalArgumentException("rate and capacity must be positive");
        }
        this.perNano = perSecond / 1e9;
        this.capacity = capacity;
        this.tokens = capacity;
        this.lastNanos = nowNanos;
    }

    /** Takes one token if the bucket holds one; never runs into debt. */
    public boolean tryTake(long nowNanos) {
        refill(nowNanos);
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }

    /** Takes {@code cost} tokens, into debt if need be; returns {@link #debtNanos} afterwards. */
    public long take(double cost, long nowNanos) {
        refill(nowNanos);
        tokens -= cost;
        return debtNanos(nowNanos);
    }

    /** Nanoseconds until the bucket is out of debt; 0 when it is not in debt. */
    public long debtNanos(long nowNanos) {
        refill(nowNanos);
        return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / perNano);
    }

    /** Whether the bucket is full (it then remembers nothing an idle one would not). */
    public boolean isFull(long nowNanos) {
        refill(nowNanos);
        return tokens >= capacity;
    }

    private void refill(long nowNanos) {
        long elapsed = nowNanos - lastNanos;
        if (elapsed > 0) {
            tokens = Math.min(capacity, tokens + elapsed * perNano);
            lastNanos = nowNanos;
        }
    }
}
