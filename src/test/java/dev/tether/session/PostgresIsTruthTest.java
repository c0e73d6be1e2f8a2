package dev.tether.session;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** PostgreSQL holds the truth about sessions: what SQL removes, the broker does not resume. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PostgresIsTruthTest {

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void connect_whenOfflineSessionDeletedWithSql_thenSessionPresentZero() throws Exception {
        // Tether: PostgreSQL is the truth; a session deleted there no longer exists:
        // [MQTT-3.1.2-6] [MQTT-3.2.2-3] Clean Start 0 creates a new one with Session Present 0.
        String id = TestClients.uniqueId("pg-deleted");
        String topic = "pg/deleted/" + id;
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(3600).send();
        c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnect();
        rows.awaitOffline(id);

        assertThat(rows.sql().update("DELETE FROM sessions WHERE client_id = ?", id)).isEqualTo(1);

        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(3600).send().isSessionPresent())
                    .isFalse();
            Mqtt5BlockingClient publisher = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pg-pub"));
            publisher.connect();
            publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("old-subscription".getBytes(StandardCharsets.UTF_8)).send();
            publisher.disconnect();
            assertThat(publishes.receive(1_500, MILLISECONDS)).as("the deleted session's subscription is gone").isEmpty();
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }
}
