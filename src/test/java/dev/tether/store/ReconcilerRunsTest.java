package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.session.ConnectRequest;
import dev.tether.session.ExpiryInterval;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** How the reconciler splits one batch into statements: {@link Reconciler#runs}. */
class ReconcilerRunsTest {

    private static final UUID INSTANCE = UUID.randomUUID();
    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    private static PendingEvent pending(SessionEvent e) {
        return new PendingEvent(e, new CompletableFuture<>());
    }

    private static SessionEvent opening(String id) {
        return new SessionEvent.SessionOpening(new ConnectRequest(ProtocolVersion.MQTT_5, id, false,
                Optional.of(ExpiryInterval.ofSeconds(60))), Optional.empty(), INSTANCE, UUID.randomUUID(), NOW);
    }

    private static SessionEvent closed(String id) {
        return new SessionEvent.SessionClosed(id, INSTANCE, UUID.randomUUID(), NOW, ExpiryInterval.ofSeconds(60), Optional.empty());
    }

    private static List<List<SessionEvent>> runs(SessionEvent... events) {
        return Reconciler.runs(List.of(events).stream().map(ReconcilerRunsTest::pending).toList());
    }

    @Test
    void runs_whenConsecutiveEventsOfOneKindForDistinctClients_thenOneRun() {
        SessionEvent a = opening("a");
        SessionEvent b = opening("b");
        SessionEvent c = opening("c");
        assertThat(runs(a, b, c)).containsExactly(List.of(a, b, c));
    }

    @Test
    void runs_whenKindChanges_thenNewRunAndOrderKept() {
        SessionEvent a = opening("a");
        SessionEvent b = opening("b");
        SessionEvent x = closed("x");
        SessionEvent c = opening("c");
        assertThat(runs(a, b, x, c)).containsExactly(List.of(a, b), List.of(x), List.of(c));
    }

    @Test
    void runs_whenSameClientOpensTwiceInOneBatch_thenSecondInLaterRun() {
        // [MQTT-3.1.4-3] a takeover's second CONNECT must see the first one's row: per-client order is kept.
        SessionEvent a1 = opening("a");
        SessionEvent b = opening("b");
        SessionEvent a2 = opening("a");
        assertThat(runs(a1, b, a2)).containsExactly(List.of(a1, b), List.of(a2));
    }

    @Test
    void runs_whenSameClientAcknowledgesTwice_thenOneRun() {
        SessionEvent m1 = new SessionEvent.MessageAcknowledged("a", UUID.randomUUID(), 1);
        SessionEvent m2 = new SessionEvent.MessageAcknowledged("a", UUID.randomUUID(), 2);
        assertThat(runs(m1, m2)).containsExactly(List.of(m1, m2));
    }

    @Test
    void runs_whenEmpty_thenNoRuns() {
        assertThat(Reconciler.runs(List.of())).isEmpty();
    }
}
