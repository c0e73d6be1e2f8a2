package dev.tether;

import dev.tether.store.embedded.EmbeddedPostgres;
import io.quarkus.arc.properties.UnlessBuildProperty;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Stops the embedded PostgreSQL that {@link TetherMain} started, after everything else has shut down.
 * Not in the native executable, which has no embedded PostgreSQL.
 */
@ApplicationScoped
@UnlessBuildProperty(name = "quarkus.native.enabled", stringValue = "true", enableIfMissing = true)
public class EmbeddedPostgresShutdown {

    private static final AtomicReference<EmbeddedPostgres> OWNED = new AtomicReference<>();

    static void own(EmbeddedPostgres db) {
        OWNED.set(db);
    }

    void stop(@Observes @Priority(Integer.MAX_VALUE) ShutdownEvent ev) {
        EmbeddedPostgres db = OWNED.getAndSet(null);
        if (db != null) {
            db.close();
        }
    }
}
