package dev.tether.store;

import dev.tether.delivery.QueuedMessage;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * How the reconciler writes one batch: which events, in which order, and which ones need no statement.
 *
 * <p>Events of many connections arrive interleaved (open, close, open, sent, acknowledged, ...); written
 * in arrival order they cut a batch into runs of one or two events, one statement apiece. Instead the
 * batch is reordered so that events of one kind sit together, keeping every order that matters:
 * <ul>
 *   <li>each client's session events (open, close, subscribe, unsubscribe, inbound QoS 2, takeover)
 *       keep their order, and each client's message events stay between the same two session events
 *       of that client (a resuming CONNECT must read the queue as the old connection left it);</li>
 *   <li>a {@code MessagesQueued} stays between the same session events of each client it queues for, and of
 *       the publisher whose QoS 2 Packet Identifier it records;</li>
 *   <li>for one message, queued, sent, released and acknowledged come in that order (a message id exists
 *       only once its {@code MessagesQueued} committed, so its later events come in later batches, or in
 *       this causal order);</li>
 *   <li>events of different clients otherwise touch different rows and commute; an event of no single
 *       client (a retained message) is a barrier no event crosses.</li>
 * </ul>
 * Technically: each event gets a level, per client non-decreasing, raised by each session event of a
 * client already seen; the batch is sorted by (level, kind, arrival), a stable order.
 *
 * <p>A sent or released event whose message is acknowledged later at the same level (no session event
 * of that client between them, and published by the same connection) is superseded: the acknowledgement deletes the
 * row, so updating it first would change nothing anyone can see. Superseded events commit with the batch, without a
 * statement, and share the outcome of the acknowledgement that superseded them: both are refused when the session
 * no longer names their connection ({@link SessionWriter#FENCED}).
 */
record WriteOrder(List<PendingEvent> toWrite, Map<PendingEvent, PendingEvent> supersededBy) {

    /** The superseded events, in arrival order within their segment. */
    List<PendingEvent> superseded() {
        return List.copyOf(supersededBy.keySet());
    }

    static WriteOrder of(List<PendingEvent> batch) {
        List<PendingEvent> toWrite = new ArrayList<>(batch.size());
        Map<PendingEvent, PendingEvent> superseded = new LinkedHashMap<>();
        List<Leveled> segment = new ArrayList<>();
        Map<String, Integer> levels = new HashMap<>();
        for (PendingEvent p : batch) {
            SessionEvent e = p.event();
            int rank = rank(e);
            if (rank < 0) {
                flush(segment, toWrite, superseded);
                levels.clear();
                toWrite.add(p);
                continue;
            }
            int level;
            if (e instanceof SessionEvent.MessagesQueued q) {
                Set<String> clients = new HashSet<>();
                for (QueuedMessage m : q.messages()) {
                    clients.add(m.clientId());
                }
                q.receipt().ifPresent(r -> clients.add(r.clientId())); // the publisher's inbound QoS 2 state
                level = 0;
                for (String c : clients) {
                    level = Math.max(level, levels.getOrDefault(c, 0));
                }
                for (String c : clients) {
                    levels.put(c, level);
                }
            } else if (rank < MESSAGE_RANK) {
                Integer previous = levels.get(e.clientId());
                level = previous == null ? 0 : previous + 1;
                levels.put(e.clientId(), level);
            } else {
                level = levels.computeIfAbsent(e.clientId(), c -> 0);
            }
            segment.add(new Leveled(p, level, rank, segment.size()));
        }
        flush(segment, toWrite, superseded);
        return new WriteOrder(toWrite, superseded);
    }

    private record Leveled(PendingEvent pending, int level, int rank, int arrival) {
    }

    private record MessageAtLevel(long messageId, int level, UUID connectionId) {
    }

    private static void flush(List<Leveled> segment, List<PendingEvent> toWrite,
                              Map<PendingEvent, PendingEvent> superseded) {
        Map<MessageAtLevel, PendingEvent> acknowledged = new HashMap<>();
        for (Leveled l : segment) {
            if (l.pending().event() instanceof SessionEvent.MessageAcknowledged a) {
                acknowledged.put(new MessageAtLevel(a.messageId(), l.level(), a.connectionId()), l.pending());
            }
        }
        segment.sort(Comparator.comparingInt(Leveled::level).thenComparingInt(Leveled::rank)
                .thenComparingInt(Leveled::arrival));
        for (Leveled l : segment) {
            PendingEvent by = updatedMessage(l.pending().event(), l.level()).map(acknowledged::get).orElse(null);
            if (by != null) {
                superseded.put(l.pending(), by);
            } else {
                toWrite.add(l.pending());
            }
        }
        segment.clear();
    }

    /** The message a sent or released event updates, at its level and by its connection; empty for other events. */
    private static Optional<MessageAtLevel> updatedMessage(SessionEvent e, int level) {
        if (e instanceof SessionEvent.MessageSent s) {
            return Optional.of(new MessageAtLevel(s.messageId(), level, s.connectionId()));
        }
        if (e instanceof SessionEvent.MessageReleased r) {
            return Optional.of(new MessageAtLevel(r.messageId(), level, r.connectionId()));
        }
        return Optional.empty();
    }

    private static final int MESSAGE_RANK = 10;

    /**
     * Sort position of an event's kind within a level: a client's session event before the message
     * events that followed it; message events in a message's life order. -1: a barrier.
     */
    private static int rank(SessionEvent e) {
        if (e instanceof SessionEvent.SessionOpening) {
            return 0;
        } else if (e instanceof SessionEvent.SessionTakenOver) {
            return 1;
        } else if (e instanceof SessionEvent.Subscribed) {
            return 2;
        } else if (e instanceof SessionEvent.Unsubscribed) {
            return 3;
        } else if (e instanceof SessionEvent.InboundQos2Received) {
            return 4;
        } else if (e instanceof SessionEvent.InboundQos2Released) {
            return 5;
        } else if (e instanceof SessionEvent.SessionClosed) {
            return 6;
        } else if (e instanceof SessionEvent.MessagesQueued) {
            return MESSAGE_RANK;
        } else if (e instanceof SessionEvent.MessageSent) {
            return MESSAGE_RANK + 1;
        } else if (e instanceof SessionEvent.MessageReleased) {
            return MESSAGE_RANK + 2;
        } else if (e instanceof SessionEvent.MessageAcknowledged) {
            return MESSAGE_RANK + 3;
        }
        return -1;
    }
}
