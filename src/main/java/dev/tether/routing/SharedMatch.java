package dev.tether.routing;

import java.util.List;
import java.util.Objects;

/**
 * A share group whose filter matches a published topic (MQTT 5.0 §4.8.2), with all of its members: the
 * message goes to exactly one of them, chosen by the caller.
 *
 * @param topicFilter the group's full filter, {@code $share/{ShareName}/{filter}}; the ShareName and the filter
 *                    together identify the group
 * @param shareName   the ShareName part
 * @param members     one {@link Match} per member client: the QoS granted to that member, its Retain As
 *                    Published option and its subscription identifier (if any); sorted by client id, never
 *                    empty; immutable
 */
public record SharedMatch(String topicFilter, String shareName, List<Match> members) {

    /**
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code members} is empty
     */
    public SharedMatch {
        Objects.requireNonNull(topicFilter, "topicFilter");
        Objects.requireNonNull(shareName, "shareName");
        members = List.copyOf(members);
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a share group has at least one member");
        }
    }
}
