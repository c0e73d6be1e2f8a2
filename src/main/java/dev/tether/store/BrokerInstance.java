package dev.tether.store;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.UUID;

/** This broker process's identity: the {@code broker_instances.instance_id} its sessions name. */
@ApplicationScoped
public class BrokerInstance {
    private final UUID id = UUID.randomUUID();

    public UUID id() {
        return id;
    }
}
