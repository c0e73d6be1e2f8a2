package dev.tether.auth;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This replica's live connections that logged in with a User Name, each with what disconnects it (DISCONNECT 0x98
 * on its own event loop). Thread-safe.
 */
@ApplicationScoped
public class LiveUsers {

    private final Map<String, Set<Runnable>> byUser = new ConcurrentHashMap<>();

    /** Registers a connection of {@code username}; {@code disconnect} must be safe to call from any thread. */
    public void add(String username, Runnable disconnect) {
        byUser.computeIfAbsent(username, u -> ConcurrentHashMap.newKeySet()).add(disconnect);
    }

    public void remove(String username, Runnable disconnect) {
        byUser.computeIfPresent(username, (u, set) -> {
            set.remove(disconnect);
            return set.isEmpty() ? null : set;
        });
    }

    public List<String> usernames() {
        return List.copyOf(byUser.keySet());
    }

    /** Disconnects every live connection of {@code username}. */
    public void disconnectAll(String username) {
        Set<Runnable> set = byUser.remove(username);
        if (set != null) {
            set.forEach(Runnable::run);
        }
    }
}
