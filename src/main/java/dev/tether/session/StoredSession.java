package dev.tether.session;

import java.time.Instant;
import java.util.Optional;

/**
 * What PostgreSQL holds about a session when a client connects.
 *
 * @param connected      a connection holds it right now (on a live instance)
 * @param expiresAt      its deadline while disconnected; empty while connected or when it never expires
 * @param willPublishAt  when its pending Will Message is due; empty when there is no pending will
 */
public record StoredSession(
        String clientId,
        boolean connected,
        Optional<Instant> expiresAt,
        Optional<Instant> willPublishAt) {

    /** The session still exists at {@code now}: a session past its deadline is never resumed. */
    public boolean isAliveAt(Instant now) {
        return connected || expiresAt.map(now::isBefore).orElse(true);
    }

    public boolean hasPendingWill() {
        return willPublishAt.isPresent();
    }
}
