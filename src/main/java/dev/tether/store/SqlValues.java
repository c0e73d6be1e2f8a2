package dev.tether.store;

import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.UserProperty;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.core.buffer.Buffer;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/** Conversions between Tether's values and the reactive PostgreSQL client's. */
final class SqlValues {

    private SqlValues() {
    }

    static OffsetDateTime timestamp(Instant instant) {
        return instant == null ? null : instant.atOffset(ZoneOffset.UTC);
    }

    static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    /** A bytea parameter (the client encodes the core Buffer type, not the Mutiny wrapper). */
    static io.vertx.core.buffer.Buffer bytes(byte[] b) {
        return b == null ? null : io.vertx.core.buffer.Buffer.buffer(b);
    }

    static byte[] bytes(Buffer b) {
        return b == null ? null : b.getBytes();
    }

    static JsonArray userProperties(MessageProperties p) {
        if (p.userProperties().isEmpty()) {
            return null;
        }
        JsonArray a = new JsonArray();
        for (UserProperty u : p.userProperties()) {
            a.add(new JsonObject().put("key", u.key()).put("value", u.value()));
        }
        return a;
    }

    static List<UserProperty> userProperties(Object json) {
        List<UserProperty> out = new ArrayList<>();
        if (json instanceof JsonArray a) {
            for (int i = 0; i < a.size(); i++) {
                JsonObject o = a.getJsonObject(i);
                out.add(new UserProperty(o.getString("key"), o.getString("value")));
            }
        }
        return out;
    }
}
