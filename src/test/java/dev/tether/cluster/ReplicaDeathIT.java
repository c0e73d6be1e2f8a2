package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import dev.tether.cluster.ClusterClients.Received;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A replica SIGKILLed under load: its lease expires, another replica settles its sessions once
 * (wills published once), and a durable subscriber resumes on another replica with every message
 * that was acknowledged to a publisher.
 */
class ReplicaDeathIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("replica-death-it", 3);

    private static final long SESSION_EXPIRY = 300;
    private static final Duration PUBLISHING = Duration.ofSeconds(6);
    private static final Duration KILL_AFTER = Duration.ofSeconds(2);
    private static final long PUBLISH_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(5); // ~200 msg/s
    private static final Duration RECONNECT_WAIT = Duration.ofSeconds(30);

    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    void kill_whenReplicaOfADurableSubscriberDies_thenItResumesElsewhereWithEveryAcknowledgedMessageAndItsWillIsPublishedOnce()
            throws Exception {
        // [MQTT-4.3.2-2] PUBACK means the server owns the message; [MQTT-3.1.2-5] [MQTT-3.2.2-3] the
        // session outlives its connection (and its replica); [MQTT-3.1.2-8] the will is published
        // when the connection is lost without DISCONNECT, once.
        String run = TestClients.uniqueId("death");
        String topic = "death/" + run + "/data";
        String willTopic = "death/" + run + "/will";
        String subscriberId = run + "-S";

        Mqtt5AsyncClient watcher = clients.client(replicas.mqttPort(1), run + "-watcher");
        List<Received> wills = ClusterClients.inbox(watcher);
        watcher.connectWith().cleanStart(true).send()
                .thenCompose(ack -> watcher.subscribeWith().topicFilter(willTopic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);

        Set<Integer> received = ConcurrentHashMap.newKeySet();
        Mqtt5AsyncClient onR2 = clients.client(replicas.mqttPort(2), subscriberId);
        onR2.publishes(MqttGlobalPublishFilter.ALL, m -> received.add(number(m.getPayloadAsBytes())));
        onR2.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY)
                .willPublish().topic(willTopic).qos(MqttQos.AT_LEAST_ONCE)
                .payload("S lost".getBytes(StandardCharsets.UTF_8)).applyWillPublish()
                .send()
                .thenCompose(ack -> onR2.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);

        Mqtt5AsyncClient publisher = clients.client(replicas.mqttPort(1), run + "-P");
        publisher.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();
        List<CompletableFuture<Mqtt5PublishResult>> sent = new ArrayList<>();
        long start = System.nanoTime();
        long killedAt = 0;
        for (int k = 0; System.nanoTime() - start < PUBLISHING.toNanos(); k++) {
            int n = k;
            sent.add(publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(n).getBytes(StandardCharsets.UTF_8)).send()
                    .whenComplete((r, failure) -> {
                        if (failure == null && r.getError().isEmpty()) {
                            acknowledged.add(n);
                        }
                    }));
            if (killedAt == 0 && System.nanoTime() - start >= KILL_AFTER.toNanos()) {
                replicas.kill(2);
                killedAt = System.nanoTime();
            }
            long next = start + (k + 1) * PUBLISH_PERIOD_NANOS;
            long pause = next - System.nanoTime();
            if (pause > 0) {
                TimeUnit.NANOSECONDS.sleep(pause);
            }
        }
        CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).handle((v, f) -> null).get(30, TimeUnit.SECONDS);
        System.out.printf("ReplicaDeathIT: %d published on R1, %d acknowledged; R2 killed %d ms into publishing%n",
                sent.size(), acknowledged.size(), TimeUnit.NANOSECONDS.toMillis(killedAt - start));

        Mqtt5ConnAck connack = null;
        Throwable lastRefusal = null;
        long reconnectDeadline = System.nanoTime() + RECONNECT_WAIT.toNanos();
        while (connack == null && System.nanoTime() < reconnectDeadline) {
            Mqtt5AsyncClient onR3 = clients.client(replicas.mqttPort(3), subscriberId);
            onR3.publishes(MqttGlobalPublishFilter.ALL, m -> received.add(number(m.getPayloadAsBytes())));
            try {
                connack = onR3.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                        .get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                lastRefusal = e;
                Thread.sleep(500); // retry pace of a reconnecting client; bounded by the deadline
            }
        }
        assertThat(connack).as("CONNACK for S on R3 within %s after R2 died (last refusal: %s)", RECONNECT_WAIT, lastRefusal)
                .isNotNull();
        assertThat(connack.isSessionPresent()).as("Session Present for S on R3 after its replica R2 was killed").isTrue();
        long resumedAt = System.nanoTime();

        ClusterClients.awaitSize(() -> {
            Set<Integer> got = new TreeSet<>(acknowledged);
            got.retainAll(received);
            return got.size();
        }, acknowledged.size(), Duration.ofSeconds(30), Duration.ofSeconds(10));
        Set<Integer> missing = new TreeSet<>(acknowledged);
        missing.removeAll(received);
        assertThat(missing.size()).as("messages P got a PUBACK for on R1 that S (on R2, then resumed on R3) never received, "
                + "of %d acknowledged (first missing: %s)", acknowledged.size(), missing.stream().limit(10).toList()).isZero();

        long willDeadline = killedAt + ReplicaSet.INSTANCE_TIMEOUT.plusSeconds(5).toNanos();
        await().atMost(Duration.ofNanos(Math.max(TimeUnit.SECONDS.toNanos(1), willDeadline - System.nanoTime())))
                .untilAsserted(() -> assertThat(ClusterClients.payloads(wills))
                        .as("S's will at a watcher on R1, within the lease (%s) + 5 s of R2's death", ReplicaSet.INSTANCE_TIMEOUT)
                        .isNotEmpty());
        long willAt = System.nanoTime();
        System.out.printf("ReplicaDeathIT: S resumed on R3 %d ms after R2 was killed, its will arrived %d ms after "
                        + "(lease %s)%n", TimeUnit.NANOSECONDS.toMillis(resumedAt - killedAt),
                TimeUnit.NANOSECONDS.toMillis(willAt - killedAt), ReplicaSet.INSTANCE_TIMEOUT);
        // A window for a second publication of the will.
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).untilAsserted(() ->
                assertThat(ClusterClients.payloads(wills)).as("S's will at the watcher on R1 (published once, by one "
                        + "replica)").containsExactly("S lost"));
    }

    private static int number(byte[] payload) {
        return Integer.parseInt(new String(payload, StandardCharsets.UTF_8));
    }
}
