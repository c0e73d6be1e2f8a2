package dev.tether.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.protocol.ProtocolVersion;
import dev.tether.session.ConnectDecision.PendingWillAction;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The pure session rules, with a fixed clock. */
class SessionRulesTest {

    private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
    private static final SessionPolicy POLICY = SessionPolicy.UNLIMITED;

    private static ConnectRequest v5(boolean cleanStart, Long expiry) {
        return new ConnectRequest(ProtocolVersion.MQTT_5, "c", cleanStart,
                Optional.ofNullable(expiry).map(ExpiryInterval::ofSeconds));
    }

    private static StoredSession offline(Instant expiresAt, Instant willAt) {
        return new StoredSession("c", false, Optional.ofNullable(expiresAt), Optional.ofNullable(willAt));
    }

    @Test
    void onConnect_whenCleanStartAndSessionExists_thenDiscardedAndNotPresent() {
        // [MQTT-3.1.2-4] [MQTT-3.2.2-2]
        ConnectDecision d = SessionRules.onConnect(v5(true, 60L), Optional.of(offline(NOW.plusSeconds(5), null)), NOW, POLICY);
        assertThat(d.sessionPresent()).isFalse();
        assertThat(d.discardExisting()).isTrue();
    }

    @Test
    void onConnect_whenNoCleanStartAndLiveSession_thenPresent() {
        // [MQTT-3.1.2-5] [MQTT-3.2.2-3]
        ConnectDecision d = SessionRules.onConnect(v5(false, 60L), Optional.of(offline(NOW.plusSeconds(5), null)), NOW, POLICY);
        assertThat(d.sessionPresent()).isTrue();
        assertThat(d.discardExisting()).isFalse();
    }

    @Test
    void onConnect_whenNoCleanStartAndNoSession_thenNewAndNotPresent() {
        // [MQTT-3.1.2-6]
        ConnectDecision d = SessionRules.onConnect(v5(false, 60L), Optional.empty(), NOW, POLICY);
        assertThat(d.sessionPresent()).isFalse();
        assertThat(d.discardExisting()).isFalse();
    }

    @Test
    void onConnect_whenSessionPastDeadline_thenNeverResumed() {
        ConnectDecision d = SessionRules.onConnect(v5(false, 60L), Optional.of(offline(NOW.minusMillis(1), null)), NOW, POLICY);
        assertThat(d.sessionPresent()).isFalse();
        assertThat(d.discardExisting()).isTrue();
    }

    @Test
    void onConnect_whenDeadlineExactlyNow_thenExpired() {
        ConnectDecision d = SessionRules.onConnect(v5(false, 60L), Optional.of(offline(NOW, null)), NOW, POLICY);
        assertThat(d.sessionPresent()).isFalse();
    }

    @Test
    void onConnect_whenReturningWithinWillDelay_thenPendingWillCancelled() {
        // [MQTT-3.1.3-9]
        ConnectDecision d = SessionRules.onConnect(v5(false, 60L),
                Optional.of(offline(NOW.plusSeconds(50), NOW.plusSeconds(3))), NOW, POLICY);
        assertThat(d.pendingWill()).isEqualTo(PendingWillAction.CANCEL);
    }

    @Test
    void onConnect_whenReturningWithCleanStartWithinWillDelay_thenOldWillPublished() {
        // Tether's reading: Clean Start 1 ends the old session, so its will is due.
        ConnectDecision d = SessionRules.onConnect(v5(true, 60L),
                Optional.of(offline(NOW.plusSeconds(50), NOW.plusSeconds(3))), NOW, POLICY);
        assertThat(d.pendingWill()).isEqualTo(PendingWillAction.PUBLISH);
    }

    @Test
    void onConnect_whenExpiryAbove_cap_thenCappedAndAnnounced() {
        SessionPolicy capped = new SessionPolicy(ExpiryInterval.ofSeconds(100), ExpiryInterval.NEVER);
        ConnectDecision d = SessionRules.onConnect(v5(true, 3600L), Optional.empty(), NOW, capped);
        assertThat(d.grantedExpiry().seconds()).isEqualTo(100);
        assertThat(d.announceExpiry()).isTrue();
        ConnectDecision below = SessionRules.onConnect(v5(true, 50L), Optional.empty(), NOW, capped);
        assertThat(below.grantedExpiry().seconds()).isEqualTo(50);
        assertThat(below.announceExpiry()).isFalse();
    }

