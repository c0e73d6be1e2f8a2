package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import dev.tether.cluster.ClusterClients.Received;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three replicas of the packaged broker on one PostgreSQL: a message published on one replica
 * reaches subscribers connected to the others, with the usual QoS, order, retain, will and
 * offline-queue rules.
 */
class ReplicaRoutingIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("replica-routing-it", 3);

    private static final Duration DELIVERY_WAIT = Duration.ofSeconds(10);
    private static final long SESSION_EXPIRY = 300;

    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    void publish_whenSubscribersOnOtherReplicas_thenEachGetsEveryMessageAtTheLowerOfBothQos() throws Exception {
        // [MQTT-3.8.4-8] delivered QoS = min(QoS of the PUBLISH, granted QoS of the subscription).
        String topic = "route/" + TestClients.uniqueId("qos");
        Map<String, List<Received>> inboxes = new LinkedHashMap<>();
        Map<String, Integer> subscriptionQos = new LinkedHashMap<>();
        for (int r = 2; r <= 3; r++) {
            for (int subQos = 0; subQos <= 2; subQos++) {
                String name = "subscriber on R" + r + " with a QoS " + subQos + " subscription";
                Mqtt5AsyncClient c = clients.client(replicas.mqttPort(r), TestClients.uniqueId("qos-r" + r + "-q" + subQos));
                inboxes.put(name, ClusterClients.inbox(c));
                subscriptionQos.put(name, subQos);
                int q = subQos;
                c.connectWith().cleanStart(true).send()
                        .thenCompose(ack -> c.subscribeWith().topicFilter(topic).qos(MqttQos.fromCode(q)).send())
                        .get(10, TimeUnit.SECONDS);
            }
        }
        Mqtt5AsyncClient publisher = connected(1, "qos-publisher", 0);
        for (int pubQos = 0; pubQos <= 2; pubQos++) {
            publisher.publishWith().topic(topic).qos(MqttQos.fromCode(pubQos))
                    .payload(("published at QoS " + pubQos).getBytes(StandardCharsets.UTF_8)).send()
                    .get(10, TimeUnit.SECONDS);
        }

        await().atMost(DELIVERY_WAIT).untilAsserted(() -> inboxes.forEach((name, inbox) ->
                assertThat(ClusterClients.payloads(inbox))
                        .as("%s: the messages published on R1 at QoS 0, 1 and 2 (none arrive when a message published "
                                + "on one replica is not forwarded to the others)", name)
                        .containsExactlyInAnyOrder("published at QoS 0", "published at QoS 1", "published at QoS 2")));
        inboxes.forEach((name, inbox) -> {
            for (Received m : List.copyOf(inbox)) {
                int pubQos = m.payload().charAt(m.payload().length() - 1) - '0';
                assertThat(m.qos()).as("%s: delivered QoS of the message %s", name, m.payload())
                        .isEqualTo(Math.min(pubQos, subscriptionQos.get(name)));
            }
        });
    }

    @Test
    void publish_whenTwoThousandQos1MessagesFromOnePublisher_thenSubscriberOnAnotherReplicaGetsThemInOrder()
            throws Exception {
        // [MQTT-4.6.0-6] messages of one publisher to one topic arrive in the order published (QoS 1, no reconnect).
        int count = 2_000;
        String topic = "route/" + TestClients.uniqueId("order");
        Mqtt5AsyncClient subscriber = clients.client(replicas.mqttPort(2), TestClients.uniqueId("order-sub"));
        List<Received> inbox = ClusterClients.inbox(subscriber);
        subscriber.connectWith().cleanStart(true).send()
                .thenCompose(ack -> subscriber.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient publisher = connected(1, "order-pub", 0);
        List<CompletableFuture<Mqtt5PublishResult>> acks = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            acks.add(publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(k).getBytes(StandardCharsets.UTF_8)).send());
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

        List<String> expected = IntStream.range(0, count).mapToObj(Integer::toString).toList();
        ClusterClients.awaitSize(inbox::size, count, Duration.ofSeconds(60), Duration.ofSeconds(10));
        assertThat(inbox.size()).as("messages received on R2 of %d QoS 1 messages published and acknowledged on R1",
                count).isGreaterThanOrEqualTo(count);
        List<String> got = ClusterClients.payloads(inbox);
        int firstDifference = IntStream.range(0, Math.min(got.size(), count)).filter(i -> !got.get(i).equals(expected.get(i)))
                .findFirst().orElse(-1);
        assertThat(firstDifference)
                .as("position of the first message received on R2 out of publishing order (received %d messages; there: %s)",
                        got.size(), firstDifference < 0 ? "-" : got.subList(firstDifference, Math.min(got.size(), firstDifference + 5)))
                .isEqualTo(-1);
        assertThat(got).as("messages received on R2, in order, nothing twice").hasSize(count);
    }

    @Test
    void subscribe_whenRetainedMessageWasSetOnAnotherReplica_thenNewSubscriptionGetsIt() throws Exception {
        // [MQTT-3.3.1-6] [MQTT-3.3.1-9] a new subscription gets the retained message of a matching topic, RETAIN 1.
        String topic = "route/" + TestClients.uniqueId("retained");
        Mqtt5AsyncClient publisher = connected(1, "retained-pub", 0);
        publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true)
                .payload("kept".getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);

        Mqtt5AsyncClient subscriber = clients.client(replicas.mqttPort(3), TestClients.uniqueId("retained-sub"));
        List<Received> inbox = ClusterClients.inbox(subscriber);
        subscriber.connectWith().cleanStart(true).send()
                .thenCompose(ack -> subscriber.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);
        await().atMost(DELIVERY_WAIT).untilAsserted(() -> assertThat(ClusterClients.payloads(inbox))
                .as("new subscription on R3 to a topic whose retained message was set (and acknowledged) on R1")
                .containsExactly("kept"));
        assertThat(inbox.get(0).retain()).as("RETAIN flag of the retained message delivered on R3").isTrue();
    }

    @Test
    void will_whenClientOnOneReplicaDropsItsSocket_thenWillReachesWatcherOnAnotherReplicaOnceAfterItsDelay()
            throws Exception {
        // [MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT 0x00,
        // after the Will Delay Interval (§3.1.3.2.2); once.
        String willTopic = "route/" + TestClients.uniqueId("will");
        Mqtt5AsyncClient watcher = clients.client(replicas.mqttPort(3), TestClients.uniqueId("will-watcher"));
        List<Received> inbox = ClusterClients.inbox(watcher);
        watcher.connectWith().cleanStart(true).send()
                .thenCompose(ack -> watcher.subscribeWith().topicFilter(willTopic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);
        RawMqttClient victim = TestClients.connectRaw(replicas.mqttPort(2),
                MqttPackets.connect(MqttPackets.MQTT_5, TestClients.uniqueId("will-victim")).sessionExpiry(60L)
                        .will(willTopic, "gone".getBytes(StandardCharsets.UTF_8), 1, false).willDelay(2L),
                false, Duration.ofSeconds(10));
        victim.closeAbruptly();
        long droppedAt = System.nanoTime();

        await().atMost(Duration.ofSeconds(2).plus(DELIVERY_WAIT)).untilAsserted(() -> assertThat(ClusterClients.payloads(inbox))
                .as("will of a client on R2 that dropped its connection, at a watcher on R3").isNotEmpty());
        long after = TimeUnit.NANOSECONDS.toMillis(inbox.get(0).atNanos() - droppedAt);
        assertThat(after).as("ms between the dropped connection and the will (Will Delay Interval 2 s)")
                .isGreaterThanOrEqualTo(1_800);
        await().during(Duration.ofMillis(1_500)).atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(ClusterClients.payloads(inbox)).as("wills received on R3 (published once, not by every replica)")
                        .containsExactly("gone"));
    }

    @Test
    void resume_whenOfflineDurableSessionResumesOnAThirdReplica_thenMessagesPublishedOnASecondAreDelivered()
            throws Exception {
        // [MQTT-3.1.2-5] [MQTT-3.2.2-3] a durable session resumes with Session Present 1 and the QoS 1
        // messages that matched its subscriptions while it was offline [MQTT-4.4.0-1].
        String id = TestClients.uniqueId("offline");
        String topic = "route/" + id;
        Mqtt5AsyncClient first = clients.client(replicas.mqttPort(1), id);
        first.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send()
                .thenCompose(ack -> first.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send())
                .thenCompose(ack -> first.disconnect())
                .get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient publisher = connected(2, "offline-pub", 0);
        for (int k = 1; k <= 3; k++) {
            publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(("while offline " + k).getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
        }

        Mqtt5AsyncClient resumed = clients.client(replicas.mqttPort(3), id);
        List<Received> inbox = ClusterClients.inbox(resumed);
        assertThat(resumed.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                .get(10, TimeUnit.SECONDS).isSessionPresent())
                .as("Session Present when a session created on R1 resumes on R3").isTrue();
        await().atMost(DELIVERY_WAIT).untilAsserted(() -> assertThat(ClusterClients.payloads(inbox))
                .as("messages published on R2 while the session (subscribed on R1) was offline, delivered on resume on R3")
                .containsExactly("while offline 1", "while offline 2", "while offline 3"));
    }

    @Test
    void recoveryPoll_whenAStoredCopyWasNeverForwarded_thenItsClientStillGetsItOnce() throws Exception {
        // A copy committed for a durable session whose forward was lost (here: written with SQL, as if the replica
        // that queued it had lost its link or died right after the commit) is found by the holder's recovery poll.
        String id = TestClients.uniqueId("lost-forward");
        Mqtt5AsyncClient subscriber = clients.client(replicas.mqttPort(2), id);
        List<Received> inbox = ClusterClients.inbox(subscriber);
        subscriber.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send()
                .get(10, TimeUnit.SECONDS);
        replicas.sql().update("INSERT INTO queued_messages (client_id, topic, payload, qos) "
                + "VALUES (?, 'lost/forward', convert_to('never forwarded', 'UTF8'), 1)", id);

        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(ClusterClients.payloads(inbox))
                .as("a stored message no forward brought, delivered by R2's recovery poll")
                .containsExactly("never forwarded"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(replicas.sql().rows(
                        "SELECT 1 FROM queued_messages WHERE client_id = ?", id))
                .as("queued rows of %s once the client acknowledged the recovered message", id).isEmpty());
        await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(6)).untilAsserted(() ->
                assertThat(ClusterClients.payloads(inbox)).as("deliveries of the recovered message").hasSize(1));
    }

    private Mqtt5AsyncClient connected(int replica, String prefix, long sessionExpiry) throws Exception {
        Mqtt5AsyncClient c = clients.client(replicas.mqttPort(replica), TestClients.uniqueId(prefix));
        c.connectWith().cleanStart(true).sessionExpiryInterval(sessionExpiry).send().get(10, TimeUnit.SECONDS);
        return c;
    }
}
