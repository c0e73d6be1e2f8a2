package dev.tether.cluster;

import dev.tether.protocol.PublishedMessage;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletionStage;

/**
 * The other replicas sharing this broker's PostgreSQL, as routing and the MQTT listener see them. With no other
 * replica every call answers at once, and the broker behaves as a single one.
 */
public interface Cluster {

    /**
     * Applies {@code change} on every live replica. The stage completes once each has applied it, or has been fenced
     * (its lease lapsed, so it serves nothing any more): a PUBLISH that reaches any replica afterwards is routed with
     * the change. It fails only when this replica itself has lost its lease.
     */
    CompletionStage<Void> announce(Change change);

    /** Sends {@code change} to every live replica without waiting: for changes nothing is acknowledged on. */
    void tell(Change change);

    /** The replica that holds {@code clientId}'s connection, when it is another one. */
    Optional<UUID> remoteHolderOf(String clientId);

    /**
     * Hands a copy of a message to the replica holding {@code clientId}'s connection.
     *
     * @param messageId the copy's {@code queued_messages} row (already committed), or 0 for one held in memory only
     * @return false when it could not be sent (link down or congested); a stored copy is then found by the holder's
     *         recovery poll, a copy in memory only is lost (QoS 0, or a non-durable session)
     */
    boolean forward(UUID replica, String clientId, PublishedMessage message, int qos, List<Integer> subscriptionIds,
                    long messageId);

    /**
     * Asks {@code replica} to close {@code clientId}'s connection {@code connectionId} there as taken over
     * [MQTT-3.1.4-3]. The stage
     * completes once that connection has settled (its will decided, DISCONNECT 0x8E sent, every write of it committed),
     * or is not there, or {@code replica} has been fenced because it did not answer.
     */
    CompletionStage<Void> takeOver(UUID replica, String clientId, UUID connectionId, boolean newCleanStart);

    /** Whether other replicas are live: then changes are announced before they are acknowledged to clients. */
    boolean hasPeers();
}
