package dev.tether.session;

/**
 * The session layer's answer to a CONNECT.
 *
 * @param sessionPresent   CONNACK's Session Present flag
 * @param discardExisting  the stored session (if any) is removed and a new one started
 * @param grantedExpiry    the Session Expiry Interval in force for the new connection
 * @param announceExpiry   CONNACK must carry {@code grantedExpiry} (the server changed the client's value)
 * @param pendingWill      what happens to a will the previous connection left pending
 */
public record ConnectDecision(
        boolean sessionPresent,
        boolean discardExisting,
        ExpiryInterval grantedExpiry,
        boolean announceExpiry,
        PendingWillAction pendingWill) {

    /** What to do with the Will Message of a previous connection that is still waiting for its delay. */
    public enum PendingWillAction {
        NONE,
        /** The old session ends now, so its will is due [MQTT-3.1.2-8]. */
        PUBLISH,
        /** The client came back within the Will Delay Interval [MQTT-3.1.3-9]. */
        CANCEL
    }
}
