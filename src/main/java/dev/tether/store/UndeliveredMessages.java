package dev.tether.store;

import dev.tether.delivery.StoredOutboundMessage;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Messages queued (never sent) for sessions connected on one replica for longer than a delivery takes: a copy
 * committed on another replica whose forward was lost, or committed before that replica learned where the client is.
 */
@ApplicationScoped
public class UndeliveredMessages {

    /** One such message and the client it waits for. */
    public record Undelivered(String clientId, StoredOutboundMessage message) {
    }

    private final Pool pool;

    public UndeliveredMessages(Pool pool) {
        this.pool = pool;
    }

    /** At most {@code limit} messages, oldest first, queued over {@code age} ago for clients connected on {@code instance}. */
    public Uni<List<Undelivered>> olderThan(UUID instance, Duration age, int limit) {
        return pool.preparedQuery("SELECT q.message_id, q.client_id, q.state, q.packet_id, q.subscription_identifiers, "
                        + "q.topic, q.payload, q.qos, q.retain, q.payload_format_indicator, q.content_type, "
                        + "q.response_topic, q.correlation_data, q.user_properties, q.expires_at "
                        + "FROM sessions s JOIN queued_messages q ON q.client_id = s.client_id "
                        + "WHERE s.instance_id = $1 AND s.connected AND q.state = 'queued' "
                        + "AND q.queued_at < now() - make_interval(secs => $2) ORDER BY q.message_id LIMIT $3")
                .execute(Tuple.of(instance, age.toMillis() / 1000.0, limit))
                .map(rows -> {
                    List<Undelivered> out = new ArrayList<>(rows.size());
                    rows.forEach(r -> out.add(new Undelivered(r.getString("client_id"), SessionWriter.readOutbound(r))));
                    return out;
                });
    }
}
