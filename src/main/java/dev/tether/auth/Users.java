package dev.tether.auth;

import dev.tether.auth.scram.ScramCredentials;
import dev.tether.auth.scram.ScramLookup;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.jboss.logging.Logger;

/** Reads {@code mqtt_users} (reactive, one indexed query each). */
@ApplicationScoped
public class Users {

    private static final Logger LOG = Logger.getLogger(Users.class);

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

    /**
     * What a SCRAM-SHA-256 login of {@code username} needs, in one query whether or not the user exists: its
     * credentials, whether it is enabled, and its mock salt (HMAC-SHA-256 of the name under the installation's key in
     * {@code mqtt_scram_mock_key}, 16 bytes), used when it does not exist or has no valid credentials.
     */
    public Uni<ScramLookup> findScram(String username) {
        return pool.preparedQuery("SELECT u.scram_sha256, coalesce(u.enabled, false),"
                        + " substring(hmac(convert_to($1, 'UTF8'), k.key, 'sha256') FROM 1 FOR 16)"
                        + " FROM mqtt_scram_mock_key k LEFT JOIN mqtt_users u ON u.username = $1")
                .execute(Tuple.of(username))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        throw new IllegalStateException("mqtt_scram_mock_key has no row");
                    }
                    Row r = it.next();
                    Optional<ScramCredentials> credentials = ScramCredentials.parse(r.getString(0));
                    if (credentials.isEmpty() && r.getString(0) != null) {
                        LOG.warnf("mqtt_users.scram_sha256 of %s is not SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>;"
                                + " its SCRAM logins are refused", username);
                    }
                    return new ScramLookup(credentials, r.getBoolean(1),
                            r.getBuffer(2).getBytes());
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
