package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The per-session queue limit with {@code tether.session.queue-overflow-policy=drop-oldest}. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(OfflineQueueDropOldestTest.SmallQueueDropOldest.class)
class OfflineQueueDropOldestTest {

    /** A queue of five messages per session that keeps the newest. */
    public static class SmallQueueDropOldest implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.session.max-queued-messages", "5",
                    "tether.session.queue-overflow-policy", "drop-oldest");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    @Test
    void publish_whenQueueFullUnderDropOldest_thenTheNewestFiveDeliveredInOrder() throws Exception {
        // SESSIONS.md "Resuming": queued messages count against a per-session limit; drop-oldest keeps the newest.
        String id = TestClients.uniqueId("oq-oldest");
        String topic = "oq/oldest/" + id;
        Sql sql = new Sql(dataSource);
        OfflineQueueClients.subscribeThenGoOffline(listener.port(), id, topic);

        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-oldest-pub"));
        pub.connect();
        // Three one at a time, then five in flight together (they share write batches).
        for (int i = 0; i < 3; i++) {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
        }
        List<CompletableFuture<?>> acks = new ArrayList<>();
        for (int i = 3; i < 8; i++) {
            acks.add(pub.toAsync().publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send());
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, SECONDS);
        pub.disconnect();
        assertThat(sql.rows("SELECT convert_from(payload, 'UTF8') AS p FROM queued_messages WHERE client_id = ? "
                + "ORDER BY message_id", id).stream().map(r -> r.get("p")).toList())
                .containsExactly("3", "4", "5", "6", "7");

        OfflineQueueClients.resumeAndExpectExactly(listener.port(), id, "3", "4", "5", "6", "7");
    }
}
