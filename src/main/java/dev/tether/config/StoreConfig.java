package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** Writing session state to PostgreSQL. */
@ConfigMapping(prefix = "tether.store")
public interface StoreConfig {

    /** Most events written in one group commit (one transaction). */
    @WithDefault("512")
    int maxBatchSize();

    /** Events waiting for the reconciler beyond which sockets stop being read (back-pressure). */
    @WithDefault("20000")
    int queueCapacity();

    /** How long a CONNECT waits for PostgreSQL before it is refused with 0x88 (5.0) / 0x03 (3.1.1). */
    @WithDefault("5s")
    Duration connectTimeout();

    /** How often this instance renews its lease, writing its heartbeat ({@code broker_instances.heartbeat_at}). */
    @WithDefault("2s")
    Duration heartbeatInterval();

    /**
     * The lease: each renewal extends {@code broker_instances.lease_expires_at} to now + this. An instance whose lease
     * has expired is dead, and any replica releases its sessions as disconnected at its last heartbeat. A replica
     * that cannot renew for this long (minus a margin of max(500 ms, a tenth)), or whose renewal is refused, stops
     * serving and exits with status 75. The default rides out a PostgreSQL outage of about 15 s (renewals every
     * {@link #heartbeatInterval()}), at the price of a crashed replica's clients waiting up to this long to resume.
     */
    @WithDefault("20s")
    Duration instanceTimeout();

    /**
     * How long the {@code broker_instances} row of a stopped (or dead) instance is kept after its
     * last heartbeat once it holds no connected session, for people looking at recent restarts and crashes; then the
     * expiry job deletes it, so that rows do not accumulate with every restart.
     */
    @WithDefault("1h")
    Duration stoppedInstanceRetention();

    /** Rows (sessions, due wills, expired queued or retained messages) removed per statement by the expiry job. */
    @WithDefault("1000")
    int expiryBatchSize();
}
