package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.delivery.QueuedMessage;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.PublishedMessage;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.session.ConnectRequest;
import dev.tether.session.ExpiryInterval;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The order in which one batch is written: {@link WriteOrder#of}. */
class WriteOrderTest {

    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    private static SessionEvent sent(String client, long id) {
        return new SessionEvent.MessageSent(client, id, (int) id);
    }

    private static SessionEvent acked(String client, long id) {
        return new SessionEvent.MessageAcknowledged(client, id);
    }

    private static SessionEvent released(String client, long id) {
        return new SessionEvent.MessageReleased(client, id);
    }

    private static SessionEvent queued(String client) {
        PublishedMessage m = new PublishedMessage("t", new byte[0], 1, false, MessageProperties.NONE, null, null);
        return new SessionEvent.MessagesQueued(List.of(new QueuedMessage(client, m, List.of())));
    }

    private static SessionEvent opening(String client) {
        return new SessionEvent.SessionOpening(new ConnectRequest(ProtocolVersion.MQTT_5, client, true,
                Optional.of(ExpiryInterval.ofSeconds(60))), Optional.empty(), UUID.randomUUID(), NOW);
    }

    private static List<SessionEvent> order(SessionEvent... events) {
        List<PendingEvent> batch = List.of(events).stream()
                .map(e -> new PendingEvent(e, new CompletableFuture<>())).toList();
        return WriteOrder.of(batch).toWrite().stream().map(PendingEvent::event).toList();
    }

    private static List<SessionEvent> superseded(SessionEvent... events) {
        List<PendingEvent> batch = List.of(events).stream()
                .map(e -> new PendingEvent(e, new CompletableFuture<>())).toList();
        return WriteOrder.of(batch).superseded().stream().map(PendingEvent::event).toList();
    }

    @Test
    void of_whenMessageEventsInterleave_thenGroupedByKindInLifeOrder() {
        SessionEvent s1 = sent("a", 1);
        SessionEvent a0 = acked("b", 0);
        SessionEvent s2 = sent("b", 2);
        SessionEvent q = queued("c");
        SessionEvent r3 = released("a", 3);
        SessionEvent a4 = acked("a", 4);
        assertThat(order(s1, a0, s2, q, r3, a4)).containsExactly(q, s1, s2, r3, a0, a4);
    }

    @Test
    void of_whenMessageAcknowledgedInSameBatch_thenItsSentAndReleasedNeedNoStatement() {
        // The acknowledgement deletes the row: the earlier state changes are superseded, not lost.
        SessionEvent s1 = sent("a", 1);
        SessionEvent s2 = sent("a", 2);
        SessionEvent r1 = released("a", 1);
        SessionEvent a1 = acked("a", 1);
        assertThat(order(s1, s2, r1, a1)).containsExactly(s2, a1);
        assertThat(superseded(s1, s2, r1, a1)).containsExactly(s1, r1);
    }

    @Test
    void of_whenSessionEventBetween_thenNoMessageEventCrossesIt() {
        // A clean start discards the queue: a message queued before it must not be written after it.
        SessionEvent a = acked("a", 1);
        SessionEvent q = queued("c");
        SessionEvent open = opening("c");
        SessionEvent s = sent("a", 2);
        SessionEvent q2 = queued("c");
        assertThat(order(a, q, open, s, q2)).containsExactly(q, a, open, q2, s);
    }

    @Test
    void of_whenSameKind_thenArrivalOrderKept() {
        SessionEvent a1 = acked("a", 3);
        SessionEvent a2 = acked("a", 1);
        SessionEvent a3 = acked("b", 2);
        assertThat(order(a1, a2, a3)).containsExactly(a1, a2, a3);
    }
}
