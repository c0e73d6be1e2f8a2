package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import dev.tether.cluster.ClusterClients.Received;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A shared subscription {@code $share/g/f} spans the replicas: each message goes to one member of the group. */
class SharedSubscriptionIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("shared-subscription-it", 3);

    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    void publish_whenOneMemberOnEachReplicaAndPublishersOnAll_thenEachMessageReachesExactlyOneMember()
            throws Exception {
        // [MQTT-4.8.2-*] §4.8.2: a message matching a shared subscription goes to one session of the group.
        String run = TestClients.uniqueId("share");
        Map<String, List<Received>> members = subscribeMembers(run, "$share/" + run + "/share/" + run, 1, 2, 3);
        Map<String, Integer> expected = publish("share/" + run, 300, 1, 2, 3);

        assertEachDeliveredOnce(members, expected, "published 300 on each of R1, R2, R3");
        members.forEach((name, inbox) -> assertThat(inbox).as("messages delivered to the %s", name).isNotEmpty());
    }

    @Test
    void publish_whenNoMemberOnThePublishersReplica_thenEachMessageReachesExactlyOneMemberElsewhere()
            throws Exception {
        // The group has members only on R2 and R3: messages published on R1 still reach the group, once each.
        String run = TestClients.uniqueId("share-remote");
        Map<String, List<Received>> members = subscribeMembers(run, "$share/" + run + "/share/" + run, 2, 3);
        Map<String, Integer> expected = publish("share/" + run, 300, 1);

        assertEachDeliveredOnce(members, expected, "published 300 on R1, where the group has no member");
    }

    private Map<String, List<Received>> subscribeMembers(String run, String filter, int... onReplicas) throws Exception {
        Map<String, List<Received>> members = new LinkedHashMap<>();
        for (int r : onReplicas) {
            Mqtt5AsyncClient m = clients.client(replicas.mqttPort(r), run + "-member-r" + r);
            members.put("group member on R" + r, ClusterClients.inbox(m));
            m.connectWith().cleanStart(true).send()
                    .thenCompose(ack -> m.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).send())
                    .get(10, TimeUnit.SECONDS);
        }
        return members;
    }

    /** Publishes {@code perReplica} QoS 1 messages from a publisher on each given replica; waits for every PUBACK. */
    private Map<String, Integer> publish(String topic, int perReplica, int... fromReplicas) throws Exception {
        Map<String, Integer> expected = new HashMap<>();
        List<CompletableFuture<Mqtt5PublishResult>> acks = new ArrayList<>();
        for (int r : fromReplicas) {
            Mqtt5AsyncClient p = clients.client(replicas.mqttPort(r), TestClients.uniqueId("share-pub-r" + r));
            p.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
            for (int k = 0; k < perReplica; k++) {
                String payload = "R" + r + "-" + k;
                expected.put(payload, 1);
                acks.add(p.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(payload.getBytes(StandardCharsets.UTF_8)).send());
            }
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        return expected;
    }

    private static void assertEachDeliveredOnce(Map<String, List<Received>> members, Map<String, Integer> expected,
                                                String published) throws InterruptedException {
        ClusterClients.awaitSize(() -> total(members), expected.size(), Duration.ofSeconds(30), Duration.ofSeconds(10));
        assertThat(total(members))
                .as("messages delivered to the group in total (%s, %d messages; per member: %s)", published,
                        expected.size(), perMember(members))
                .isGreaterThanOrEqualTo(expected.size());
        Thread.sleep(1_500); // a window for duplicates or second deliveries to show up
        Map<String, Integer> deliveries = new HashMap<>();
        members.values().forEach(inbox -> ClusterClients.payloads(inbox).forEach(p -> deliveries.merge(p, 1, Integer::sum)));
        Map<String, Integer> duplicates = new HashMap<>(deliveries);
        duplicates.values().removeIf(n -> n == 1);
        assertThat(duplicates).as("messages delivered to more than one member, or twice (%s; per member: %s)", published,
                perMember(members)).isEmpty();
        assertThat(deliveries).as("deliveries per message (%s)", published).isEqualTo(expected);
    }

    private static int total(Map<String, List<Received>> members) {
        return members.values().stream().mapToInt(List::size).sum();
    }

    private static Map<String, Integer> perMember(Map<String, List<Received>> members) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        members.forEach((name, inbox) -> counts.put(name, inbox.size()));
        return counts;
    }
}
