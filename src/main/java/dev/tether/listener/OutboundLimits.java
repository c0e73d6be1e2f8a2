package dev.tether.listener;

import dev.tether.config.SessionConfig;
import dev.tether.config.SessionConfig.QueueOverflowPolicy;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a connection keeps in memory for a client that does not keep up, and what it dropped. Shared by every
 * connection: the counters are thread-safe.
 */
final class OutboundLimits {

    private final int maxQueuedMessages;
    private final long maxQueuedBytes;
    private final boolean dropOldest;
    private final LongAdder slowConsumerDrops = new LongAdder();
    private final LongAdder queueFullDrops = new LongAdder();

    OutboundLimits(int maxQueuedMessages, long maxQueuedBytes, QueueOverflowPolicy policy) {
        this.maxQueuedMessages = maxQueuedMessages;
        this.maxQueuedBytes = maxQueuedBytes;
        this.dropOldest = policy == QueueOverflowPolicy.DROP_OLDEST;
    }

    static OutboundLimits of(SessionConfig session) {
        return new OutboundLimits(session.maxQueuedMessages(), session.maxQueuedBytes(), session.queueOverflowPolicy());
    }

    /** Most QoS 1/2 messages one connection holds (in flight plus waiting): the session limit. */
    int maxQueuedMessages() {
        return maxQueuedMessages;
    }

    /** Most payload bytes of QoS 1/2 messages one connection holds (in flight plus waiting): the session limit. */
    long maxQueuedBytes() {
        return maxQueuedBytes;
    }

    /** The overflow policy: drop the oldest waiting message rather than the new one. */
    boolean dropOldest() {
        return dropOldest;
    }

    /** A QoS 0 message was not sent because the client's write queue was full. */
    void droppedForSlowConsumer() {
        slowConsumerDrops.increment();
    }

    /** A QoS 1/2 message of a non-durable session was dropped because the session already held the limit. */
    void droppedForFullQueue() {
        queueFullDrops.increment();
    }

    long slowConsumerDrops() {
        return slowConsumerDrops.sum();
    }

    long queueFullDrops() {
        return queueFullDrops.sum();
    }
}
