package dev.tether.listener;

import dev.tether.delivery.OutboundWindow;
import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.PublishedMessage;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Messages from Tether to the client of one {@link MqttConnection}: the in-flight window (the client's Receive
 * Maximum), messages waiting for room, the client's Maximum Packet Size and Topic Aliases, the acknowledgements the
 * client sends (PUBACK, PUBREC, PUBCOMP), and the resend when a session resumes. Owned by the connection's event
 * loop, like the connection.
 */
final class OutboundDelivery {

    private record HeldDelivery(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
    }

    private final MqttConnection connection;
    private OutboundWindow window = new OutboundWindow(65535);
    // Small initial capacity: most connections never hold anything, and idle memory counts per connection.
    private final ArrayDeque<HeldDelivery> heldDeliveries = new ArrayDeque<>(1);
    /** Payload bytes of {@link #heldDeliveries}. */
    private long heldBytes;
    /** Client's limits from CONNECT (MQTT 5). */
    private long clientMaxPacketSize = Long.MAX_VALUE;
    private int clientTopicAliasMaximum;
    private final OutboundAliases outboundAliases = new OutboundAliases();

    OutboundDelivery(MqttConnection connection) {
        this.connection = connection;
    }

    /** The client's Receive Maximum from CONNECT: at most this many QoS 1/2 messages in flight. */
    void receiveMaximum(int receiveMaximum) {
        window = new OutboundWindow(receiveMaximum);
    }

    /** The client's Maximum Packet Size from CONNECT ({@code Long.MAX_VALUE}: none). */
    void clientMaxPacketSize(long clientMaxPacketSize) {
        this.clientMaxPacketSize = clientMaxPacketSize;
    }

    /** The client's Topic Alias Maximum from CONNECT; the aliases of any earlier connection are forgotten. */
    void clientTopicAliasMaximum(int clientTopicAliasMaximum) {
        this.clientTopicAliasMaximum = clientTopicAliasMaximum;
        outboundAliases.reset(clientTopicAliasMaximum);
    }

    /**
     * A message for the client while its session opens: sent by {@link #resume} once CONNACK is out. At most
     * max-queued-messages (and max-queued-bytes) are held, like the waiting queue: beyond, a message living in memory
     * only is dropped and
     * counted; a durable session's message stays queued in PostgreSQL and is sent when the client next resumes.
     */
    void holdUntilConnected(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
        OutboundLimits limits = connection.services().outboundLimits();
        if (heldDeliveries.size() >= limits.maxQueuedMessages()
                || heldBytes + message.payloadSize() > limits.maxQueuedBytes()) {
            if (messageId == 0 && qos == 0) {
                limits.droppedForSlowConsumer();
            } else if (messageId == 0) {
                limits.droppedForFullQueue();
            }
            return;
        }
        heldDeliveries.add(new HeldDelivery(message, qos, subscriptionIds, messageId));
        heldBytes += message.payloadSize();
    }

    /** After CONNACK: what the resumed session had in flight or queued, then what arrived while it opened. */
    void resume(List<StoredOutboundMessage> outbound) {
        boolean mqtt5 = connection.mqtt5();
        // [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP = 1) and PUBREL with their Packet Identifiers,
        // then the queued messages, then what arrived meanwhile.
        Instant now = connection.now();
        Set<Long> resumedMessageIds = new HashSet<>();
        for (StoredOutboundMessage s : outbound) {
            resumedMessageIds.add(s.messageId());
            if (s.isReleased()) {
                window.resume(s.packetId(), s.messageId(), s.message(), s.message().qos(), s.subscriptionIdentifiers(), true);
                connection.write(NettyPackets.ack(MqttMessageType.PUBREL, s.packetId(), 0, mqtt5));
            } else if (s.isSent() && s.packetId() > 0) {
                window.resume(s.packetId(), s.messageId(), s.message(), s.message().qos(), s.subscriptionIdentifiers(), false);
                connection.write(NettyPackets.publish(s.message(), s.message().qos(), s.packetId(), true,
                        s.subscriptionIdentifiers(), now, mqtt5));
            } else {
                sendOrHold(s.message(), s.message().qos(), s.subscriptionIdentifiers(), s.messageId());
            }
        }
        while (!heldDeliveries.isEmpty()) {
            HeldDelivery h = heldDeliveries.poll();
            heldBytes -= h.message().payloadSize();
            if (h.messageId() == 0 || !resumedMessageIds.contains(h.messageId())) {
                sendOrHold(h.message(), h.qos(), h.subscriptionIds(), h.messageId());
            }
        }
    }

