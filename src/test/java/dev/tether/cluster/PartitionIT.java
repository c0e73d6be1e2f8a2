package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A replica that stops answering (here frozen with SIGSTOP, as a long GC pause or a partition would leave it) cannot
 * break the SUBACK promise: the subscribing replica fences it in PostgreSQL and answers once its lease has run out,
 * and the frozen replica, when it runs again, finds its lease lost and stops serving instead of acting on stale state.
 */
class PartitionIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("partition-it", 3);

    private static final long SESSION_EXPIRY = 300;
    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    void subscribe_whenAReplicaIsFrozen_thenSubackWaitsForItsFencingAndTheFrozenReplicaStopsWhenItWakes()
            throws Exception {
        String run = TestClients.uniqueId("partition");
        // A durable client on R3, which is about to freeze.
        Mqtt5AsyncClient onR3 = clients.client(replicas.mqttPort(3), run + "-r3");
        onR3.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send().get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient subscriber = clients.client(replicas.mqttPort(1), run + "-sub");
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        subscriber.publishes(MqttGlobalPublishFilter.ALL,
                m -> received.add(new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8)));
        subscriber.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient publisher = clients.client(replicas.mqttPort(2), run + "-pub");
        publisher.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        UUID r3 = replicas.instanceId(3);

        replicas.pause(3);
        long subscribeAt = System.nanoTime();
        subscriber.subscribeWith().topicFilter("partition/" + run).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(30, TimeUnit.SECONDS);
        long subackMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - subscribeAt);
        System.out.printf("PartitionIT: SUBACK %d ms after SUBSCRIBE with R3 frozen (ack timeout %s, lease %s)%n",
                subackMillis, ReplicaSet.ACK_TIMEOUT, ReplicaSet.INSTANCE_TIMEOUT);
        assertThat(subackMillis).as("SUBACK waited for the frozen replica to be fenced (ack timeout %s)",
                ReplicaSet.ACK_TIMEOUT).isGreaterThanOrEqualTo(ReplicaSet.ACK_TIMEOUT.toMillis());
        List<Map<String, Object>> row = replicas.sql().rows(
                "SELECT fenced_at IS NOT NULL AS fenced, lease_expires_at <= now() AS lapsed FROM broker_instances "
                        + "WHERE instance_id = ?", r3);
        assertThat(row).as("R3's broker_instances row when SUBACK came").singleElement()
                .satisfies(r -> {
                    assertThat(r).containsEntry("fenced", true);
                    assertThat(r).containsEntry("lapsed", true);
                });

        publisher.publishWith().topic("partition/" + run).qos(MqttQos.AT_LEAST_ONCE)
                .payload("after suback".getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
        assertThat(received.poll(10, TimeUnit.SECONDS)).as("message published on R2 after the SUBACK on R1")
                .isEqualTo("after suback");

        replicas.resume(3);
        OptionalInt exit = replicas.awaitExit(3, Duration.ofSeconds(20));
        assertThat(exit).as("R3 woke up without its lease: it stops serving and exits 75 for a restart")
                .hasValue(75);

        // Its durable client resumes on another replica with its session.
        Mqtt5AsyncClient resumed = clients.client(replicas.mqttPort(1), run + "-r3");
        assertThat(resumed.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                .get(15, TimeUnit.SECONDS).isSessionPresent())
                .as("Session Present for the frozen replica's durable client, reconnecting to R1").isTrue();
    }
}
