package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
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
    /** Payload bytes held: in flight plus waiting. */
    private long bytes;

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
        bytes += message.payloadSize();
        return f;
    }

    /** Records a message resumed from storage with its original Packet Identifier [MQTT-4.4.0-1]. */
    public InFlight resume(int packetId, long messageId, PublishedMessage message, int qos,
                           List<Integer> subscriptionIds, boolean released) {
        InFlight f = new InFlight(packetId, messageId, message, qos, subscriptionIds, released);
        InFlight previous = inFlight.put(packetId, f);
        bytes += message.payloadSize() - (previous == null ? 0 : previous.message().payloadSize());
        return f;
    }

    public void enqueue(Waiting w) {
        waiting.add(w);
        bytes += w.message().payloadSize();
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

    /** Payload bytes held for the client: in flight plus waiting. */
    public long bytes() {
        return bytes;
    }

    /**
     * Queues a message to wait for room while the window holds fewer than {@code limit} messages (in flight plus
     * waiting). A full window drops one message: with {@code dropOldest} the oldest waiting one, which makes room
     * for {@code w}; otherwise, or when nothing waits (a message in flight is never dropped), {@code w} itself.
     *
     * @return the message dropped, if any
     */
    public Optional<Waiting> enqueue(Waiting w, int limit, boolean dropOldest) {
        List<Waiting> dropped = enqueue(w, limit, Long.MAX_VALUE, dropOldest);
        return dropped.isEmpty() ? Optional.empty() : Optional.of(dropped.get(0));
    }

    /**
     * Queues a message to wait for room while the window, with it, holds at most {@code limit} messages and
     * {@code maxBytes} payload bytes (in flight plus waiting). Otherwise: with {@code dropOldest} the oldest waiting
     * messages are dropped until {@code w} fits; without, or when even dropping every waiting one would not make it
     * fit (a message in flight is never dropped), {@code w} itself is dropped.
     *
     * @return the messages dropped, oldest first
     */
    public List<Waiting> enqueue(Waiting w, int limit, long maxBytes, boolean dropOldest) {
        long size = w.message().payloadSize();
        if (fits(size, limit, maxBytes)) {
            enqueue(w);
            return List.of();
        }
        long inFlightBytes = bytes;
        for (Waiting x : waiting) {
            inFlightBytes -= x.message().payloadSize();
        }
        if (!dropOldest || waiting.isEmpty() || inFlight.size() + 1 > limit || inFlightBytes + size > maxBytes) {
            return List.of(w);
        }
        List<Waiting> dropped = new ArrayList<>(1);
        while (!fits(size, limit, maxBytes)) {
            Waiting oldest = waiting.poll();
            bytes -= oldest.message().payloadSize();
            dropped.add(oldest);
        }
        enqueue(w);
        return dropped;
    }

    private boolean fits(long size, int limit, long maxBytes) {
        return size() < limit && bytes + size <= maxBytes;
    }

    public Optional<Waiting> nextWaiting() {
        if (!hasRoom() || waiting.isEmpty()) {
            return Optional.empty();
        }
        Waiting w = waiting.poll();
        bytes -= w.message().payloadSize();
        return Optional.of(w);
    }

    /** PUBACK or PUBCOMP: the message is done. */
    public Optional<InFlight> complete(int packetId) {
        InFlight f = inFlight.remove(packetId);
        if (f != null) {
            bytes -= f.message().payloadSize();
        }
        return Optional.ofNullable(f);
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
