package dev.tether.auth;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Failed CONNECTs per source address, consulted before any password is hashed: the first few failures cost nothing,
 * then each check waits a growing delay, and past a threshold the address is banned for a while (refused without a
 * check). Only failures count towards the delay and the ban: many clients behind one address (a NAT, a proxy)
 * logging in at once with good credentials are never banned. Parallel attempts cannot outrun the ban either: an
 * address with attempts running is suspect (its checks run one at a time on a thread of their own), and a check
 * still waiting asks {@link #isBanned} before it hashes. A bounded map (the least recently seen addresses are forgotten first); an address's record expires
 * {@code banDuration} after its last failure. Pure: time is passed in. Thread-safe (one lock; every call is short).
 */
public final class FailureThrottle {

    /**
     * What happens to an attempt from an address: refused at once, or checked after {@code delay}; {@code suspect}
     * when the address has failed recently or has other attempts running (its check then waits behind clean
     * addresses', and asks {@link #isBanned} before hashing).
     */
    public record Admission(boolean banned, Duration delay, boolean suspect) {
        static final Admission CLEAN = new Admission(false, Duration.ZERO, false);
        static final Admission BANNED = new Admission(true, Duration.ZERO, true);
    }

    /** Limits; see {@code tether.auth.*}. */
    public record Limits(int failuresBeforeDelay, int failuresBeforeBan, Duration banDuration, Duration firstDelay,
                         Duration maxDelay, int maxAddresses) {
    }

    private static final class Record {
        int failures;
        int running;
        Instant lastFailure = Instant.MIN;
        Instant bannedUntil = Instant.MIN;
    }

    private final Limits limits;
    private final Map<String, Record> records;

    public FailureThrottle(Limits limits) {
        this.limits = limits;
        this.records = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Record> eldest) {
                return size() > limits.maxAddresses();
            }
        };
    }

    /**
     * An attempt from {@code address} begins. Unless banned, it runs (and counts as a failure) until
     * {@link #failed} or {@link #ended} is called for it.
     */
    public synchronized Admission admit(String address, Instant now) {
        Record r = current(address, now);
        if (now.isBefore(r.bannedUntil)) {
            return Admission.BANNED;
        }
        boolean clean = r.failures == 0 && r.running == 0;
        r.running++;
        if (clean) {
            return Admission.CLEAN;
        }
        int over = r.failures - limits.failuresBeforeDelay();
        if (over < 0) {
            return new Admission(false, Duration.ZERO, true);
        }
        Duration delay = limits.firstDelay().multipliedBy(1L << Math.min(over, 20));
        return new Admission(false, delay.compareTo(limits.maxDelay()) > 0 ? limits.maxDelay() : delay, true);
    }

    /** Whether {@code address} is banned at {@code now}: a check admitted earlier and still waiting is not worth running. */
    public synchronized boolean isBanned(String address, Instant now) {
        Record r = records.get(address);
        return r != null && now.isBefore(r.bannedUntil);
    }

    /** An admitted attempt failed (wrong credentials). */
    public synchronized void failed(String address, Instant now) {
        Record r = records.computeIfAbsent(address, a -> new Record());
        r.running = Math.max(0, r.running - 1);
        r.failures++;
        r.lastFailure = now;
        if (r.failures >= limits.failuresBeforeBan()) {
            r.bannedUntil = now.plus(limits.banDuration());
        }
    }

    /** An admitted attempt ended otherwise (accepted, or not decided): it no longer counts. */
    public synchronized void ended(String address) {
        Record r = records.get(address);
        if (r != null) {
            r.running = Math.max(0, r.running - 1);
        }
    }

    /** Addresses tracked now (for tests and metrics). */
    public synchronized int size() {
        return records.size();
    }

    private Record current(String address, Instant now) {
        Record r = records.computeIfAbsent(address, a -> new Record());
        boolean expired = r.running == 0 && !now.isBefore(r.bannedUntil)
                && !now.isBefore(r.lastFailure.plus(limits.banDuration()));
        if (expired && r.failures > 0) {
            r.failures = 0;
        }
        return r;
    }
}
