package dev.tether.store;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;
import org.flywaydb.core.api.Location;
import org.flywaydb.core.api.ResourceProvider;
import org.flywaydb.core.api.resource.LoadableResource;
import org.flywaydb.core.internal.resource.classpath.ClassPathResource;

/**
 * The schema migrations shipped in the jar ({@code db/migrations}, as {@code db/migration}), named one by one: Flyway
 * is handed them instead of scanning the class path, which a native image cannot list (and which costs class-path
 * walking on the JVM). {@code SchemaMigrationTest} keeps {@link #FILES} equal to {@code db/migrations}.
 */
final class ShippedMigrations implements ResourceProvider {

    static final String DIRECTORY = "db/migration";
    /** Every file of {@code db/migrations}, oldest first. */
    static final List<String> FILES = List.of(
            "V1__sessions.sql",
            "V2__connection_fencing.sql",
            "V4__message_expiry_indexes.sql",
            "V5__replica_leases.sql",
            "V6__session_epochs.sql",
            "V7__mqtt_users.sql",
            "V8__mqtt_acl.sql",
            "V9__mqtt_users_scram.sql");

    private static final Location LOCATION = new Location("classpath:" + DIRECTORY);

    private final ClassLoader loader;

    ShippedMigrations(ClassLoader loader) {
        this.loader = loader;
    }

    /** The version of the newest migration ({@code V9__...} is "9"). */
    static String latestVersion() {
        String newest = FILES.get(FILES.size() - 1);
        return newest.substring(1, newest.indexOf("__"));
    }

    @Override
    public LoadableResource getResource(String name) {
        String file = name.substring(name.lastIndexOf('/') + 1);
        return FILES.contains(file) ? resource(file) : null;
    }

    @Override
    public Collection<LoadableResource> getResources(String prefix, String[] suffixes) {
        return FILES.stream()
                .filter(f -> f.startsWith(prefix) && Arrays.stream(suffixes).anyMatch(f::endsWith))
                .map(this::resource)
                .collect(Collectors.toList());
    }

    private LoadableResource resource(String file) {
        return new ClassPathResource(LOCATION, DIRECTORY + "/" + file, loader, StandardCharsets.UTF_8);
    }
}
