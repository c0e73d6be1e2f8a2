package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SUBACK on one replica is a promise for the whole set: a PUBLISH that any replica receives after
 * the SUBACK was sent reaches the new subscription.
 */
class SubscribeThenPublishIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("subscribe-then-publish-it", 3);

    private static final int ROUNDS = 200;
    private static final Duration ROUND_WAIT = Duration.ofSeconds(5);

    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    void publish_whenSentRightAfterSubackOnAnotherReplica_thenReachesTheNewSubscription() throws Exception {
        // [MQTT-3.8.4-1] SUBACK after the subscription is in place; from then on matching messages
        // are delivered [MQTT-3.3.4-1], wherever they are published.
        String run = TestClients.uniqueId("stp");
        Mqtt5AsyncClient subscriber = clients.client(replicas.mqttPort(1), run + "-sub");
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        subscriber.publishes(MqttGlobalPublishFilter.ALL,
                m -> received.add(m.getTopic() + " " + new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8)));
        subscriber.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient onR2 = clients.client(replicas.mqttPort(2), run + "-pub2");
        Mqtt5AsyncClient onR3 = clients.client(replicas.mqttPort(3), run + "-pub3");
        onR2.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        onR3.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);

        for (int round = 0; round < ROUNDS; round++) {
            String topic = "stp/" + run + "/" + round;
            subscriber.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send().get(10, TimeUnit.SECONDS);
            CompletableFuture<Mqtt5PublishResult> fromR2 = onR2.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("from R2".getBytes(StandardCharsets.UTF_8)).send();
            CompletableFuture<Mqtt5PublishResult> fromR3 = onR3.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("from R3".getBytes(StandardCharsets.UTF_8)).send();
            Set<String> expected = new HashSet<>(Set.of(topic + " from R2", topic + " from R3"));
            Set<String> got = new HashSet<>();
            long deadline = System.nanoTime() + ROUND_WAIT.toNanos();
            while (!got.containsAll(expected)) {
                long left = deadline - System.nanoTime();
                String m = left > 0 ? received.poll(left, TimeUnit.NANOSECONDS) : null;
                if (m == null) {
                    break;
                }
                got.add(m);
            }
            expected.removeAll(got);
            assertThat(expected)
                    .as("round %d of %d: QoS 1 messages published on R2 and R3 right after SUBACK on R1 for %s "
                            + "that the subscriber did not get within %s (PUBACKs: R2 %s, R3 %s)", round + 1, ROUNDS,
                            topic, ROUND_WAIT, describe(fromR2), describe(fromR3))
                    .isEmpty();
            fromR2.get(10, TimeUnit.SECONDS);
            fromR3.get(10, TimeUnit.SECONDS);
        }
    }

    private static String describe(CompletableFuture<Mqtt5PublishResult> ack) {
        if (!ack.isDone()) {
            return "pending";
        }
        return ack.isCompletedExceptionally() ? "failed" : "received";
    }
}
