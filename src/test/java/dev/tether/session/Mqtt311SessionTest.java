package dev.tether.session;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt3.message.publish.Mqtt3Publish;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** MQTT 3.1.1 Clean Session (3.1.1 §3.1.2.4, §3.2.2.2) with a real 3.1.1 client and PostgreSQL. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class Mqtt311SessionTest {

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void connect_whenCleanSessionOne_thenSessionPresentZeroAndStateNeverReused() throws Exception {
        // 3.1.1 [MQTT-3.1.2-6] Clean Session 1: previous session discarded, the new one lasts as long as the
        // connection and is never reused; [MQTT-3.2.2-1] Session Present 0.
        String id = TestClients.uniqueId("v3-clean");
        Mqtt3BlockingClient durable = TestClients.mqtt3(listener.port(), id);
        durable.connectWith().cleanSession(false).send();
        durable.subscribeWith().topicFilter("v3/clean/" + id).qos(MqttQos.AT_LEAST_ONCE).send();
        durable.disconnect();
        rows.awaitOffline(id);

        Mqtt3BlockingClient clean = TestClients.mqtt3(listener.port(), id);
        assertThat(clean.connectWith().cleanSession(true).send().isSessionPresent()).isFalse();
        // A Clean Session 1 CONNACK is not held for the commit: the discard reaches SQL just after.
        await().atMost(SessionRows.WRITE_TIMEOUT).until(() -> rows.subscriptions(id) == 0);
        clean.subscribeWith().topicFilter("v3/clean2/" + id).qos(MqttQos.AT_LEAST_ONCE).send();
        clean.disconnect();
        rows.awaitGone(id, SessionRows.WRITE_TIMEOUT);

        Mqtt3BlockingClient after = TestClients.mqtt3(listener.port(), id);
        assertThat(after.connectWith().cleanSession(false).send().isSessionPresent())
                .as("a Clean Session 1 session is not reused").isFalse();
        assertThat(rows.subscriptions(id)).isZero();
        after.disconnect();
        cleanUp(id);
    }

    @Test
    void connect_whenCleanSessionZeroAndSessionExists_thenResumedWithSessionPresentOne() throws Exception {
        // 3.1.1 [MQTT-3.1.2-4] Clean Session 0 resumes the session; [MQTT-3.2.2-2] Session Present 1.
        String id = TestClients.uniqueId("v3-resume");
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), id);
        assertThat(c.connectWith().cleanSession(false).send().isSessionPresent()).isFalse();
        c.subscribeWith().topicFilter("v3/resume/" + id).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnect();
        rows.awaitOffline(id);

        Mqtt3BlockingClient again = TestClients.mqtt3(listener.port(), id);
        assertThat(again.connectWith().cleanSession(false).send().isSessionPresent()).isTrue();
        assertThat(rows.subscriptions(id)).isEqualTo(1);
        again.disconnect();
        cleanUp(id);
    }

    @Test
    void publish_whenCleanSessionZeroClientOffline_thenQos1StoredAndDeliveredAtReconnect() throws Exception {
        // 3.1.1 [MQTT-3.1.2-5] QoS 1 messages matching an offline Clean Session 0 client's subscriptions are stored
        // (Tether: visible in queued_messages) and delivered when it reconnects.
        String id = TestClients.uniqueId("v3-queue");
        String topic = "v3/queue/" + id;
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), id);
        c.connectWith().cleanSession(false).send();
        c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnect();
        rows.awaitOffline(id);

        Mqtt3BlockingClient publisher = TestClients.mqtt3(listener.port(), TestClients.uniqueId("v3-pub"));
        publisher.connect();
        publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                .payload("while-offline".getBytes(StandardCharsets.UTF_8)).send();
        publisher.disconnect();
        assertThat(rows.queuedMessages(id)).as("stored for the offline session").isEqualTo(1);

        Mqtt3BlockingClient again = TestClients.mqtt3(listener.port(), id);
        try (Mqtt3BlockingClient.Mqtt3Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanSession(false).send().isSessionPresent()).isTrue();
            Optional<Mqtt3Publish> received = publishes.receive(5, SECONDS);
            assertThat(received).as("delivered at reconnect").isPresent();
            assertThat(received.get().getTopic().toString()).isEqualTo(topic);
            assertThat(new String(received.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("while-offline");
            await().atMost(Duration.ofSeconds(5)).until(() -> rows.queuedMessages(id) == 0);
        } finally {
            again.disconnect();
        }
        cleanUp(id);
    }

    @Test
    void close_whenCleanSessionZeroWithDefaultExpiry_thenSessionNeverExpires() throws Exception {
        // 3.1.1 Clean Session 0 sessions last until Clean Session 1 (3.1.1 §3.1.2.4): Tether's default 3.1.1
        // expiry is never, so the offline row has no deadline.
        String id = TestClients.uniqueId("v3-never");
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), id);
        c.connectWith().cleanSession(false).send();
        c.disconnect();

        SessionRows.Offline offline = rows.awaitOffline(id);
        assertThat(offline.expiryIntervalSeconds()).isEqualTo(0xFFFFFFFFL);
        assertThat(offline.expiresAt()).as("expires_at of a 3.1.1 Clean Session 0 session").isNull();
        assertThat(rows.rows("SELECT protocol_version FROM sessions WHERE client_id = ?", id).get(0))
                .containsEntry("protocol_version", "3.1.1");
        cleanUp(id);
    }

    /** Ends the session with Clean Session 1 so the shared database does not keep it forever. */
    private void cleanUp(String id) {
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), id);
        c.connectWith().cleanSession(true).send();
        c.disconnect();
    }
}
