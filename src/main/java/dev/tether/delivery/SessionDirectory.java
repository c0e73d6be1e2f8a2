package dev.tether.delivery;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which sessions exist on this broker and whether each is durable (outlives its connection).
 * A message for a durable session's subscription is written to PostgreSQL before it is acknowledged.
 */
@ApplicationScoped
public class SessionDirectory {
    private final ConcurrentHashMap<String, Boolean> durable = new ConcurrentHashMap<>();

    public void put(String clientId, boolean isDurable) {
        durable.put(clientId, isDurable);
    }

    public void remove(String clientId) {
        durable.remove(clientId);
    }

    public boolean isDurable(String clientId) {
        return durable.getOrDefault(clientId, false);
    }

    public int size() {
        return durable.size();
    }
}
