package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Several replicas sharing one PostgreSQL. */
@ConfigMapping(prefix = "tether.cluster")
public interface ClusterConfig {

    /**
     * Whether a replica that lost its lease ends its process with exit status 75 (EX_TEMPFAIL) once it has stopped
     * serving, so that the orchestrator restarts it as a new instance. Only tests that observe the stop turn it off:
     * a replica left running without its lease serves nobody until restarted.
     */
    @WithDefault("true")
    boolean exitOnLeaseLoss();
}
