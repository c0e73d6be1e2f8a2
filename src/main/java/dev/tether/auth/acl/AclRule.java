package dev.tether.auth.acl;

import java.util.Objects;

/**
 * One row of {@code mqtt_acl}.
 *
 * @param id          tie-breaker between rules of equal priority (lower first)
 * @param username    the user it applies to; null for every user, including anonymous clients
 * @param clientId    the Client Identifier it applies to; null for any
 * @param action      publish, subscribe or both
 * @param topicFilter an MQTT topic filter in which {@code %u} and {@code %c} stand for the username and Client Identifier
 * @param allow       allow or deny
 * @param priority    higher first
 */
public record AclRule(long id, String username, String clientId, AclAction action, String topicFilter, boolean allow,
                      int priority) {

    public AclRule {
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(topicFilter, "topicFilter");
    }

    /** Whether the filter names the username or Client Identifier ({@code %u}, {@code %c}). */
    public boolean usesSubstitution() {
        return topicFilter.contains("%u") || topicFilter.contains("%c");
    }
}
