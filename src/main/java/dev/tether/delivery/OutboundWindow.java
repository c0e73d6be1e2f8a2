package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One connection's QoS 1/2 messages towards its client: Packet Identifier allocation, the in-flight
 * set bounded by the client's Receive Maximum, and the messages waiting for room. Not thread-safe:
 * owned by the connection's event loop.
 */
public final class OutboundWindow {

    /** A QoS 1/2 message sent and not yet fully acknowledged. */
    public record InFlight(int packetId, long messageId, PublishedMessage message, int qos,
                           List<Integer> subscriptionIdentifiers, boolean released) {
        public InFlight released(boolean r) {
            return new InFlight(packetId, messageId, message, qos, subscriptionIdentifiers, r);
        }
    }

    /** A message waiting for room in the window. */
    public record Waiting(long messageId, PublishedMessage message, int qos, List<Integer> subscriptionIdentifiers) {
    }

    private final Map<Integer, InFlight> inFlight = new LinkedHashMap<>();
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>(1);
    private final int receiveMaximum;
    private int nextPacketId = 1;

    public OutboundWindow(int receiveMaximum) {
        this.receiveMaximum = Math.max(1, receiveMaximum);
    }

    public boolean hasRoom() {
        return inFlight.size() < receiveMaximum;
    }

    /** Records a message as sent with a fresh Packet Identifier, which it returns. */
    public InFlight send(long messageId, PublishedMessage message, int qos, List<Integer> subscriptionIds) {
        int id = nextFreePacketId();
        InFlight f = new InFlight(id, messageId, message, qos, subscriptionIds, false);
        inFlight.put(id, f);
        return f;
    }

    /** Records a message resumed from storage with its original Packet Identifier [MQTT-4.4.0-1]. */
    public InFlight resume(int packetId, long messageId, PublishedMessage message, int qos,
                           List<Integer> subscriptionIds, boolean released) {
        InFlight f = new InFlight(packetId, messageId, message, qos, subscriptionIds, released);
        inFlight.put(packetId, f);
        return f;
    }

    public void enqueue(Waiting w) {
        waiting.add(w);
    }

    /** Whether the stored message {@code messageId} is in flight or waiting here (a scan: for rare recoveries). */
    public boolean holds(long messageId) {
        return inFlight.values().stream().anyMatch(f -> f.messageId() == messageId)
                || waiting.stream().anyMatch(w -> w.messageId() == messageId);
    }

    /** Messages held for the client: in flight plus waiting. */
    public int size() {
        return inFlight.size() + waiting.size();
    }

    /**
     * Queues a message to wait for room while the window holds fewer than {@code limit} messages (in flight plus
     * waiting). A full window drops one message: with {@code dropOldest} the oldest waiting one, which makes room
     * for {@code w}; otherwise, or when nothing waits (a message in flight is never dropped), {@code w} itself.
     *
     * @return the message dropped, if any
     */
    public Optional<Waiting> enqueue(Waiting w, int limit, boolean dropOldest) {
        if (size() < limit) {
            waiting.add(w);
            return Optional.empty();
        }
        if (dropOldest && !waiting.isEmpty()) {
            Waiting oldest = waiting.poll();
            waiting.add(w);
            return Optional.of(oldest);
        }
        return Optional.of(w);
    }

    public Optional<Waiting> nextWaiting() {
        return hasRoom() ? Optional.ofNullable(waiting.poll()) : Optional.empty();
    }

    /** PUBACK or PUBCOMP: the message is done. */
    public Optional<InFlight> complete(int packetId) {
        return Optional.ofNullable(inFlight.remove(packetId));
    }

    /** PUBREC: QoS 2 message received by the client; PUBREL follows. */
    public Optional<InFlight> release(int packetId) {
        InFlight f = inFlight.get(packetId);
        if (f == null || f.qos() != 2) {
            return Optional.empty();
        }
        InFlight r = f.released(true);
        inFlight.put(packetId, r);
        return Optional.of(r);
    }

    private int nextFreePacketId() {
        for (int i = 0; i < 65535; i++) {
            int id = nextPacketId;
            nextPacketId = nextPacketId == 65535 ? 1 : nextPacketId + 1;
            if (!inFlight.containsKey(id)) {
                return id;
            }
        }
        throw new IllegalStateException("no free Packet Identifier");
    }
}
