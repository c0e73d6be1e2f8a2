package dev.tether.testing;

import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The JDBC {@link DataSource} that {@code @QuarkusTest}s inject to look at rows with SQL ({@link Sql}): a plain
 * connection of the PostgreSQL driver per use, to the database {@link PostgresResource} started. The broker itself
 * has no JDBC datasource bean (it migrates with plain JDBC and serves with the reactive client).
 */
public class TestDataSource {

    @Produces
    @Singleton
    DataSource dataSource(@ConfigProperty(name = "quarkus.datasource.jdbc.url") String url,
                          @ConfigProperty(name = "quarkus.datasource.username") String username,
                          @ConfigProperty(name = "quarkus.datasource.password") String password) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        ds.setUser(username);
        ds.setPassword(password);
        return ds;
    }
}
