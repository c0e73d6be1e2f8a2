package dev.tether.cluster;

import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A change of what every replica must know to route a message: subscriptions, which replica holds a client's
 * connection, whether a session is durable, retained messages. The replica where it happens announces it to every
 * other live replica ({@link Cluster#announce}).
 *
 * <p>Client-scoped changes carry the {@code epoch} of the connection that made them ({@code sessions.epoch}, new for
 * every opening): a replica ignores a change older than the holder it already knows, so a late change of a taken-over
 * connection never undoes what its successor announced.
 */
public sealed interface Change {

    /** Subscriptions added (or replaced) for a session. */
    record Subscribed(String clientId, long epoch, boolean durable, List<Subscription> subscriptions) implements Change {
        public Subscribed {
            Objects.requireNonNull(clientId);
            subscriptions = List.copyOf(subscriptions);
        }
    }

    /** Subscriptions removed from a session. */
    record Unsubscribed(String clientId, long epoch, List<String> topicFilters) implements Change {
        public Unsubscribed {
            Objects.requireNonNull(clientId);
            topicFilters = List.copyOf(topicFilters);
        }
    }

    /**
     * A connection opened the session on {@code instanceId}; {@code dropSubscriptions} when the CONNECT started a new
     * session (its old subscriptions are gone).
     */
    record HolderChanged(String clientId, UUID instanceId, long epoch, boolean durable, boolean dropSubscriptions)
            implements Change {
        public HolderChanged {
            Objects.requireNonNull(clientId);
            Objects.requireNonNull(instanceId);
        }
    }

    /** The connection of epoch {@code epoch} ended; a non-durable session ends with it. */
    record Released(String clientId, long epoch, boolean durable) implements Change {
        public Released {
            Objects.requireNonNull(clientId);
        }
    }

    /** Sessions that no longer exist (expired, or deleted): their subscriptions go. */
    record SessionsRemoved(List<String> clientIds) implements Change {
        public SessionsRemoved {
            clientIds = List.copyOf(clientIds);
        }
    }

    /** A retained message was set (non-empty payload) or cleared (empty payload). */
    record RetainedSet(PublishedMessage message) implements Change {
        public RetainedSet {
            Objects.requireNonNull(message);
        }
    }
}
