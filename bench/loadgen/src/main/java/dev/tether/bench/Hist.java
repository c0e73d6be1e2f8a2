package dev.tether.bench;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Thread-safe latency histogram in microseconds: exact below 128 µs, then 64 sub-buckets per power of two
 * (relative error below 1.6 %). Fixed size, so recording never allocates and memory stays bounded.
 */
final class Hist {
    private static final int LINEAR = 128;
    private static final int SUB = 64;
    private static final int MAX_EXP = 42; // ~50 days in µs
    private final AtomicLongArray counts = new AtomicLongArray(LINEAR + (MAX_EXP - 6) * SUB);

    void recordNanos(long nanos) {
        record(Math.max(0, nanos / 1000));
    }

    void record(long micros) {
        counts.incrementAndGet(index(Math.max(0, micros)));
    }

    private static int index(long v) {
        if (v < LINEAR) {
            return (int) v;
        }
        int e = 63 - Long.numberOfLeadingZeros(v); // >= 7
        if (e > MAX_EXP) {
            e = MAX_EXP;
            v = (1L << (MAX_EXP + 1)) - 1;
        }
        long m = v >> (e - 6); // 64..127
        return LINEAR + (e - 7) * SUB + (int) (m - SUB);
    }

    private static long lowerBound(int idx) {
        if (idx < LINEAR) {
            return idx;
        }
        int e = (idx - LINEAR) / SUB + 7;
        long m = (idx - LINEAR) % SUB + SUB;
        return m << (e - 6);
    }

    long count() {
        long n = 0;
        for (int i = 0; i < counts.length(); i++) {
            n += counts.get(i);
        }
        return n;
    }

    /** Percentile in milliseconds (p in 0..100), or NaN when empty. */
    double percentileMs(double p) {
        long total = count();
        if (total == 0) {
            return Double.NaN;
        }
        long rank = (long) Math.ceil(p / 100.0 * total);
        rank = Math.max(1, rank);
        long seen = 0;
        for (int i = 0; i < counts.length(); i++) {
            seen += counts.get(i);
            if (seen >= rank) {
                return lowerBound(i) / 1000.0;
            }
        }
        return Double.NaN;
    }
}
