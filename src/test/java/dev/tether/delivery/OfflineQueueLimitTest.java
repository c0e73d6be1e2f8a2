package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The per-session queue limit (tether.session.max-queued-messages) with the default drop-newest policy. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(OfflineQueueLimitTest.SmallQueue.class)
class OfflineQueueLimitTest {

    /** A queue of five messages and 1,000 payload bytes per session. */
    public static class SmallQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.session.max-queued-messages", "5", "tether.session.max-queued-bytes", "1000");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    @Test
    void publish_whenOfflineQueueFull_thenNewestDroppedAndFirstFiveDelivered() throws Exception {
        // SESSIONS.md "Resuming": queued messages count against a per-session limit; drop-newest keeps the oldest
        String id = TestClients.uniqueId("oq-limit");
        String topic = "oq/limit/" + id;
        Sql sql = new Sql(dataSource);
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), id);
        sub.connectWith().cleanStart(false).sessionExpiryInterval(300).send();
        sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        sub.disconnect();

        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-limit-pub"));
        pub.connect();
        for (int i = 0; i < 8; i++) {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
        }
        pub.disconnect();
        assertThat(sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id)).isEqualTo(5);

        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(300).send().isSessionPresent()).isTrue();
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                Optional<Mqtt5Publish> p = publishes.receive(5, SECONDS);
                assertThat(p).as("message %d", i).isPresent();
                got.add(new String(p.get().getPayloadAsBytes(), StandardCharsets.UTF_8));
            }
            assertThat(got).containsExactly("0", "1", "2", "3", "4");
            assertThat(publishes.receive(1500, MILLISECONDS)).isEmpty();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(
                    sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id)).isZero());
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void publish_whenManyArriveAtOnce_thenTheFirstFiveQueuedInOrderAndTheRestDropped() throws Exception {
        // Eight QoS 1 PUBLISHes in flight together share write batches: the limit still counts each copy.
        String id = TestClients.uniqueId("oq-burst");
        String topic = "oq/burst/" + id;
        Sql sql = new Sql(dataSource);
        OfflineQueueClients.subscribeThenGoOffline(listener.port(), id, topic);

        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-burst-pub"));
        pub.connect();
        List<java.util.concurrent.CompletableFuture<?>> acks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            acks.add(pub.toAsync().publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send());
        }
        java.util.concurrent.CompletableFuture.allOf(acks.toArray(java.util.concurrent.CompletableFuture[]::new))
                .get(10, SECONDS);
        pub.disconnect();
        assertThat(sql.rows("SELECT convert_from(payload, 'UTF8') AS p FROM queued_messages WHERE client_id = ? "
                + "ORDER BY message_id", id).stream().map(r -> r.get("p")).toList())
                .containsExactly("0", "1", "2", "3", "4");

        OfflineQueueClients.resumeAndExpectExactly(listener.port(), id, "0", "1", "2", "3", "4");
    }

    @Test
    void publish_whenOfflineQueueHoldsMaxBytes_thenNewestDroppedLikeTheCount() throws Exception {
        // tether.session.max-queued-bytes = 1000 beside the count: of 400-byte payloads two fit, the third does not
        // (drop-newest), a later 150-byte one still does
        String id = TestClients.uniqueId("oq-bytes");
        String topic = "oq/bytes/" + id;
        Sql sql = new Sql(dataSource);
        OfflineQueueClients.subscribeThenGoOffline(listener.port(), id, topic);

        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("oq-bytes-pub"));
        pub.connect();
        for (String p : List.of("a", "b", "c")) {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload((p.repeat(400)).getBytes(StandardCharsets.UTF_8)).send();
        }
        pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).payload("d".repeat(150).getBytes(StandardCharsets.UTF_8))
                .send();
        pub.disconnect();
        assertThat(sql.rows("SELECT left(convert_from(payload, 'UTF8'), 1) AS p FROM queued_messages "
                + "WHERE client_id = ? ORDER BY message_id", id).stream().map(r -> r.get("p")).toList())
                .containsExactly("a", "b", "d");
        OfflineQueueClients.resumeAndExpectExactly(listener.port(), id, "a".repeat(400), "b".repeat(400), "d".repeat(150));
    }
}
