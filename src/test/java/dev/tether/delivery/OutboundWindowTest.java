package dev.tether.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.protocol.PublishedMessage;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The bounded waiting queue of {@link OutboundWindow}: in flight plus waiting never exceed the session limit. */
class OutboundWindowTest {

    private static OutboundWindow.Waiting waiting(String payload) {
        PublishedMessage m = new PublishedMessage("t", payload.getBytes(), 1, false, null, null, "publisher");
        return new OutboundWindow.Waiting(0, m, 1, List.of());
    }

    private static String payloadOf(OutboundWindow.Waiting w) {
        return new String(w.message().payload());
    }

    @Test
    void enqueue_whenBelowLimit_thenQueuedAndNothingDropped() {
        OutboundWindow window = new OutboundWindow(1);
        window.send(0, waiting("in flight").message(), 1, List.of());

        assertThat(window.enqueue(waiting("a"), 3, false)).isEmpty();
        assertThat(window.enqueue(waiting("b"), 3, false)).isEmpty();
        assertThat(window.size()).isEqualTo(3);
    }

    @Test
    void enqueue_whenFullAndDropNewest_thenNewMessageDroppedAndQueueKept() {
        OutboundWindow window = new OutboundWindow(1);
        window.send(0, waiting("in flight").message(), 1, List.of());
        window.enqueue(waiting("a"), 2, false);

        Optional<OutboundWindow.Waiting> dropped = window.enqueue(waiting("b"), 2, false);

        assertThat(dropped).map(OutboundWindowTest::payloadOf).contains("b");
        assertThat(window.size()).isEqualTo(2);
    }

    @Test
    void enqueue_whenFullAndDropOldest_thenOldestWaitingDroppedAndNewQueuedLast() {
        OutboundWindow window = new OutboundWindow(1);
        window.send(0, waiting("in flight").message(), 1, List.of());
        window.enqueue(waiting("a"), 3, true);
        window.enqueue(waiting("b"), 3, true);

        Optional<OutboundWindow.Waiting> dropped = window.enqueue(waiting("c"), 3, true);

        assertThat(dropped).map(OutboundWindowTest::payloadOf).contains("a");
        assertThat(window.size()).isEqualTo(3);
        window.complete(1);
        assertThat(window.nextWaiting()).map(OutboundWindowTest::payloadOf).contains("b");
        assertThat(window.nextWaiting()).map(OutboundWindowTest::payloadOf).contains("c");
        assertThat(window.nextWaiting()).isEmpty();
    }

    @Test
    void enqueue_whenFullOfInFlightAndDropOldest_thenNewMessageDropped() {
        // a message in flight has been sent: it is never dropped to make room
        OutboundWindow window = new OutboundWindow(2);
        window.send(0, waiting("x").message(), 1, List.of());
        window.send(0, waiting("y").message(), 1, List.of());

        Optional<OutboundWindow.Waiting> dropped = window.enqueue(waiting("z"), 2, true);

        assertThat(dropped).map(OutboundWindowTest::payloadOf).contains("z");
        assertThat(window.size()).isEqualTo(2);
    }

    @Test
    void enqueue_whenBeyondBytesAndDropOldest_thenAsManyOldestDroppedAsItTakes() {
        // tether.session.max-queued-bytes in memory: payload bytes in flight plus waiting
        OutboundWindow window = new OutboundWindow(1);
        window.send(0, waiting("0123456789").message(), 1, List.of()); // 10 bytes in flight
        assertThat(window.enqueue(waiting("aaaaa"), 100, 25, true)).isEmpty();
        assertThat(window.enqueue(waiting("bbbbb"), 100, 25, true)).isEmpty();
        assertThat(window.bytes()).isEqualTo(20);

        List<OutboundWindow.Waiting> dropped = window.enqueue(waiting("ccccccccccccc"), 100, 25, true);

        assertThat(dropped).map(OutboundWindowTest::payloadOf).containsExactly("aaaaa", "bbbbb");
        assertThat(window.bytes()).isEqualTo(23);
        assertThat(window.enqueue(waiting("dddddddddddddddd"), 100, 25, true)).as("never fits beside the one in flight")
                .map(OutboundWindowTest::payloadOf).containsExactly("dddddddddddddddd");
        window.complete(1);
        assertThat(window.bytes()).isEqualTo(13);
        assertThat(window.nextWaiting()).map(OutboundWindowTest::payloadOf).contains("ccccccccccccc");
        assertThat(window.bytes()).isZero();
    }

    @Test
    void enqueue_whenBeyondBytesAndDropNewest_thenNewDropped() {
        OutboundWindow window = new OutboundWindow(1);
        assertThat(window.enqueue(waiting("aaaaa"), 100, 8, false)).isEmpty();
        assertThat(window.enqueue(waiting("bbbbb"), 100, 8, false)).map(OutboundWindowTest::payloadOf)
                .containsExactly("bbbbb");
        assertThat(window.enqueue(waiting("ccc"), 100, 8, false)).isEmpty();
        assertThat(window.size()).isEqualTo(2);
    }
}
