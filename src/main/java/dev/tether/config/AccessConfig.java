package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import java.util.List;
import java.util.Optional;

/** Access rules (a first, static form: finer rules per client come with authentication). */
@ConfigMapping(prefix = "tether.access")
public interface AccessConfig {

    /**
     * Topic filters no client may subscribe to, comma-separated. A SUBSCRIBE for one of them (or for a topic
     * name one of them matches) is refused: SUBACK 0x87 Not authorized (MQTT 5) / 0x80 Failure (3.1.1).
     */
    Optional<List<String>> deniedSubscriptions();
}
