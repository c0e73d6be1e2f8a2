package dev.tether.session;

/**
 * The operator's limits on sessions.
 *
 * @param maxExpiry      the largest Session Expiry Interval granted (CONNECT and DISCONNECT values)
 * @param mqtt311Expiry  the interval given to MQTT 3.1.1 Clean Session = 0 sessions
 */
public record SessionPolicy(ExpiryInterval maxExpiry, ExpiryInterval mqtt311Expiry) {
    public static final SessionPolicy UNLIMITED = new SessionPolicy(ExpiryInterval.NEVER, ExpiryInterval.NEVER);
}
