package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.Mqtt5RetainHandling;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Retained messages (MQTT 5.0 §3.3.1.3) end to end, with their durable copy in {@code retained_messages}. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class RetainedMessageTest {

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private void publishRetained(String topic, String payload) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("ret-pub"));
        c.connect();
        c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true)
                .payload(payload.getBytes(StandardCharsets.UTF_8)).send();
        c.disconnect();
    }

    /** Subscribes a fresh client and returns the first message within {@code millis}, if any. */
    private Optional<Mqtt5Publish> subscribeAndReceive(String filter, Mqtt5RetainHandling handling, long millis)
            throws InterruptedException {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("ret-sub"));
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.connect();
            c.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).retainHandling(handling).send();
            return publishes.receive(millis, MILLISECONDS);
        } finally {
            c.disconnect();
        }
    }

    private long retainedRows(String topic) {
        return new Sql(dataSource).count("SELECT count(*) FROM retained_messages WHERE topic = ?", topic);
    }

    @Test
    void subscribe_whenRetainedMessageExists_thenDeliveredWithRetainFlag() throws Exception {
        // [MQTT-3.3.1-5] stored; [MQTT-3.3.1-9] sent on subscribe with RETAIN = 1; [MQTT-3.8.4-8] QoS min(1, 1)
        String topic = "ret/deliver/" + TestClients.uniqueId("t");
        publishRetained(topic, "kept");

        Optional<Mqtt5Publish> got = subscribeAndReceive("ret/deliver/#", Mqtt5RetainHandling.SEND, 5000);
        assertThat(got).isPresent();
        assertThat(got.get().getTopic().toString()).isEqualTo(topic);
        assertThat(got.get().isRetain()).isTrue();
        assertThat(new String(got.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("kept");
    }

    @Test
    void publish_whenRetained_thenRowInRetainedMessages() {
        // [MQTT-3.3.1-5] the server stores the message; retained messages are visible with SQL
        String topic = "ret/row/" + TestClients.uniqueId("t");
        publishRetained(topic, "row");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<Map<String, Object>> rows = new Sql(dataSource)
                    .rows("SELECT payload, qos::int AS qos FROM retained_messages WHERE topic = ?", topic);
            assertThat(rows).hasSize(1);
            assertThat(new String((byte[]) rows.get(0).get("payload"), StandardCharsets.UTF_8)).isEqualTo("row");
            assertThat(rows.get(0)).containsEntry("qos", 1);
        });
    }

    @Test
    void publish_whenEmptyRetainedPayload_thenRetainedMessageCleared() throws Exception {
        // [MQTT-3.3.1-6] [MQTT-3.3.1-7] a zero-byte retained message removes the retained message of the topic
        String topic = "ret/clear/" + TestClients.uniqueId("t");
        publishRetained(topic, "to-clear");
        await().atMost(Duration.ofSeconds(5)).until(() -> retainedRows(topic) == 1);

        publishRetained(topic, "");
        await().atMost(Duration.ofSeconds(5)).until(() -> retainedRows(topic) == 0);
        assertThat(subscribeAndReceive(topic, Mqtt5RetainHandling.SEND, 1500)).isEmpty();
    }

    @Test
    void subscribe_whenRetainHandlingTwo_thenRetainedNotSent() throws Exception {
        // [MQTT-3.3.1-11] Retain Handling 2: retained messages are not sent at subscribe time
        String topic = "ret/rh2/" + TestClients.uniqueId("t");
        publishRetained(topic, "hidden");
        assertThat(subscribeAndReceive(topic, Mqtt5RetainHandling.DO_NOT_SEND, 1500)).isEmpty();
        // control: the retained message is there for a Retain Handling 0 subscription
        assertThat(subscribeAndReceive(topic, Mqtt5RetainHandling.SEND, 5000)).isPresent();
    }

    @Test
    void publish_whenRetainedAndSubscriberLive_thenForwardedWithRetainZero() throws Exception {
        // [MQTT-3.3.1-12] without Retain As Published, a live delivery has RETAIN = 0
        String topic = "ret/live/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("ret-live"));
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.connect();
            c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            publishRetained(topic, "live");
            Optional<Mqtt5Publish> got = publishes.receive(5, SECONDS);
            assertThat(got).isPresent();
            assertThat(got.get().isRetain()).isFalse();
        } finally {
            c.disconnect();
        }
    }
}
