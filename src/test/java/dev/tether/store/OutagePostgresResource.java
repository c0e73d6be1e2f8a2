package dev.tether.store;

import dev.tether.store.embedded.EmbeddedPostgres;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

/**
 * An embedded PostgreSQL that a test can stop and start again on the same directory and port, to
 * simulate a database outage under a running broker. One per JVM: the state is static so the test
 * (which cannot get the resource instance) can reach it.
 */
public class OutagePostgresResource implements QuarkusTestResourceLifecycleManager {

    private static Path dataDirectory;
    private static int port;
    private static EmbeddedPostgres db;

    @Override
    public Map<String, String> start() {
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // fixed from now on, so a restarted server is at the same address
        } catch (IOException e) {
            throw new IllegalStateException("no free port", e);
        }
        dataDirectory = Path.of("target", "test-postgres", "outage-" + UUID.randomUUID());
        startDatabase();
        return Map.of(
                "quarkus.datasource.reactive.url", db.reactiveUrl(),
                "quarkus.datasource.jdbc.url", db.jdbcUrl(),
                "quarkus.datasource.username", db.username(),
                "quarkus.datasource.password", db.password(),
                "tether.mqtt.host", "127.0.0.1",
                "tether.mqtt.port", "0");
    }

    /** Stops PostgreSQL (fast shutdown: open connections are terminated). */
    public static synchronized void stopDatabase() {
        if (db != null) {
            db.close();
            db = null;
        }
    }

    /** Starts PostgreSQL again on the same directory and port; the data is kept. */
    public static synchronized void startDatabase() {
        if (db != null) {
            return;
        }
        try {
            db = EmbeddedPostgres.start(dataDirectory, port);
        } catch (IOException e) {
            throw new IllegalStateException("embedded PostgreSQL did not start on port " + port, e);
        }
    }

    @Override
    public void stop() {
        stopDatabase();
    }
}
