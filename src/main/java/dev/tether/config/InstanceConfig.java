package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;

/** This broker process's identity between restarts. */
@ConfigMapping(prefix = "tether.instance")
public interface InstanceConfig {

    /**
     * Directory where the broker keeps the instance id of its current process ({@code instance-id}),
     * locked ({@code instance.lock}) while the process runs. A restarted broker reads the id of its
     * previous life there and settles that life's sessions at once (disconnected at its last
     * heartbeat) instead of waiting for {@code tether.store.instance-timeout}. While another live
     * process holds the lock, a broker starts with a fresh id and settles nothing. Give every
     * broker process its own directory that outlives the process (on Kubernetes, an
     * {@code emptyDir} survives container restarts); without one, recovery falls back to the
     * instance timeout.
     */
    @WithDefault("tether-data")
    Path stateDir();
}