    /**
     * A stored message that PostgreSQL says is still queued for this session, found by the recovery poll (its
     * forward from another replica was lost): sent unless this connection already holds it.
     */
    void recover(StoredOutboundMessage s) {
        if (!window.holds(s.messageId())) {
            sendOrHold(s.message(), s.message().qos(), s.subscriptionIdentifiers(), s.messageId());
        }
    }

    void sendOrHold(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
        sendOrHold(message, qos, subscriptionIds, messageId, false);
    }

    /** @param admitted the message already waited here: the session limits took it in once, it is not dropped now */
    private void sendOrHold(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId,
                            boolean admitted) {
        BrokerServices services = connection.services();
        Instant now = connection.now();
        if (message.isExpiredAt(now)) {
            // [MQTT-3.3.2-5] expired before delivery started: dropped for this subscriber.
            if (messageId > 0) {
                acknowledged(messageId);
            }
            return;
        }
        if (!services.acl().rules().mayReceive(connection.username(), connection.clientId(), message.topic())) {
            // A broad subscription meets a topic a rule denies this subscriber (mqtt_acl): withheld, like expired.
            services.acl().countWithheld();
            if (messageId > 0) {
                acknowledged(messageId);
            }
            return;
        }
        if (clientLimitsPacketSize()
                && NettyPackets.publishSize(message, qos, subscriptionIds, now, connection.mqtt5()) > clientMaxPacketSize) {
            // Larger than the client's Maximum Packet Size: dropped for this client, never sent [MQTT-3.1.2-25].
            services.oversizeDrops().incrementAndGet();
            if (messageId > 0) {
                acknowledged(messageId);
            }
            return;
        }
        if (qos == 0) {
            if (connection.transport().writeQueueFull()) {
                // A client that does not keep up loses QoS 0 messages rather than Tether buffering them (as Mosquitto).
                services.outboundLimits().droppedForSlowConsumer();
            } else {
                writePublish(message, 0, 0, false, subscriptionIds, now);
            }
            if (messageId > 0) {
                acknowledged(messageId);
            }
            return;
        }
        if (mustWait(message, admitted)) {
            OutboundWindow.Waiting w = new OutboundWindow.Waiting(messageId, message, qos, subscriptionIds);
            if (admitted) {
                window.enqueue(w);
            } else {
                hold(w);
            }
            return;
        }
        OutboundWindow.InFlight f = window.send(messageId, message, qos, subscriptionIds);
        if (messageId > 0 && qos == 2) {
            // QoS 2: the Packet Identifier is committed before the PUBLISH leaves, so that after a crash the
            // message is resent with it (DUP 1) rather than sent again as new [MQTT-4.4.0-1].
            connection.onContext(services.events().publish(sent(messageId, f.packetId())),
                    v -> {
                        if (connection.isSending()) {
                            writePublish(message, qos, f.packetId(), false, subscriptionIds, connection.now());
                        }
                    },
                    connection::stateNotStored);
            return;
        }
        writePublish(message, qos, f.packetId(), false, subscriptionIds, now);
        if (messageId > 0) {
            connection.persist(sent(messageId, f.packetId()));
        }
    }

    /**
     * A QoS 1/2 message waits while the client's Receive Maximum is used up, while its write queue is full, or
     * while a new message would take the connection beyond the session limits (in flight plus waiting).
     */
    private boolean mustWait(PublishedMessage message, boolean admitted) {
        OutboundLimits limits = connection.services().outboundLimits();
        return !window.hasRoom() || connection.transport().writeQueueFull()
                || (!admitted && (window.size() >= limits.maxQueuedMessages()
                        || window.bytes() + message.payloadSize() > limits.maxQueuedBytes()));
    }

