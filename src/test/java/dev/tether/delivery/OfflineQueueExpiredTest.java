package dev.tether.delivery;

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
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Expired messages do not count toward tether.session.max-queued-messages, even before the expiry job purged
 * them: the job is switched off here, so only the queue-limit count itself can make room.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(OfflineQueueExpiredTest.SmallQueueNoExpiryJob.class)
class OfflineQueueExpiredTest {

    /** A queue of five messages per session; the expiry job never runs. */
    public static class SmallQueueNoExpiryJob implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.session.max-queued-messages", "5", "tether.jobs.expiry-every", "off");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    @Test
    void publish_whenQueueFullOfExpiredMessages_thenNewMessagesQueuedAndOnlyTheyDelivered() throws Exception {
        // Message Expiry Interval passed [MQTT-3.3.2-5]: those messages will never be delivered, so they leave
        // room for live ones under drop-newest (the publisher got PUBACK 0x00 for each)
        String id = TestClients.uniqueId("oq-expired");
        String topic = "oq/expired/" + id;
        Sql sql = new Sql(dataSource);
        OfflineQueueClients.subscribeThenGoOffline(listener.port(), id, topic);
        sql.update("INSERT INTO queued_messages (client_id, topic, payload, qos, expires_at) "
                + "SELECT ?, ?, convert_to('old-' || g, 'UTF8'), 1, now() - interval '1 minute' "
                + "FROM generate_series(1, 5) g", id, topic);

        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-expired-pub"));
        pub.connect();
        for (int i = 0; i < 3; i++) {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
        }
        pub.disconnect();
        assertThat(sql.rows("SELECT convert_from(payload, 'UTF8') AS p FROM queued_messages WHERE client_id = ? "
                + "AND expires_at IS NULL ORDER BY message_id", id).stream().map(r -> r.get("p")).toList())
                .containsExactly("0", "1", "2");

        OfflineQueueClients.resumeAndExpectExactly(listener.port(), id, "0", "1", "2");
    }
}
