package dev.tether.store;

import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How the reconciler writes one batch: which events, in which order, and which ones need no statement.
 *
 * <p>Message events of many connections arrive interleaved (queued, sent, acknowledged, sent, ...),
 * which would cut the batch into runs of one event each, one statement apiece. Between two events of
 * any other kind, they are grouped by kind in the causal order of any one message: queued, sent,
 * released, acknowledged. Safe because a message id exists only once its {@code MessagesQueued}
 * committed, so a message's sent, released and acknowledged events always come in that order and
 * after its queued batch; and moving an event within its kind keeps the order of that kind.
 * Session-level events (open, close, subscribe, inbound QoS 2, retained) stay where they are and no
 * message event crosses them.
 *
 * <p>A sent or released event whose message is acknowledged later in the same batch is superseded:
 * the acknowledgement deletes the row, so updating it first would change nothing anyone can see.
 * Superseded events commit with the batch, without a statement.
 */
record WriteOrder(List<PendingEvent> toWrite, List<PendingEvent> superseded) {

    static WriteOrder of(List<PendingEvent> batch) {
        Set<Long> acknowledged = new HashSet<>();
        for (PendingEvent p : batch) {
            if (p.event() instanceof SessionEvent.MessageAcknowledged a) {
                acknowledged.add(a.messageId());
            }
        }
        List<PendingEvent> toWrite = new ArrayList<>(batch.size());
        List<PendingEvent> superseded = new ArrayList<>();
        List<PendingEvent> segment = new ArrayList<>();
        for (PendingEvent p : batch) {
            SessionEvent e = p.event();
            if (rank(e) < 0) {
                flush(segment, toWrite);
                toWrite.add(p);
            } else if (isSupersededBy(e, acknowledged)) {
                superseded.add(p);
            } else {
                segment.add(p);
            }
        }
        flush(segment, toWrite);
        return new WriteOrder(toWrite, superseded);
    }

    private static boolean isSupersededBy(SessionEvent e, Set<Long> acknowledged) {
        if (e instanceof SessionEvent.MessageSent s) {
            return acknowledged.contains(s.messageId());
        }
        return e instanceof SessionEvent.MessageReleased r && acknowledged.contains(r.messageId());
    }

    private static void flush(List<PendingEvent> segment, List<PendingEvent> out) {
        // List.sort is stable: events of one kind keep their order.
        segment.sort(Comparator.comparingInt(p -> rank(p.event())));
        out.addAll(segment);
        segment.clear();
    }

    /** Position of a message event's kind in a message's life; -1 for every other event. */
    private static int rank(SessionEvent e) {
        if (e instanceof SessionEvent.MessagesQueued) {
            return 0;
        } else if (e instanceof SessionEvent.MessageSent) {
            return 1;
        } else if (e instanceof SessionEvent.MessageReleased) {
            return 2;
        } else if (e instanceof SessionEvent.MessageAcknowledged) {
            return 3;
        }
        return -1;
    }
}