    /**
     * Queues a QoS 1/2 message, at most max-queued-messages (and max-queued-bytes) per connection; beyond, the queue
     * overflow policy drops one (or, for bytes, as many as it takes). A drop from a non-durable session is
     * counted; a durable session's message stays queued in PostgreSQL (counted there if the store dropped it) and is sent again when the client resumes the session.
     */
    private void hold(OutboundWindow.Waiting w) {
        OutboundLimits limits = connection.services().outboundLimits();
        for (OutboundWindow.Waiting dropped : window.enqueue(w, limits.maxQueuedMessages(), limits.maxQueuedBytes(),
                limits.dropOldest())) {
            if (dropped.messageId() == 0) {
                limits.droppedForFullQueue();
            }
        }
    }

    /** Sends waiting messages while the client's Receive Maximum leaves room and it keeps up with what is written. */
    void pump() {
        Optional<OutboundWindow.Waiting> w;
        while (connection.isSending() && !connection.transport().writeQueueFull() && (w = window.nextWaiting()).isPresent()) {
            OutboundWindow.Waiting x = w.get();
            sendOrHold(x.message(), x.qos(), x.subscriptionIdentifiers(), x.messageId(), true);
        }
    }

    // ---- acknowledgements from the client -------------------------------------------------------

    void onPubackOrPubcomp(int packetId) {
        window.complete(packetId).ifPresent(f -> {
            if (f.messageId() > 0) {
                acknowledged(f.messageId());
            }
        });
        pump();
    }

    void onPubrec(int packetId, int reasonCode) {
        boolean mqtt5 = connection.mqtt5();
        if (mqtt5 && reasonCode >= 0x80) {
            // The client refused the message: the exchange ends here, no PUBREL [MQTT-4.3.3-4], and the
            // send quota is freed (§4.9).
            onPubackOrPubcomp(packetId);
            return;
        }
        Optional<OutboundWindow.InFlight> f = window.release(packetId);
        if (f.isPresent() && f.get().messageId() > 0) {
            // The release is committed before PUBREL leaves: after a crash the resume sends PUBREL, never the
            // PUBLISH again [MQTT-4.3.3-5].
            connection.onContext(connection.services().events()
                            .publish(new SessionEvent.MessageReleased(connection.clientId(), connection.connectionId(),
                                    f.get().messageId())),
                    v -> connection.write(NettyPackets.ack(MqttMessageType.PUBREL, packetId, 0, mqtt5)),
                    connection::stateNotStored);
            return;
        }
        connection.write(NettyPackets.ack(MqttMessageType.PUBREL, packetId, f.isPresent() || !mqtt5 ? 0 : 0x92, mqtt5));
    }

    // ---- plumbing --------------------------------------------------------------------------------

    /** The message left the client's queue for good (acknowledged or dropped): its row goes. */
    private void acknowledged(long messageId) {
        connection.persist(new SessionEvent.MessageAcknowledged(connection.clientId(), connection.connectionId(),
                messageId));
    }

    private SessionEvent.MessageSent sent(long messageId, int packetId) {
        return new SessionEvent.MessageSent(connection.clientId(), connection.connectionId(), messageId, packetId);
    }

    /** The client sent a Maximum Packet Size (MQTT 5 only; absent means no limit beyond the protocol's). */
    private boolean clientLimitsPacketSize() {
        return clientMaxPacketSize != Long.MAX_VALUE;
    }

    /** Writes a PUBLISH, replacing its topic by an alias once the client allows aliases (§3.3.2.3.4). */
    private void writePublish(PublishedMessage message, int qos, int packetId, boolean dup, List<Integer> subscriptionIds,
                              Instant now) {
        boolean mqtt5 = connection.mqtt5();
        MqttPublishMessage publish = NettyPackets.publish(message, qos, packetId, dup, subscriptionIds, now, mqtt5);
        // An alias adds a property: used only if even the PUBLISH with topic and alias fits the client's
        // Maximum Packet Size [MQTT-3.1.2-24].
        if (mqtt5 && clientTopicAliasMaximum > 0 && (!clientLimitsPacketSize()
                || NettyPackets.publishSize(message, qos, subscriptionIds, now, true, true) <= clientMaxPacketSize)) {
            OutboundAliases.Use use = outboundAliases.aliasFor(message.topic());
            if (use.alias() > 0) {
                publish = NettyPackets.withTopicAlias(publish, use.alias(), use.known());
            }
        }
        connection.write(publish);
    }
}
