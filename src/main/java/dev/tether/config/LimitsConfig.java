package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/**
 * What one broker, one source address and one client may take (README, Security, Limits). Every refusal is counted
 * in {@code tether_limits_refused_total{limit}}, every publish-rate pause in {@code tether_limits_throttled_total}.
 */
@ConfigMapping(prefix = "tether.limits")
public interface LimitsConfig {

    /**
     * Live MQTT connections (TCP and WebSocket, counted from accept to close) this broker holds at once. A connection
     * beyond it is answered CONNACK 0x97 Quota exceeded (MQTT 3.1.1: return code 3 Server unavailable) and closed.
     */
    @WithDefault("20000")
    int maxConnections();

    /**
     * New connections per second accepted from one source address (a token bucket refilled at this rate, holding
     * {@link #connectionBurstPerAddress()}); a connection beyond it is closed at once, before any byte of it is read.
     * 0 turns the limit off. Behind a proxy every client has the proxy's address: raise it there.
     */
    @WithDefault("50")
    int connectionsPerSecondPerAddress();

    /** New connections one source address may open at once before {@link #connectionsPerSecondPerAddress()} applies. */
    @WithDefault("100")
    int connectionBurstPerAddress();

    /** Source addresses whose connection rate is tracked at most (the least recently seen are forgotten first). */
    @WithDefault("10000")
    int maxTrackedAddresses();

    /**
     * Subscriptions one session holds at most (those of a resumed session count). A SUBSCRIBE filter beyond it gets
     * 0x97 Quota exceeded in SUBACK (3.1.1: 0x80) for that filter only; subscribing again to a filter the session
     * already has replaces it and does not count twice.
     */
    @WithDefault("1000")
    int maxSubscriptionsPerSession();

    /**
     * Longest topic name or topic filter accepted, in UTF-8 bytes (a PUBLISH's topic, a will's topic, a SUBSCRIBE's
     * filter; the protocol's own maximum is 65535).
     */
    @WithDefault("1024")
    int maxTopicLength();

    /**
     * Most levels ({@code a/b/c} has three) of a topic name or topic filter accepted; a shared subscription's
     * {@code $share/{ShareName}/} prefix is not counted.
     */
    @WithDefault("64")
    int maxTopicLevels();

    /**
     * PUBLISH packets per second one client may send (a token bucket holding {@link #publishBurst()} of it). Above
     * it Tether stops reading that client's connection until the bucket allows more: the client is slowed down (TCP
     * back-pressure), nothing is dropped and it is not disconnected. 0 (the default) turns the limit off.
     */
    @WithDefault("0")
    int publishRate();

    /** PUBLISH bytes (packet size) per second one client may send, enforced like {@link #publishRate()}; 0: off. */
    @WithDefault("0")
    long publishBytesRate();

    /** How much of the publish rates a client may send at once: the token buckets hold this many seconds' worth. */
    @WithDefault("1s")
    Duration publishBurst();
}
