package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** The MQTT listener. */
@ConfigMapping(prefix = "tether.mqtt")
public interface MqttConfig {

    /**
     * Address the MQTT over TCP listener binds to. Loopback by default: while it is, anonymous clients are accepted
     * unless {@code tether.auth.allow-anonymous} says otherwise; bind 0.0.0.0 to serve other hosts.
     */
    @WithDefault("127.0.0.1")
    String host();

    /** Port of the MQTT over TCP listener (0 picks a free port, logged at start). */
    @WithDefault("1883")
    int port();

    /** Largest MQTT packet accepted from a client, in bytes (advertised as Maximum Packet Size). */
    @WithDefault("1048576")
    int maxPacketSize();

    /** Longest accepted Client Identifier, in characters. */
    @WithDefault("256")
    int maxClientIdLength();

    /**
     * Receive Maximum advertised to MQTT 5 clients: the most unacknowledged QoS 1/2 PUBLISH packets a client
     * may have in flight towards Tether; one more is answered with DISCONNECT 0x93.
     */
    @WithDefault("128")
    int receiveMaximum();

    /** Topic Alias Maximum advertised to MQTT 5 clients (0 disables inbound topic aliases). */
    @WithDefault("16")
    int topicAliasMaximum();

    /**
     * Largest Keep Alive granted to MQTT 5 clients, in seconds: a client asking for more, or for 0, gets this value
     * in CONNACK's Server Keep Alive and is held to it. Unset: the client's value stands.
     */
    java.util.Optional<Integer> maxKeepAlive();

    /** Path of MQTT over WebSocket on the HTTP port ({@code quarkus.http.port}). */
    @WithDefault("/mqtt")
    String websocketPath();

    /**
     * Bytes waiting to be written to one client beyond which its connection counts as not keeping up (the write
     * queue's high-water mark; writing resumes below half of it). While it is full, QoS 0 messages to that client are
     * dropped and counted, and QoS 1/2 messages wait in its session queue ({@code tether.session.max-queued-messages}).
     * The default leaves room for what one event-loop turn writes to a client that does keep up: flushes are
     * consolidated, so up to 256 packets (e.g. 256 x 16 KiB) can wait for one flush.
     */
    @WithDefault("4194304")
    int writeQueueMaxSize();

    /** A connection that sends no CONNECT within this time is closed. */
    @WithDefault("10s")
    Duration connectTimeout();

    /**
     * Port of the MQTT over TLS listener, bound to {@link #host()} like the plain port (0 picks a free port). It
     * listens only while the TLS configuration {@link #tlsConfigurationName()} holds a certificate.
     */
    @WithDefault("8883")
    int tlsPort();

    /**
     * Name of the Quarkus TLS registry configuration that holds the MQTT over TLS certificate and key (and, for
     * client certificates, the trusted CAs): {@code quarkus.tls.<name>.key-store.pem.0.cert} and {@code .key}. Unset:
     * the registry's default configuration ({@code quarkus.tls.key-store.pem.0.cert} and {@code .key}), which can be
     * set from environment variables alone and which the HTTPS port uses too.
     */
    java.util.Optional<String> tlsConfigurationName();

    /**
     * Whether the MQTT over TLS listener asks clients for a certificate: {@code none}, {@code request} (a client may
     * present one) or {@code required} (a client without one fails the handshake). A presented certificate must be
     * signed by a CA of the TLS configuration's trust store.
     */
    @WithDefault("none")
    TlsClientAuth tlsClientAuth();

    /** Whether a TLS client presents a certificate. */
    enum TlsClientAuth {
        NONE, REQUEST, REQUIRED
    }
}
