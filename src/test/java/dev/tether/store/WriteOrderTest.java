package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.delivery.QueuedMessage;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.protocol.PublishedMessage;
import dev.tether.session.ConnectRequest;
import dev.tether.session.ExpiryInterval;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The order in which one batch is written: {@link WriteOrder#of}. */
class WriteOrderTest {

    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
    private static final UUID INSTANCE = UUID.randomUUID();
    /** The connection of every message event here, unless a test says otherwise. */
    private static final UUID CONNECTION = UUID.randomUUID();

    private static SessionEvent sent(String client, long id) {
        return new SessionEvent.MessageSent(client, CONNECTION, id, (int) id);
    }

    private static SessionEvent acked(String client, long id) {
        return new SessionEvent.MessageAcknowledged(client, CONNECTION, id);
    }

    private static SessionEvent released(String client, long id) {
        return new SessionEvent.MessageReleased(client, CONNECTION, id);
    }

    private static SessionEvent queued(String... clients) {
        PublishedMessage m = new PublishedMessage("t", new byte[0], 1, false, MessageProperties.NONE, null, null);
        return new SessionEvent.MessagesQueued(List.of(clients).stream()
                .map(c -> new QueuedMessage(c, m, List.of())).toList());
    }

    private static SessionEvent opening(String client) {
        return new SessionEvent.SessionOpening(new ConnectRequest(ProtocolVersion.MQTT_5, client, false,
                Optional.of(ExpiryInterval.ofSeconds(60))), Optional.empty(), INSTANCE, UUID.randomUUID(), NOW);
    }

    private static SessionEvent closed(String client) {
        return new SessionEvent.SessionClosed(client, INSTANCE, UUID.randomUUID(), NOW, ExpiryInterval.ofSeconds(60), Optional.empty());
    }

    private static List<PendingEvent> batch(List<SessionEvent> events) {
        return events.stream().map(e -> new PendingEvent(e, new CompletableFuture<>())).toList();
    }

    private static List<SessionEvent> order(SessionEvent... events) {
        return WriteOrder.of(batch(List.of(events))).toWrite().stream().map(PendingEvent::event).toList();
    }

    private static List<SessionEvent> superseded(SessionEvent... events) {
        return WriteOrder.of(batch(List.of(events))).superseded().stream().map(PendingEvent::event).toList();
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
    void of_whenConnectsAndDisconnectsOfDifferentClientsInterleave_thenOneRunPerKind() {
        SessionEvent c1 = closed("a");
        SessionEvent o1 = opening("x");
        SessionEvent c2 = closed("b");
        SessionEvent o2 = opening("y");
        List<SessionEvent> ordered = order(c1, o1, c2, o2);
        assertThat(ordered).containsExactly(o1, o2, c1, c2);
        assertThat(Reconciler.runs(batch(ordered))).hasSize(2);
    }

    @Test
    void of_whenClientReconnectsAfterAcknowledging_thenAckWrittenBeforeTheResumingConnectReadsTheQueue() {
        // [MQTT-4.4.0-1] the resuming CONNECT must see the queue as the old connection left it.
        SessionEvent s = sent("a", 1);
        SessionEvent a = acked("a", 2);
        SessionEvent close = closed("a");
        SessionEvent open = opening("a");
        SessionEvent other = opening("b");
        assertThat(order(s, a, close, open, other)).containsExactly(other, s, a, close, open);
    }

    @Test
    void of_whenMessageQueuedBeforeItsSubscriberResumes_thenQueuedFirst() {
        // The resumed session loads its queue from PostgreSQL: a message queued earlier must be in it.
        SessionEvent q = queued("a", "b");
        SessionEvent open = opening("a");
        SessionEvent close = closed("c");
        assertThat(order(q, open, close)).containsExactly(close, q, open);
    }

    @Test
    void of_whenQueuedMessageCarriesPublishersQos2Receipt_thenItStaysBetweenThePublishersSessionEvents() {
        // The publisher's inbound QoS 2 Packet Identifier is written with the message: after the publisher's
        // CONNECT that preceded it, before its close that followed.
        PublishedMessage m = new PublishedMessage("t", new byte[0], 2, false, MessageProperties.NONE, null, "p");
        SessionEvent open = opening("p");
        SessionEvent q = new SessionEvent.MessagesQueued(List.of(new QueuedMessage("s", m, List.of())),
                Optional.of(new SessionEvent.InboundQos2Received("p", CONNECTION, 7)));
        SessionEvent close = closed("p");
        SessionEvent other = closed("x");
        assertThat(order(open, q, close, other)).containsExactly(open, other, q, close);
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
    void of_whenMessageAcknowledgedInSameBatch_thenSupersededEventsShareTheAcknowledgementsOutcome() {
        List<PendingEvent> batch = batch(List.of(sent("a", 1), released("a", 1), acked("a", 1)));
        WriteOrder w = WriteOrder.of(batch);
        assertThat(w.supersededBy()).containsEntry(batch.get(0), batch.get(2)).containsEntry(batch.get(1), batch.get(2));
    }

    @Test
    void of_whenAcknowledgedByAnotherConnection_thenSentStillWritten() {
        // Each connection's write is fenced on its own connection: one cannot stand for the other.
        SessionEvent s1 = sent("a", 1);
        SessionEvent a1 = new SessionEvent.MessageAcknowledged("a", UUID.randomUUID(), 1);
        assertThat(order(s1, a1)).containsExactly(s1, a1);
        assertThat(superseded(s1, a1)).isEmpty();
    }

    @Test
    void of_whenTheClientReconnectsBetweenSentAndAcknowledged_thenSentStillWritten() {
        SessionEvent s1 = sent("a", 1);
        SessionEvent open = opening("a");
        SessionEvent a1 = acked("a", 1);
        assertThat(order(s1, open, a1)).containsExactly(s1, open, a1);
        assertThat(superseded(s1, open, a1)).isEmpty();
    }

    @Test
    void of_whenRandomBatches_thenEveryOrderBetweenAClientsSessionEventsAndItsOtherEventsKept() {
        Random random = new Random(42);
        String[] clients = {"a", "b", "c", "d"};
        for (int round = 0; round < 2_000; round++) {
            List<SessionEvent> events = new ArrayList<>();
            long nextMessage = 1;
            for (int i = 0; i < 30; i++) {
                String c = clients[random.nextInt(clients.length)];
                switch (random.nextInt(6)) {
                    case 0 -> events.add(opening(c));
                    case 1 -> events.add(closed(c));
                    case 2 -> events.add(queued(c, clients[random.nextInt(clients.length)]));
                    case 3 -> events.add(sent(c, nextMessage++));
                    case 4 -> events.add(acked(c, random.nextInt((int) nextMessage) + 1));
                    default -> events.add(new SessionEvent.Subscribed(c, CONNECTION, List.of()));
                }
            }
            WriteOrder w = WriteOrder.of(batch(events));
            List<SessionEvent> written = w.toWrite().stream().map(PendingEvent::event).toList();
            assertThat(written.size() + w.superseded().size()).isEqualTo(events.size());
            // Records with equal fields are equal: find positions by identity.
            java.util.Map<SessionEvent, Integer> position = new java.util.IdentityHashMap<>();
            for (int k = 0; k < written.size(); k++) {
                position.put(written.get(k), k);
            }
            for (int i = 0; i < events.size(); i++) {
                for (int j = i + 1; j < events.size(); j++) {
                    SessionEvent x = events.get(i);
                    SessionEvent y = events.get(j);
                    if (mustKeepOrder(x, y) && position.containsKey(x) && position.containsKey(y)) {
                        assertThat(position.get(x)).as("%s before %s in %s", x, y, events)
                                .isLessThan(position.get(y));
                    }
                }
            }
        }
    }

    /** Pairs whose order changes the result: anything of one client with a session event of it. */
    private static boolean mustKeepOrder(SessionEvent x, SessionEvent y) {
        boolean xSession = !(x instanceof SessionEvent.MessageSent || x instanceof SessionEvent.MessageAcknowledged
                || x instanceof SessionEvent.MessagesQueued);
        boolean ySession = !(y instanceof SessionEvent.MessageSent || y instanceof SessionEvent.MessageAcknowledged
                || y instanceof SessionEvent.MessagesQueued);
        if (!xSession && !ySession) {
            return false;
        }
        return !java.util.Collections.disjoint(clientsOf(x), clientsOf(y));
    }

    private static List<String> clientsOf(SessionEvent e) {
        if (e instanceof SessionEvent.MessagesQueued q) {
            return q.messages().stream().map(QueuedMessage::clientId).toList();
        }
        return List.of(e.clientId());
    }
}
