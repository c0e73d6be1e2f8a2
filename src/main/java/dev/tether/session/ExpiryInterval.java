package dev.tether.session;

import java.time.Instant;
import java.util.Optional;

/**
 * A Session Expiry Interval in seconds (MQTT 5.0 §3.1.2.11.2): 0 ends the session when the
 * connection closes, {@link #NEVER} (0xFFFFFFFF) never ends it.
 */
public record ExpiryInterval(long seconds) implements Comparable<ExpiryInterval> {

    public static final long NEVER_SECONDS = 0xFFFFFFFFL;
    public static final ExpiryInterval ZERO = new ExpiryInterval(0);
    public static final ExpiryInterval NEVER = new ExpiryInterval(NEVER_SECONDS);

    public ExpiryInterval {
        if (seconds < 0 || seconds > NEVER_SECONDS) {
            throw new IllegalArgumentException("Session Expiry Interval out of range: " + seconds);
        }
    }

    public static ExpiryInterval ofSeconds(long seconds) {
        return seconds == 0 ? ZERO : seconds == NEVER_SECONDS ? NEVER : new ExpiryInterval(seconds);
    }

    /** The session outlives its connection [MQTT-3.1.2-23]. */
    public boolean isDurable() {
        return seconds > 0;
    }

    public boolean isNever() {
        return seconds == NEVER_SECONDS;
    }

    /** This interval, or {@code max} when that is smaller. */
    public ExpiryInterval cappedAt(ExpiryInterval max) {
        return compareTo(max) <= 0 ? this : max;
    }

    /** When a session whose connection closed at {@code closedAt} ends; empty when it never does. */
    public Optional<Instant> deadlineAfter(Instant closedAt) {
        return isNever() ? Optional.empty() : Optional.of(closedAt.plusSeconds(seconds));
    }

    @Override
    public int compareTo(ExpiryInterval o) {
        return Long.compare(seconds, o.seconds);
    }
}
