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

    public Optional<ClientConnection> get(String clientId) {
        return Optional.ofNullable(byClientId.get(clientId));
    }

    public int size() {
        return byClientId.size();
    }
}
