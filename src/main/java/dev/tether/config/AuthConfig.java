package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** Authentication of MQTT clients against {@code mqtt_users}. */
@ConfigMapping(prefix = "tether.auth")
public interface AuthConfig {

    /**
     * Whether a CONNECT without a User Name is accepted. Unset: only while the listener it arrives on is bound to a
     * loopback address ({@code tether.mqtt.host} for TCP, {@code quarkus.http.host} for WebSocket). A CONNECT with a
     * User Name is always checked against {@code mqtt_users}.
     */
    Optional<Boolean> allowAnonymous();

    /**
     * Whether the subject CN of a client's verified TLS certificate is its username (MQTT over TLS with
     * {@code tether.mqtt.tls-client-auth}, or WebSocket over HTTPS with {@code quarkus.http.ssl.client-auth}): no
     * password is checked, a CONNECT with another User Name is refused (0x86 / 4), and a disabled {@code mqtt_users}
     * row of that name refuses it (0x87 / 5). Clients without a certificate log in as usual.
     */
    @WithDefault("false")
    boolean certificateAsUsername();

    /** Failed CONNECTs from one source address answered at once; each further failure is answered after a growing delay. */
    @WithDefault("3")
    int failuresBeforeDelay();

    /** Failed CONNECTs from one source address after which it is banned for {@link #banDuration()}. */
    @WithDefault("10")
    int failuresBeforeBan();

    /** How long a banned address is refused (0x86 / 4) without any password check; also how long failures are remembered. */
    @WithDefault("60s")
    Duration banDuration();

    /** Longest delay before a refused CONNACK is sent to a throttled address. */
    @WithDefault("5s")
    Duration maxDelay();

    /** Source addresses tracked at most (the oldest are forgotten first). */
    @WithDefault("10000")
    int maxTrackedAddresses();

    /** Threads verifying bcrypt hashes (never the event loop). */
    @WithDefault("2")
    int verifierThreads();

    /** Password checks waiting for a verifier thread beyond which a CONNECT is refused with 0x88 / 3. */
    @WithDefault("256")
    int verifierQueue();

    /** Successful verifications remembered (user, password digest and stored hash), so reconnects skip bcrypt. */
    @WithDefault("10000")
    int cacheSize();
}
