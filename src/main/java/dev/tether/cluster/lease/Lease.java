package dev.tether.cluster.lease;

import dev.tether.config.StoreConfig;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.jboss.logging.Logger;

/**
 * This replica's local copy of its lease ({@code broker_instances.lease_expires_at}). A renewal sent at
 * {@code sentNanos} (the monotonic clock, taken before the statement left) makes the lease valid until
 * {@code sentNanos + instanceTimeout - margin}, with {@code margin = max(500 ms, instanceTimeout / 10)}: PostgreSQL
 * computed its {@code now()} after the statement was sent, so the local lease ends before PostgreSQL's as long as
 * the two clocks run at the same rate within the margin. Wall-clock skew does not matter.
 *
 * <p>A timer fires at the local expiry; if no renewal extended the lease by then, the lease is lost. A lost lease
 * stays lost (the process is a dead instance from then on) and runs its {@link #onLost} listeners once.
 * {@link #isValid()} is one volatile read and a {@code nanoTime()}, cheap enough before every acknowledgement.
 * Renewals, losses and the timer may come from any thread; state changes are serialised on this object.
 */
@ApplicationScoped
public class Lease {

    private static final Logger LOG = Logger.getLogger(Lease.class);
    private static final Duration MIN_MARGIN = Duration.ofMillis(500);

    /** Runs an action once after a delay (a Vert.x timer in production). */
    @FunctionalInterface
    public interface Timer {
        void schedule(long delayMillis, Runnable action);
    }

    private enum State { NOT_HELD, HELD, LOST, RELEASED }

    private final long durationNanos;
    private final long marginNanos;
    private final LongSupplier nanos;
    private final Timer timer;
    private final List<Runnable> lostListeners = new ArrayList<>(); // guarded by this
    /** The local end of the lease; in the past while not held. The only field {@link #isValid()} reads. */
    private volatile long validUntilNanos;
    private volatile State state = State.NOT_HELD;
    private String lostReason;

    @Inject
    public Lease(StoreConfig config, Vertx vertx) {
        this(config.instanceTimeout(), System::nanoTime, (delay, action) -> vertx.setTimer(delay, id -> action.run()));
    }

    /** A lease of {@code duration} on the monotonic clock {@code nanos}, expiring through {@code timer}. */
    public Lease(Duration duration, LongSupplier nanos, Timer timer) {
        this.durationNanos = duration.toNanos();
        this.marginNanos = margin(duration).toNanos();
        this.nanos = nanos;
        this.timer = timer;
        this.validUntilNanos = nanos.getAsLong();
    }

    /** How long before PostgreSQL's end of the lease the local copy ends: {@code max(500 ms, duration / 10)}. */
    public static Duration margin(Duration duration) {
        Duration tenth = duration.dividedBy(10);
        return tenth.compareTo(MIN_MARGIN) > 0 ? tenth : MIN_MARGIN;
    }

    /** Whether this replica may serve: the lease was renewed, is not lost, and its local end has not passed. */
    public boolean isValid() {
        return nanos.getAsLong() - validUntilNanos < 0;
    }

    /**
     * Whether this replica must not acknowledge anything to a client any more: its lease is lost, or held and past its
     * local end (the timer that declares it lost may not have run yet, e.g. right after a long pause). Before the lease
     * is first taken and after a graceful release this is false: start-up and shutdown acknowledge as usual. One
     * volatile read and a clock read while held.
     */
    public boolean forbidsAcknowledging() {
        State s = state;
        return s == State.LOST || (s == State.HELD && !isValid());
    }

    /**
     * A renewal that was sent at {@code sentNanos} succeeded: the lease is valid until {@code sentNanos + duration -
     * margin}. Ignored once the lease is lost or released, and when an older renewal's answer arrives late.
     */
    public void renewed(long sentNanos) {
        long until = sentNanos + durationNanos - marginNanos;
        long delayNanos;
        synchronized (this) {
            if (state == State.LOST || state == State.RELEASED) {
                return;
            }
            state = State.HELD;
            if (until - validUntilNanos <= 0) {
                return;
            }
            validUntilNanos = until;
            delayNanos = until - nanos.getAsLong();
        }
        timer.schedule(Math.max(1, (delayNanos + 999_999) / 1_000_000), this::expireIfDue);
    }

    /** The timer of a renewal fired: the lease is lost unless a later renewal extended it. */
    void expireIfDue() {
        boolean due;
        synchronized (this) {
            due = state == State.HELD && nanos.getAsLong() - validUntilNanos >= 0;
        }
        if (due) {
            lose("no renewal within the lease (PostgreSQL unreachable or too slow)");
        }
    }

    /**
     * The lease is lost for {@code reason} (a renewal refused, or expired locally): invalid from now on, for good,
     * and the {@link #onLost} listeners run once, on the calling thread. Returns false if it was already lost or
     * released.
     */
    public boolean lose(String reason) {
        List<Runnable> listeners;
        synchronized (this) {
            if (state == State.LOST || state == State.RELEASED) {
                return false;
            }
            state = State.LOST;
            lostReason = reason;
            validUntilNanos = nanos.getAsLong();
            listeners = List.copyOf(lostListeners);
        }
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                LOG.errorf(e, "lease-lost listener failed");
            }
        }
        return true;
    }

    /** This replica gives the lease up (graceful stop): invalid from now on, no listener runs, no timer loses it. */
    public void release() {
        synchronized (this) {
            if (state != State.LOST) {
                state = State.RELEASED;
                validUntilNanos = nanos.getAsLong();
            }
        }
    }

    /** Whether the lease was lost (not merely released or never held). */
    public synchronized boolean isLost() {
        return state == State.LOST;
    }

    /** Why the lease was lost, if it was. */
    public synchronized Optional<String> lostReason() {
        return Optional.ofNullable(lostReason);
    }

    /** Runs {@code listener} once when the lease is lost (at once if it already is). */
    public void onLost(Runnable listener) {
        synchronized (this) {
            if (state != State.LOST) {
                lostListeners.add(listener);
                return;
            }
        }
        listener.run();
    }
}
