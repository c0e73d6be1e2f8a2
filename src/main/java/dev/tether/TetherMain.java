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
 * kept in {@code tether.embedded-postgres.data-dir} (default {@code tether-data/postgres}).
 * The native executable has no embedded PostgreSQL: there a datasource must be configured.
 */
@QuarkusMain
public class TetherMain {

    private static final Logger LOG = Logger.getLogger(TetherMain.class);

    private static final String NATIVE_NEEDS_DATASOURCE = "Tether's native executable has no embedded PostgreSQL: set "
            + "QUARKUS_DATASOURCE_REACTIVE_URL (e.g. postgresql://host:5432/tether), QUARKUS_DATASOURCE_JDBC_URL "
            + "(jdbc:postgresql://host:5432/tether), QUARKUS_DATASOURCE_USERNAME and QUARKUS_DATASOURCE_PASSWORD.";

    public static void main(String... args) throws Exception {
        if (setting("quarkus.datasource.reactive.url").isEmpty()) {
            if (NativeExecutable.RUNNING) {
                // A constant in the native image: the embedded PostgreSQL below is unreachable there.
                System.err.println(NATIVE_NEEDS_DATASOURCE);
                System.exit(1);
                return;
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
