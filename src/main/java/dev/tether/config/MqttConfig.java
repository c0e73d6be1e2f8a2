package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** The MQTT listener. */
@ConfigMapping(prefix = "tether.mqtt")
public interface MqttConfig {

    /** Address the MQTT over TCP listener binds to. */
    @WithDefault("0.0.0.0")
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

    /** A connection that sends no CONNECT within this time is closed. */
    @WithDefault("10s")
    Duration connectTimeout();
}
