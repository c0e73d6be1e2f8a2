package dev.tether.listener;

import java.util.HashMap;
import java.util.Map;

/**
 * Topic aliases Tether assigns towards one client, up to the client's Topic Alias Maximum
 * (MQTT 5.0 §3.3.2.3.4). Aliases are first come, first served and never reassigned: once all are
 * taken, other topics go out in full. Reset on every new connection. Owned by the connection's
 * event loop.
 */
final class OutboundAliases {

    /** The alias to use for a topic (0: none) and whether the client already knows it. */
    record Use(int alias, boolean known) {
    }

    private static final Use NONE = new Use(0, false);

    private final Map<String, Integer> byTopic = new HashMap<>();
    private int maximum;

    void reset(int clientMaximum) {
        byTopic.clear();
        maximum = clientMaximum;
    }

    Use aliasFor(String topic) {
        Integer known = byTopic.get(topic);
        if (known != null) {
            return new Use(known, true);
        }
        if (byTopic.size() >= maximum) {
            return NONE;
        }
        int alias = byTopic.size() + 1;
        byTopic.put(topic, alias);
        return new Use(alias, false);
    }
}
