package dev.tether.store;

import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.pgclient.PgException;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.jboss.logging.Logger;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Applies {@code db/migrations} (shipped in the jar as {@code db/migration}) with Flyway before anything else starts:
 * the first start-up observer, on the main thread, over plain JDBC connections of the PostgreSQL driver that are
 * closed when it returns. No JDBC pool or transaction manager is started for it: the broker itself only uses the
 * reactive client, and a pool and JTA cost start-up time (bench/coldstart.sh, docs/BENCHMARKS.md "Cold start").
 *
 * <p>A start on a database whose last recorded migration ({@code flyway_schema_history}) is {@link #LATEST_VERSION}
 * and succeeded skips Flyway altogether (one query on the reactive pool; Flyway and the JDBC driver cost about a
 * second of class loading and validation on a small container): the restart of a replica, which is what scaling
 * from zero does. Flyway's validation of the applied migrations' checksums then runs only when a migration is due.
 *
 * <p>The database is {@code quarkus.datasource.jdbc.url} if set, otherwise the JDBC form of
 * {@code quarkus.datasource.reactive.url}; the user and password are {@code quarkus.datasource.username} and
 * {@code .password}, as for the reactive client. A migration that fails stops the start.
 */
@ApplicationScoped
public class SchemaMigration {

    private static final Logger LOG = Logger.getLogger(SchemaMigration.class);
    /** The version of the newest file in {@code db/migrations}. */
    static final String LATEST_VERSION = ShippedMigrations.latestVersion();
    private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(30);

    private final Pool pool;
    private final String jdbcUrl;
    private final Optional<String> username;
    private final Optional<String> password;

    SchemaMigration(Pool pool,
                    @ConfigProperty(name = "quarkus.datasource.jdbc.url") Optional<String> jdbcUrl,
                    @ConfigProperty(name = "quarkus.datasource.reactive.url") Optional<String> reactiveUrl,
                    @ConfigProperty(name = "quarkus.datasource.username") Optional<String> username,
                    @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        this.pool = pool;
        this.jdbcUrl = jdbcUrl.or(() -> reactiveUrl.map(SchemaMigration::jdbcUrlOf))
                .orElseThrow(() -> new IllegalStateException(
                        "no database: set quarkus.datasource.reactive.url (QUARKUS_DATASOURCE_REACTIVE_URL)"));
        // A reactive URL may carry the user and password itself (postgresql://user:pw@host/db).
        Optional<String[]> userInfo = reactiveUrl.flatMap(SchemaMigration::userInfoOf);
        this.username = username.or(() -> userInfo.map(u -> u[0]));
        this.password = password.or(() -> userInfo.filter(u -> u.length > 1).map(u -> u[1]));
    }

    void migrate(@Observes @Priority(1) StartupEvent ev) {
        if (isCurrent()) {
            LOG.debugf("schema at version %s: no migration due", LATEST_VERSION);
            return;
        }
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setURL(jdbcUrl);
        username.ifPresent(dataSource::setUser);
        password.ifPresent(dataSource::setPassword);
        ClassLoader loader = SchemaMigration.class.getClassLoader();
        MigrateResult result = Flyway.configure(loader)
                .dataSource(dataSource)
                .resourceProvider(new ShippedMigrations(loader))
                .javaMigrationClassProvider(List::of)
                .load()
                .migrate();
        LOG.infof("schema migrated to version %s (%d migrations applied)",
                Optional.ofNullable(result.targetSchemaVersion).orElse(LATEST_VERSION), result.migrationsExecuted);
    }

    /** Whether the last migration recorded in the database is the newest one shipped, and succeeded. */
    private boolean isCurrent() {
        try {
            Iterator<Row> last = pool.query("SELECT version, success FROM flyway_schema_history"
                            + " WHERE version IS NOT NULL ORDER BY installed_rank DESC LIMIT 1")
                    .execute().await().atMost(CHECK_TIMEOUT).iterator();
            if (!last.hasNext()) {
                return false;
            }
            Row row = last.next();
            return LATEST_VERSION.equals(row.getString("version")) && Boolean.TRUE.equals(row.getBoolean("success"));
        } catch (PgException e) {
            if ("42P01".equals(e.getSqlState())) { // undefined_table: a new database
                return false;
            }
            throw e;
        }
    }

    private static Optional<String[]> userInfoOf(String reactiveUrl) {
        String rest = reactiveUrl.substring(reactiveUrl.indexOf("://") + 3);
        int at = userInfoEnd(rest);
        return at >= 0 ? Optional.of(rest.substring(0, at).split(":", 2)) : Optional.empty();
    }

    /** Where the user info of a URL's part after {@code ://} ends (its '@', before any '/'), or -1 without one. */
    private static int userInfoEnd(String afterScheme) {
        int at = afterScheme.indexOf('@');
        int slash = afterScheme.indexOf('/');
        return at >= 0 && (slash < 0 || at < slash) ? at : -1;
    }

    /**
     * The JDBC URL of a reactive PostgreSQL URL: {@code postgresql://user:pw@host:5432/db?sslmode=require} (optionally
     * prefixed {@code vertx-reactive:}) becomes {@code jdbc:postgresql://host:5432/db?sslmode=require}; the user and
     * password come from their own properties.
     */
    static String jdbcUrlOf(String reactiveUrl) {
        String url = reactiveUrl.startsWith("vertx-reactive:") ? reactiveUrl.substring("vertx-reactive:".length())
                : reactiveUrl;
        int scheme = url.indexOf("://");
        if (scheme < 0) {
            throw new IllegalArgumentException("not a PostgreSQL URL: " + reactiveUrl.replaceAll("//[^@/]*@", "//"));
        }
        String rest = url.substring(scheme + 3);
        int at = userInfoEnd(rest);
        if (at >= 0) {
            rest = rest.substring(at + 1); // user info: never into a URL that may be logged
        }
        return "jdbc:postgresql://" + rest;
    }
}
