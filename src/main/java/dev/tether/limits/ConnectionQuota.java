package dev.tether.limits;

import java.util.concurrent.atomic.AtomicInteger;

/** Live connections of this broker against {@code tether.limits.max-connections}. Thread-safe. */
public final class ConnectionQuota {

    private final int max;
    private final AtomicInteger open = new AtomicInteger();

    public ConnectionQuota(int max) {
        this.max = max;
    }

    /** Counts a new connection if the quota has room; false (and nothing counted) when it is full. */
    public boolean tryOpen() {
        while (true) {
            int n = open.get();
            if (n >= max) {
                return false;
            }
            if (open.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** A connection counted by {@link #tryOpen} closed. */
    public void closed() {
        open.decrementAndGet();
    }

    /** Connections counted now. */
    public int open() {
        return open.get();
    }
}
