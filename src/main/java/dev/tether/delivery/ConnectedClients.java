package dev.tether.delivery;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The live connection of each Client Identifier on this broker instance: at most one. */
@ApplicationScoped
public class ConnectedClients {
    private final ConcurrentHashMap<String, ClientConnection> byClientId = new ConcurrentHashMap<>();

    /** Makes {@code connection} the owner of {@code clientId}; returns the previous owner, if any. */
    public Optional<ClientConnection> register(String clientId, ClientConnection connection) {
        return Optional.ofNullable(byClientId.put(clientId, connection));
    }

    /** Removes {@code connection} if it still owns {@code clientId}; false when it was taken over. */
    public boolean unregister(String clientId, ClientConnection connection) {
        return byClientId.remove(clientId, connection);
    }

    /**
     * If {@code connection} still owns {@code clientId}, runs {@code whileOwner} and then frees the Client
     * Identifier, atomically with respect to {@link #register}: a connection registering after this call sees
     * what {@code whileOwner} did (the session's close published first). Returns false when it was taken over.
     */
    public boolean unregisterIfOwner(String clientId, ClientConnection connection, Runnable whileOwner) {
        boolean[] owner = {false};
        byClientId.computeIfPresent(clientId, (id, current) -> {
            if (current != connection) {
                return current;
            }
            owner[0] = true;
            whileOwner.run();
            return null;
        });
        return owner[0];
    }

    public Optional<ClientConnection> get(String clientId) {
        return Optional.ofNullable(byClientId.get(clientId));
    }

    /** The live connections at this moment (a copy). */
    public java.util.List<ClientConnection> all() {
        return java.util.List.copyOf(byClientId.values());
    }

    public int size() {
        return byClientId.size();
    }
}
