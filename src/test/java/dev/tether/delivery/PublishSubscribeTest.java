package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.MQTT_5;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt3.message.publish.Mqtt3Publish;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.Mqtt5RetainHandling;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.suback.Mqtt5SubAckReasonCode;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PUBLISH / SUBSCRIBE end to end (MQTT 5.0 §3.3, §3.8, §3.10, §4.7; 3.1.1 §3.3, §3.8) with real clients. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PublishSubscribeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    /** What a subscriber saw, whichever protocol version it speaks. */
    private record Received(String topic, int qos, String payload) {
    }

    /** A connected subscriber of either protocol version. */
    private interface Subscriber extends AutoCloseable {
        Optional<Received> receive(long millis);

        @Override
        void close();
    }

    private Subscriber subscriber(int version, String filter, int qos) {
        if (version == 5) {
            Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sub5"));
            Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL);
            c.connect();
            c.subscribeWith().topicFilter(filter).qos(MqttQos.fromCode(qos)).send();
            return new Subscriber() {
                public Optional<Received> receive(long millis) {
                    try {
                        return publishes.receive(millis, MILLISECONDS).map(PublishSubscribeTest::received);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }

                public void close() {
                    publishes.close();
                    c.disconnect();
                }
            };
        }
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), TestClients.uniqueId("sub3"));
        Mqtt3BlockingClient.Mqtt3Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL);
        c.connect();
        c.subscribeWith().topicFilter(filter).qos(MqttQos.fromCode(qos)).send();
        return new Subscriber() {
            public Optional<Received> receive(long millis) {
                try {
                    return publishes.receive(millis, MILLISECONDS).map(PublishSubscribeTest::received);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }

            public void close() {
                publishes.close();
                c.disconnect();
            }
        };
    }

    private static Received received(Mqtt5Publish p) {
        return new Received(p.getTopic().toString(), p.getQos().getCode(),
                new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8));
    }

    private static Received received(Mqtt3Publish p) {
        return new Received(p.getTopic().toString(), p.getQos().getCode(),
                new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8));
    }

    private void publish(int version, String topic, int qos, String payload) {
        byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
        if (version == 5) {
            Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pub5"));
            c.connect();
            c.publishWith().topic(topic).qos(MqttQos.fromCode(qos)).payload(bytes).send();
            c.disconnect();
        } else {
            Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), TestClients.uniqueId("pub3"));
            c.connect();
            c.publishWith().topic(topic).qos(MqttQos.fromCode(qos)).payload(bytes).send();
            c.disconnect();
        }
    }

    /** Waits for a message on {@code topic}, skipping others (a "#" subscriber also sees other tests' traffic). */
    private static Optional<Received> receiveOn(Subscriber s, String topic, long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000;
        long left;
        while ((left = (deadline - System.nanoTime()) / 1_000_000) > 0) {
            Optional<Received> r = s.receive(left);
            if (r.isPresent() && r.get().topic().equals(topic)) {
                return r;
            }
        }
        return Optional.empty();
    }

    @ParameterizedTest(name = "QoS {0}, publisher MQTT {1}, subscriber MQTT {2}")
    @CsvSource({"0,5,5", "1,5,5", "2,5,5", "0,3,3", "1,3,3", "2,3,3", "0,5,3", "1,5,3", "2,5,3", "0,3,5", "1,3,5", "2,3,5"})
    void publish_whenSubscribedAtQos2_thenDeliveredAtPublishedQos(int qos, int publisherVersion, int subscriberVersion) {
        // §4.3.1-§4.3.3 QoS 0/1/2 flows client->server and server->client, 5.0 and 3.1.1 mixed; [MQTT-3.8.4-8]
        String topic = "ps/qos/" + TestClients.uniqueId("t");
        try (Subscriber s = subscriber(subscriberVersion, topic, 2)) {
            publish(publisherVersion, topic, qos, "hello-" + qos);
            assertThat(s.receive(TIMEOUT.toMillis())).contains(new Received(topic, qos, "hello-" + qos));
            assertThat(s.receive(1000)).isEmpty();
        }
    }

    @ParameterizedTest(name = "published QoS {0}, granted QoS {1}")
    @CsvSource({"2,1,1", "1,2,1", "2,0,0", "1,0,0", "0,2,0", "2,2,2"})
    void publish_whenGrantedQosDiffers_thenDeliveredAtMinimum(int published, int granted, int expected) {
        // [MQTT-3.8.4-8] delivered QoS = min(QoS of the PUBLISH, granted QoS)
        String topic = "ps/min/" + TestClients.uniqueId("t");
        try (Subscriber s = subscriber(5, topic, granted)) {
            publish(5, topic, published, "m");
            assertThat(s.receive(TIMEOUT.toMillis())).map(Received::qos).contains(expected);
        }
    }

    @Test
    void publish_whenWildcardFilters_thenPlusAndHashMatchPerSpec() {
        // §4.7.1.2 / §4.7.1.3: "#" matches the parent level too ("sport/#" matches "sport"); "+" one level
        String root = "ps-wild-" + TestClients.uniqueId("r");
        try (Subscriber hash = subscriber(5, root + "/#", 1);
             Subscriber plus = subscriber(5, root + "/+/score", 1);
             Subscriber plus3 = subscriber(3, "+/+/score", 1)) {
            publish(5, root, 1, "parent");
            publish(5, root + "/tennis/score", 1, "tennis");
            publish(5, root + "/tennis/player/score", 1, "deep");

            assertThat(hash.receive(5000)).map(Received::payload).contains("parent");
            assertThat(hash.receive(5000)).map(Received::payload).contains("tennis");
            assertThat(hash.receive(5000)).map(Received::payload).contains("deep");

            assertThat(plus.receive(5000)).map(Received::payload).contains("tennis");
            assertThat(plus.receive(1000)).isEmpty(); // neither the parent nor two levels

            assertThat(receiveOn(plus3, root + "/tennis/score", 5000)).map(Received::payload).contains("tennis");
            assertThat(receiveOn(plus3, root + "/tennis/player/score", 1000)).isEmpty();
        }
    }

    @Test
    void publish_whenTopicStartsWithDollar_thenNotMatchedByLeadingWildcards() {
        // [MQTT-4.7.2-1] "#" and "+/..." do not match topic names beginning with "$"
        String id = TestClients.uniqueId("d");
        String dollarTopic = "$ps-" + id + "/x";
        try (Subscriber hash = subscriber(5, "#", 0);
             Subscriber plus = subscriber(5, "+/x", 0);
             Subscriber explicit = subscriber(5, "$ps-" + id + "/+", 0)) {
            publish(5, dollarTopic, 0, "dollar");
            assertThat(explicit.receive(TIMEOUT.toMillis())).map(Received::payload).contains("dollar");
            assertThat(receiveOn(hash, dollarTopic, 1500)).isEmpty();
            assertThat(receiveOn(plus, dollarTopic, 100)).isEmpty();
        }
    }

    @Test
    void publish_whenOverlappingSubscriptions_thenOneCopyAtHighestQos() {
        // [MQTT-3.3.4-2] one copy per client, at the maximum QoS of its matching subscriptions
        String root = "ps-overlap/" + TestClients.uniqueId("o");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("overlap"));
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.connect();
            c.subscribeWith()
                    .addSubscription().topicFilter(root + "/#").qos(MqttQos.AT_MOST_ONCE).applySubscription()
                    .addSubscription().topicFilter(root + "/+").qos(MqttQos.EXACTLY_ONCE).applySubscription()
                    .addSubscription().topicFilter(root + "/a").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                    .send();
            publish(5, root + "/a", 2, "once");
            Optional<Mqtt5Publish> first = publishes.receive(5, SECONDS);
            assertThat(first).isPresent();
            assertThat(first.get().getQos()).isEqualTo(MqttQos.EXACTLY_ONCE);
            assertThat(publishes.receive(1500, MILLISECONDS)).isEmpty();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        } finally {
            c.disconnect();
        }
    }

    @Test
    void publish_when200Qos1MessagesFromOnePublisher_thenDeliveredInOrder() throws Exception {
        // [MQTT-4.6.0-5] ordered delivery per topic and publisher at QoS 1; a durable subscriber (via PostgreSQL)
        String topic = "ps/order/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("order-sub"));
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = sub.publishes(MqttGlobalPublishFilter.ALL)) {
            sub.connectWith().cleanStart(true).sessionExpiryInterval(60).send();
            sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("order-pub"));
            pub.connect();
            var async = pub.toAsync();
            List<java.util.concurrent.CompletableFuture<?>> acks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                acks.add(async.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send());
            }
            java.util.concurrent.CompletableFuture.allOf(acks.toArray(java.util.concurrent.CompletableFuture[]::new))
                    .get(20, SECONDS);
            pub.disconnect();
            List<Integer> got = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                Optional<Mqtt5Publish> p = publishes.receive(5, SECONDS);
                assertThat(p).as("message %d", i).isPresent();
                got.add(Integer.parseInt(new String(p.get().getPayloadAsBytes(), StandardCharsets.UTF_8)));
            }
            assertThat(got).isEqualTo(java.util.stream.IntStream.range(0, 200).boxed().toList());
        } finally {
            sub.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void publish_whenMqtt5AndNoSubscriber_thenPubackNoMatchingSubscribers() throws Exception {
        // MQTT 5.0 §3.4.2.1: PUBACK reason 0x10 (No matching subscribers); a subscribed topic gets 0x00
        String topic = "ps/nomatch/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MQTT_5, TestClients.uniqueId("raw-pub")).build());
            assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
            raw.send(MqttPackets.publish(MQTT_5, topic, 1, 11, "x".getBytes(StandardCharsets.UTF_8)));
            ReceivedPacket ack = raw.receive(TIMEOUT);
            assertThat(ack.type()).isEqualTo(MqttPackets.PUBACK);
            assertThat(ack.packetId()).isEqualTo(11);
            assertThat(ack.pubackReasonCode()).isEqualTo(0x10);

            try (Subscriber s = subscriber(5, topic, 1)) {
                raw.send(MqttPackets.publish(MQTT_5, topic, 1, 12, "y".getBytes(StandardCharsets.UTF_8)));
                ReceivedPacket ack2 = raw.receive(TIMEOUT);
                assertThat(ack2.packetId()).isEqualTo(12);
                assertThat(ack2.pubackReasonCode()).isZero();
                assertThat(s.receive(TIMEOUT.toMillis())).map(Received::payload).contains("y");
            }
        }
    }

    @Test
    void unsubscribe_whenSubscribed_thenNoMoreDeliveryAndRowGone() throws Exception {
        // [MQTT-3.10.4-1] [MQTT-3.10.4-2] the subscription is deleted and delivery stops; the row leaves PostgreSQL
        String id = TestClients.uniqueId("unsub");
        String topic = "ps/unsub/" + id;
        Sql sql = new Sql(dataSource);
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.connectWith().sessionExpiryInterval(60).send();
            c.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            assertThat(sql.count("SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?", id, topic))
                    .isEqualTo(1);
            publish(5, topic, 1, "before");
            assertThat(publishes.receive(5, SECONDS)).isPresent();

            c.unsubscribeWith().topicFilter(topic).send();
            publish(5, topic, 1, "after");
            assertThat(publishes.receive(1500, MILLISECONDS)).isEmpty();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(sql.count(
                    "SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?", id, topic)).isZero());
        } finally {
            c.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void subscribe_whenOptionsGiven_thenRowShowsQosAndOptions() {
        // MQTT 5.0 §3.8.3.1 Subscription Options; §4.1 subscriptions are session state, visible with SQL
        String id = TestClients.uniqueId("subrow");
        Sql sql = new Sql(dataSource);
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().sessionExpiryInterval(60).send();
        try {
            var ack = c.subscribeWith()
                    .addSubscription().topicFilter("ps/rows/" + id + "/a").qos(MqttQos.AT_LEAST_ONCE)
                    .noLocal(true).retainAsPublished(true).retainHandling(Mqtt5RetainHandling.DO_NOT_SEND)
                    .applySubscription()
                    .addSubscription().topicFilter("ps/rows/" + id + "/#").qos(MqttQos.EXACTLY_ONCE)
                    .retainHandling(Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST).applySubscription()
                    .send();
            assertThat(ack.getReasonCodes()).containsExactly(Mqtt5SubAckReasonCode.GRANTED_QOS_1,
                    Mqtt5SubAckReasonCode.GRANTED_QOS_2);
            List<Map<String, Object>> rows = sql.rows("SELECT topic_filter, qos::int AS qos, no_local, retain_as_published,"
                    + " retain_handling::int AS retain_handling FROM subscriptions WHERE client_id = ? ORDER BY qos DESC", id);
            assertThat(rows).hasSize(2);
            assertThat(rows.get(0)).containsEntry("topic_filter", "ps/rows/" + id + "/#")
                    .containsEntry("qos", 2).containsEntry("no_local", false)
                    .containsEntry("retain_as_published", false).containsEntry("retain_handling", 1);
            assertThat(rows.get(1)).containsEntry("topic_filter", "ps/rows/" + id + "/a")
                    .containsEntry("qos", 1).containsEntry("no_local", true)
                    .containsEntry("retain_as_published", true).containsEntry("retain_handling", 2);
        } finally {
            c.disconnectWith().sessionExpiryInterval(0).send();
        }
    }
}
