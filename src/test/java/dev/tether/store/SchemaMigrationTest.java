package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The pure parts of {@link SchemaMigration}; the migration itself runs at every {@code @QuarkusTest}'s start. */
class SchemaMigrationTest {

    @Test
    void latestVersion_isTheNewestFileInDbMigrations() throws IOException {
        // A start whose database is at LATEST_VERSION skips Flyway: a new migration must move it.
        Pattern name = Pattern.compile("V(\\d+)__.*\\.sql");
        int newest;
        try (Stream<Path> files = Files.list(Path.of("db", "migrations"))) {
            newest = files.map(f -> name.matcher(f.getFileName().toString()))
                    .filter(Matcher::matches)
                    .mapToInt(m -> Integer.parseInt(m.group(1)))
                    .max().orElseThrow();
        }
        assertThat(SchemaMigration.LATEST_VERSION).isEqualTo(Integer.toString(newest));
    }

    @Test
    void jdbcUrlOf_whenReactiveUrl_thenJdbcFormWithoutUserInfo() {
        assertThat(SchemaMigration.jdbcUrlOf("postgresql://db.example:5432/tether"))
                .isEqualTo("jdbc:postgresql://db.example:5432/tether");
        assertThat(SchemaMigration.jdbcUrlOf("vertx-reactive:postgresql://u:secret@db.example/tether?sslmode=require"))
                .isEqualTo("jdbc:postgresql://db.example/tether?sslmode=require");
        assertThat(SchemaMigration.jdbcUrlOf("postgres://db.example/t?options=a@b"))
                .isEqualTo("jdbc:postgresql://db.example/t?options=a@b");
    }
}