    @Test
    void requestedExpiry_whenAbsent_thenZero() {
        assertThat(SessionRules.requestedExpiry(v5(true, null), POLICY)).isEqualTo(ExpiryInterval.ZERO);
    }

    @Test
    void requestedExpiry_whenMqtt311_thenCleanSessionMapsToZeroOrConfigured() {
        SessionPolicy p = new SessionPolicy(ExpiryInterval.NEVER, ExpiryInterval.ofSeconds(7200));
        ConnectRequest clean = new ConnectRequest(ProtocolVersion.MQTT_3_1_1, "c", true, Optional.empty());
        ConnectRequest persistent = new ConnectRequest(ProtocolVersion.MQTT_3_1_1, "c", false, Optional.empty());
        assertThat(SessionRules.requestedExpiry(clean, p)).isEqualTo(ExpiryInterval.ZERO);
        assertThat(SessionRules.requestedExpiry(persistent, p).seconds()).isEqualTo(7200);
        assertThat(SessionRules.requestedExpiry(persistent, POLICY).isNever()).isTrue();
    }

    @Test
    void onDisconnect_whenZeroAtConnectAndNonZeroAtDisconnect_thenProtocolErrorAndWillPublished() {
        DisconnectDecision d = SessionRules.onDisconnect(ExpiryInterval.ZERO, Optional.of(ExpiryInterval.ofSeconds(60)), 0, POLICY);
        assertThat(d.protocolError()).isTrue();
        assertThat(d.expiry()).isEqualTo(ExpiryInterval.ZERO);
        assertThat(d.publishWill()).isTrue();
    }

    @Test
    void onDisconnect_whenIntervalGiven_thenReplacesConnectValue() {
        DisconnectDecision d = SessionRules.onDisconnect(ExpiryInterval.ofSeconds(60), Optional.of(ExpiryInterval.ZERO), 0, POLICY);
        assertThat(d.expiry()).isEqualTo(ExpiryInterval.ZERO);
        assertThat(d.protocolError()).isFalse();
        DisconnectDecision absent = SessionRules.onDisconnect(ExpiryInterval.ofSeconds(60), Optional.empty(), 0, POLICY);
        assertThat(absent.expiry().seconds()).isEqualTo(60);
    }

    @Test
    void onDisconnect_whenReasonZero_thenWillDeleted_whenReasonFour_thenPublished() {
        // [MQTT-3.14.4-3]
        assertThat(SessionRules.onDisconnect(ExpiryInterval.ZERO, Optional.empty(), 0x00, POLICY).publishWill()).isFalse();
        assertThat(SessionRules.onDisconnect(ExpiryInterval.ZERO, Optional.empty(), 0x04, POLICY).publishWill()).isTrue();
    }

    @Test
    void willPublishAt_whenSessionEndsBeforeDelay_thenAtSessionEnd() {
        // [MQTT-3.1.2-8] the earlier of Will Delay Interval and session end
        assertThat(SessionRules.willPublishAt(NOW, 10, ExpiryInterval.ofSeconds(2))).isEqualTo(NOW.plusSeconds(2));
        assertThat(SessionRules.willPublishAt(NOW, 2, ExpiryInterval.ofSeconds(10))).isEqualTo(NOW.plusSeconds(2));
        assertThat(SessionRules.willPublishAt(NOW, 5, ExpiryInterval.ZERO)).isEqualTo(NOW);
        assertThat(SessionRules.willPublishAt(NOW, 5, ExpiryInterval.NEVER)).isEqualTo(NOW.plusSeconds(5));
    }

    @Test
    void publishWillOnTakeover_whenResumedWithDelay_thenNotPublished() {
        assertThat(SessionRules.publishWillOnTakeover(false, 5)).isFalse();
        assertThat(SessionRules.publishWillOnTakeover(false, 0)).isTrue();
        assertThat(SessionRules.publishWillOnTakeover(true, 5)).isTrue();
    }

    @Test
    void deadlineAfter_whenNever_thenNone() {
        assertThat(ExpiryInterval.NEVER.deadlineAfter(NOW)).isEmpty();
        assertThat(ExpiryInterval.ofSeconds(3).deadlineAfter(NOW)).contains(NOW.plusSeconds(3));
    }
}
