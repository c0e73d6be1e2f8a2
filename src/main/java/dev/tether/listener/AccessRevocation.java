package dev.tether.listener;

import dev.tether.auth.acl.AccessControl;
import dev.tether.auth.acl.AclRules;
import dev.tether.delivery.ClientConnection;
import dev.tether.delivery.ConnectedClients;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * When the rules of {@code mqtt_acl} change (each replica reloads them every second), every client connected to this
 * replica loses the subscriptions the new rules deny: a live subscription that a new rule denies stops receiving
 * within two seconds of the SQL that changed the rule.
 */
@Startup
@ApplicationScoped
class AccessRevocation {

    private final AccessControl acl;
    private final ConnectedClients clients;

    AccessRevocation(AccessControl acl, ConnectedClients clients) {
        this.acl = acl;
        this.clients = clients;
    }

    @PostConstruct
    void listen() {
        acl.onChange(this::rulesChanged);
    }

    private void rulesChanged(AclRules rules) {
        for (ClientConnection c : clients.all()) {
            if (c instanceof MqttConnection connection) {
                connection.accessRulesChanged(rules);
            }
        }
    }
}
