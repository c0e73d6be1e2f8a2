package dev.tether.session;

import dev.tether.protocol.DisconnectReasonCode;
import java.time.Instant;
import java.util.Optional;

/** The session rules of MQTT 5.0 and 3.1.1 as pure functions: no I/O, time passed in. */
public final class SessionRules {

    private SessionRules() {
    }

    /** The Session Expiry Interval a CONNECT asks for, before the server's cap. */
    public static ExpiryInterval requestedExpiry(ConnectRequest request, SessionPolicy policy) {
        if (!request.version().isMqtt5()) {
            // 3.1.1 mapping: Clean Session = 1 is interval 0, Clean Session = 0 the configured interval.
            return request.cleanStart() ? ExpiryInterval.ZERO : policy.mqtt311Expiry();
        }
        // Absent means 0 (§3.1.2.11.2).
        return request.requestedExpiry().orElse(ExpiryInterval.ZERO);
    }

    /**
     * The Session Expiry Interval granted to a CONNECT: what it asks for, capped at the configured
     * maximum (which caps the configured 3.1.1 interval too).
     */
    public static ExpiryInterval grantedExpiry(ConnectRequest request, SessionPolicy policy) {
        return requestedExpiry(request, policy).cappedAt(policy.maxExpiry());
    }

    /**
     * Decides Session Present, what survives and the granted expiry for a CONNECT.
     *
     * @param stored the session PostgreSQL holds for this Client Identifier, if any
     */
    public static ConnectDecision onConnect(ConnectRequest request, Optional<StoredSession> stored,
                                            Instant now, SessionPolicy policy) {
        ExpiryInterval requested = requestedExpiry(request, policy);
        ExpiryInterval granted = grantedExpiry(request, policy);
        boolean announce = request.version().isMqtt5() && !granted.equals(requested);
        boolean exists = stored.isPresent();
        boolean alive = stored.map(s -> s.isAliveAt(now)).orElse(false);
        boolean pendingWill = stored.map(StoredSession::hasPendingWill).orElse(false);

        if (request.cleanStart()) {
            // [MQTT-3.1.2-4] discard any existing session; [MQTT-3.2.2-2] Session Present 0.
            // Tether's reading: a client back within the will delay with Clean Start = 1 ends its old
            // session, so the old will is published.
            return new ConnectDecision(false, exists, granted, announce,
                    pendingWill ? ConnectDecision.PendingWillAction.PUBLISH : ConnectDecision.PendingWillAction.NONE);
        }
        if (alive) {
            // [MQTT-3.1.2-5] resume; [MQTT-3.2.2-3] Session Present 1; [MQTT-3.1.3-9] pending will not sent.
            return new ConnectDecision(true, false, granted, announce,
                    pendingWill ? ConnectDecision.PendingWillAction.CANCEL : ConnectDecision.PendingWillAction.NONE);
        }
        // [MQTT-3.1.2-6] no session (or one past its deadline, never resumed): a new one.
        return new ConnectDecision(false, exists, granted, announce,
                pendingWill ? ConnectDecision.PendingWillAction.PUBLISH : ConnectDecision.PendingWillAction.NONE);
    }

    /**
     * Decides what a client's DISCONNECT does to the session (§3.14.2.2.2).
     *
     * @param connectExpiry     the interval in force (granted at CONNECT)
     * @param disconnectExpiry  the Session Expiry Interval property of the DISCONNECT, if present
     * @param reasonCode        the DISCONNECT reason code
     */
    public static DisconnectDecision onDisconnect(ExpiryInterval connectExpiry, Optional<ExpiryInterval> disconnectExpiry,
                                                  int reasonCode, SessionPolicy policy) {
        if (disconnectExpiry.isPresent() && !connectExpiry.isDurable() && disconnectExpiry.get().isDurable()) {
            // 0 at CONNECT, non-zero at DISCONNECT: Protocol Error. The session ends at close and,
            // since this was no valid DISCONNECT, the will is published.
            return new DisconnectDecision(true, ExpiryInterval.ZERO, true);
        }
        ExpiryInterval expiry = disconnectExpiry.map(e -> e.cappedAt(policy.maxExpiry())).orElse(connectExpiry);
        // [MQTT-3.14.4-3] reason 0x00 deletes the will; 0x04 (and any other reason) keeps it.
        boolean publishWill = reasonCode != DisconnectReasonCode.NORMAL_DISCONNECTION.code();
        return new DisconnectDecision(false, expiry, publishWill);
    }

    /**
     * When the will of a connection closed at {@code closedAt} is published: after the Will Delay
     * Interval or at the session's end, whichever comes first [MQTT-3.1.2-8].
     */
    public static Instant willPublishAt(Instant closedAt, long willDelaySeconds, ExpiryInterval sessionExpiry) {
        Instant afterDelay = closedAt.plusSeconds(willDelaySeconds);
        return sessionExpiry.deadlineAfter(closedAt)
                .filter(end -> end.isBefore(afterDelay))
                .orElse(afterDelay);
    }

    /**
     * On takeover, whether the old connection's will is published: yes unless the new CONNECT
     * resumes the session (Clean Start 0) and the will has a delay, which the new connection then
     * cancels [MQTT-3.1.3-9].
     */
    public static boolean publishWillOnTakeover(boolean newCleanStart, long willDelaySeconds) {
        return newCleanStart || willDelaySeconds == 0;
    }
}
