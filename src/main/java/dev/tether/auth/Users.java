package dev.tether.auth;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Reads {@code mqtt_users} (reactive, one indexed query each). */
@ApplicationScoped
public class Users {

    private final Pool pool;

    public Users(Pool pool) {
        this.pool = pool;
    }

    /** The user's row, read at every CONNECT so that a change applies to the next one on every replica. */
    public Uni<Optional<UserRow>> find(String username) {
        return pool.preparedQuery("SELECT username, password_hash, enabled FROM mqtt_users WHERE username = $1")
                .execute(Tuple.of(username))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        return Optional.empty();
                    }
                    Row r = it.next();
                    return Optional.of(new UserRow(r.getString(0), r.getString(1), r.getBoolean(2)));
                });
    }

    /** Of {@code usernames}, those with an enabled row. */
    public Uni<Set<String>> enabledAmong(List<String> usernames) {
        return pool.preparedQuery("SELECT username FROM mqtt_users WHERE username = ANY($1) AND enabled")
                .execute(Tuple.of(usernames.toArray(new String[0])))
                .map(rows -> {
                    Set<String> out = new HashSet<>();
                    rows.forEach(r -> out.add(r.getString(0)));
                    return out;
                });
    }
}
