package dev.tether.config;

/**
 * Names of the settings of the embedded PostgreSQL started when no datasource URL is configured.
 * Read by {@code dev.tether.TetherMain} before Quarkus starts, so these are plain system properties
 * or environment variables rather than a {@code @ConfigMapping}.
 */
public final class EmbeddedPostgresConfig {
    /** Directory holding the embedded server's data, kept between runs. */
    public static final String DATA_DIR = "tether.embedded-postgres.data-dir";
    /** Port of the embedded server (0: a free port). */
    public static final String PORT = "tether.embedded-postgres.port";
    public static final String DEFAULT_DATA_DIR = "tether-data/postgres";

    private EmbeddedPostgresConfig() {
    }
}
