package dev.tether.events;

import dev.tether.delivery.QueuedMessage;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.session.ConnectRequest;
import dev.tether.session.ExpiryInterval;
import dev.tether.session.Will;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Something that happened to a session and must reach PostgreSQL. Events flow, in order, through
 * {@link SessionEvents} into the store's reconciler, which writes them in batches.
 */
public sealed interface SessionEvent {

    /** The Client Identifier the event concerns, or {@code null} for events that name none. */
    String clientId();

    /**
     * A CONNECT was received: decide and record the session (the reply is a {@code SessionOpened}).
     * {@code connectionId} names the network connection, fresh for every CONNECT: it fences the writes that end it.
     * {@code settledConnection}: a connection on another replica that this one has already taken over (it holds the
     * row no more, though the row may still name it); any other live connection elsewhere makes the opening answer
     * {@link SessionOpened#heldBy}.
     */
    record SessionOpening(ConnectRequest request, Optional<Will> will, UUID instanceId, UUID connectionId, Instant at,
                          Optional<UUID> settledConnection) implements SessionEvent {
        public SessionOpening(ConnectRequest request, Optional<Will> will, UUID instanceId, UUID connectionId,
                              Instant at) {
            this(request, will, instanceId, connectionId, at, Optional.empty());
        }

        public String clientId() {
            return request.clientId();
        }
    }

    /**
     * A connection closed; the session ends now when {@code expiry} is 0, else at {@code closedAt + expiry}.
     * Written only while the session row still names {@code connectionId}: a close never ends a newer connection.
     */
    record SessionClosed(String clientId, UUID instanceId, UUID connectionId, Instant closedAt, ExpiryInterval expiry,
                         Optional<Instant> willPublishAt) implements SessionEvent {
    }

    /** A new connection took the Client Identifier over from a live one (recorded by the new SessionOpening). */
    record SessionTakenOver(String clientId, UUID instanceId, Instant at) implements SessionEvent {
    }

    /**
     * A change of session state by the connection that holds the session, written only while the session row still
     * names that connection ({@code sessions.connection_id = connectionId}): a connection taken over (by one on any
     * replica) changes nothing any more. A refused event fails with {@link HolderFenced}.
     */
    sealed interface HolderEvent extends SessionEvent {
        /** The connection that published the event ({@code MqttConnection.connectionId}). */
        UUID connectionId();
    }

    record Subscribed(String clientId, UUID connectionId, List<Subscription> subscriptions) implements HolderEvent {
        public Subscribed {
            subscriptions = List.copyOf(subscriptions);
        }
    }

    record Unsubscribed(String clientId, UUID connectionId, List<String> topicFilters) implements HolderEvent {
        public Unsubscribed {
            topicFilters = List.copyOf(topicFilters);
        }
    }

    /**
     * QoS 1/2 messages for durable sessions; the reply is the message ids, per copy (0: queue full, -1: no
     * session row, see {@code MessageRouter.QUEUE_FULL} and {@code NO_SESSION}). When the message
     * came as a QoS 2 PUBLISH from a durable session, {@code receipt} records its Packet Identifier in the same
     * transaction: the message is routed exactly when its identifier is known, never one without the other. The
     * receipt is a holder write: when the publisher's connection no longer holds its session, neither the receipt
     * nor the copies are written and the event fails with {@link HolderFenced}. The copies alone are not: any
     * connection, on any replica, may queue a message for any session.
     */
    record MessagesQueued(List<QueuedMessage> messages, Optional<InboundQos2Received> receipt) implements SessionEvent {
        public MessagesQueued {
            messages = List.copyOf(messages);
        }

        public MessagesQueued(List<QueuedMessage> messages) {
            this(messages, Optional.empty());
        }

        public String clientId() {
            return null;
        }
    }

    record MessageSent(String clientId, UUID connectionId, long messageId, int packetId) implements HolderEvent {
    }

    /** QoS 2: PUBREC received, PUBREL sent. */
    record MessageReleased(String clientId, UUID connectionId, long messageId) implements HolderEvent {
    }

    /** PUBACK or PUBCOMP received, or the message was dropped. */
    record MessageAcknowledged(String clientId, UUID connectionId, long messageId) implements HolderEvent {
    }

    /** QoS 2 PUBLISH received from the client, PUBREC about to be sent. */
    record InboundQos2Received(String clientId, UUID connectionId, int packetId) implements HolderEvent {
    }

    /** PUBREL received from the client, PUBCOMP about to be sent. */
    record InboundQos2Released(String clientId, UUID connectionId, int packetId) implements HolderEvent {
    }

    /** A retained message was set (non-empty payload) or cleared (empty payload). */
    record RetainedChanged(PublishedMessage message) implements SessionEvent {
        public String clientId() {
            return null;
        }
    }
}
