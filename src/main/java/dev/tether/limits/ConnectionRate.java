package dev.tether.limits;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * New connections per source address: a {@link TokenBucket} per address, refilled at the configured rate. A bounded
 * map (the least recently seen addresses are forgotten first, like {@code auth.FailureThrottle}). Thread-safe (one
 * lock; every call is short): the listener's event loops consult it on accept. Pure: time is passed in.
 */
public final class ConnectionRate {

    private final double perSecond;
    private final double burst;
    private final Map<String, TokenBucket> buckets;

    /** @param perSecond new connections per second per address; 0 admits every connection */
    public ConnectionRate(int perSecond, int burst, int maxAddresses) {
        this.perSecond = perSecond;
        this.burst = Math.max(1, burst);
        this.buckets = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, TokenBucket> eldest) {
                return size() > maxAddresses;
            }
        };
    }

    /** Whether a new connection from {@code address} is admitted now; one admitted takes a token. */
    public synchronized boolean admit(String address, long nowNanos) {
        if (perSecond <= 0) {
            return true;
        }
        TokenBucket bucket = buckets.get(address);
        if (bucket == null) {
            bucket = new TokenBucket(perSecond, burst, nowNanos);
            buckets.put(address, bucket);
        }
        return bucket.tryTake(nowNanos);
    }

    /** Addresses tracked now. */
    public synchronized int size() {
        return buckets.size();
    }
}
