package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The pure parts of {@link SchemaMigration}; the migration itself runs at every {@code @QuarkusTest}'s start. */
class SchemaMigrationTest {

    @Test
    void shippedMigrations_areEveryFileOfDbMigrationsOldestFirst() throws IOException {
        // Flyway is handed this list (no class-path scan): a new file in db/migrations must be added to it.
        Pattern name = Pattern.compile("V(\\d+)__.*\\.sql");
        List<String> files;
        try (Stream<Path> listed = Files.list(Path.of("db", "migrations"))) {
            files = listed.map(f -> f.getFileName().toString())
                    .sorted(Comparator.comparingInt((String f) -> {
                        Matcher m = name.matcher(f);
                        return m.matches() ? Integer.parseInt(m.group(1)) : Integer.MAX_VALUE;
                    }))
                    .collect(Collectors.toList());
        }
        assertThat(ShippedMigrations.FILES).containsExactlyElementsOf(files);
        // A start whose database is at LATEST_VERSION skips Flyway.
        Matcher newest = name.matcher(files.get(files.size() - 1));
        assertThat(newest.matches()).isTrue();
        assertThat(SchemaMigration.LATEST_VERSION).isEqualTo(newest.group(1));
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
