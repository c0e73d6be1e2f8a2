package dev.tether.store;

import dev.tether.config.InstanceConfig;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;
import java.util.UUID;

/**
 * This broker process's identity: the {@code broker_instances.instance_id} its sessions name, and
 * the id of its previous life on the same state directory ({@code tether.instance.state-dir}),
 * whose sessions it settles at start.
 */
@ApplicationScoped
public class BrokerInstance {
    private final InstanceIdentity identity;

    public BrokerInstance(InstanceConfig config) {
        this.identity = InstanceIdentity.claim(config.stateDir());
    }

    public UUID id() {
        return identity.id();
    }

    /** The instance that held this broker's state directory before this process, if known. */
    public Optional<UUID> previousLife() {
        return identity.previousLife();
    }

    @PreDestroy
    void release() {
        identity.close();
    }
}
