package dev.tether.testing;

import dev.tether.store.embedded.EmbeddedPostgres;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

/**
 * A real PostgreSQL for {@code @QuarkusTest}s: the same embedded server the broker starts by
 * default, in a fresh directory under {@code target/}, with the broker's MQTT listener on a free
 * loopback port.
 */
public class PostgresResource implements QuarkusTestResourceLifecycleManager {

    private EmbeddedPostgres db;

    @Override
    public Map<String, String> start() {
        try {
            db = EmbeddedPostgres.start(Path.of("target", "test-postgres", UUID.randomUUID().toString()), 0);
        } catch (Exception e) {
            throw new IllegalStateException("embedded PostgreSQL did not start", e);
        }
        return Map.of(
                "quarkus.datasource.reactive.url", db.reactiveUrl(),
                "quarkus.datasource.jdbc.url", db.jdbcUrl(),
                "quarkus.datasource.username", db.username(),
                "quarkus.datasource.password", db.password(),
                "tether.mqtt.host", "127.0.0.1",
                "tether.mqtt.port", "0");
    }

    @Override
    public void stop() {
        if (db != null) {
            db.close();
        }
    }
}
