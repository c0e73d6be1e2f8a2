package dev.tether.cluster.mesh;

import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which replica holds each client's connection, as far as this replica knows, with the epoch of that connection
 * ({@code sessions.epoch}). A change older than the epoch known for its client is stale (it comes from a connection
 * that has since been taken over) and is ignored. Thread-safe: updated from links and connections, read by routing.
 */
final class RemoteHolders {

    /** The newest connection known for a client: {@code instance} is null once it has ended. */
    private record Known(UUID instance, long epoch) {
    }

    private final UUID self;
    private final ConcurrentHashMap<String, Known> byClient = new ConcurrentHashMap<>();

    RemoteHolders(UUID self) {
        this.self = self;
    }

    /** Whether a change of {@code clientId} made by the connection of {@code epoch} is current. */
    boolean isCurrent(String clientId, long epoch) {
        Known k = byClient.get(clientId);
        return k == null || epoch >= k.epoch();
    }

    /** The connection of {@code epoch} on {@code instance} holds the client, unless a newer one is known. */
    void hold(String clientId, UUID instance, long epoch) {
        byClient.compute(clientId, (id, k) -> k == null || epoch >= k.epoch() ? new Known(instance, epoch) : k);
    }

    /** The connection of {@code epoch} ended; true when it was the newest known (the release is current). */
    boolean release(String clientId, long epoch) {
        boolean[] current = {false};
        byClient.compute(clientId, (id, k) -> {
            if (k == null || epoch >= k.epoch()) {
                current[0] = true;
                return new Known(null, epoch);
            }
            return k;
        });
        return current[0];
    }

    /** The session is gone altogether. */
    void forget(String clientId) {
        byClient.remove(clientId);
    }

    /** Every connection that {@code instance} held has ended with it (the replica stopped or died). */
    void dropInstance(UUID instance) {
        byClient.replaceAll((id, k) -> instance.equals(k.instance()) ? new Known(null, k.epoch()) : k);
    }

    /** The other replica holding {@code clientId}'s connection, if any. */
    Optional<UUID> remoteHolderOf(String clientId) {
        Known k = byClient.get(clientId);
        return k == null || k.instance() == null || self.equals(k.instance()) ? Optional.empty()
                : Optional.of(k.instance());
    }

    /** Clients whose connection another replica holds. */
    long remoteCount() {
        return byClient.values().stream().filter(k -> k.instance() != null && !self.equals(k.instance())).count();
    }
}
