package dev.tether.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5DisconnectException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.disconnect.Mqtt5DisconnectReasonCode;
import dev.tether.cluster.ClusterClients.Received;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replicas stopped with SIGTERM hand their sessions over at once; all of them stopped and one
 * started again, every session whose deadline has not passed resumes.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ScaleDownIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("scale-down-it", 3);

    private static final long SESSION_EXPIRY = 300;
    private static final long WILL_DELAY = 2;
    private static final Duration RESUME_WITHIN = Duration.ofSeconds(2);

    private final ClusterClients clients = new ClusterClients();

    @AfterEach
    void disconnectClients() {
        clients.disconnectAll();
    }

    @Test
    @Order(1)
    void sigterm_whenReplicaStops_thenItsClientGets0x8BAndResumesOnAnotherReplicaAtOnceWithoutWill() throws Exception {
        // [MQTT-3.14.2-1] DISCONNECT 0x8B Server shutting down; [MQTT-3.2.2-3] Session Present 1 on
        // the next CONNECT; a reconnect within the Will Delay Interval keeps the will unpublished (§3.1.3.2.2).
        String run = TestClients.uniqueId("scale");
        String willTopic = "scale/" + run + "/will";
        Mqtt5AsyncClient watcher = clients.client(replicas.mqttPort(1), run + "-watcher");
        List<Received> wills = ClusterClients.inbox(watcher);
        watcher.connectWith().cleanStart(true).send()
                .thenCompose(ack -> watcher.subscribeWith().topicFilter(willTopic).qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);

        String id = run + "-client";
        AtomicReference<Throwable> cause = new AtomicReference<>();
        AtomicLong disconnectedAt = new AtomicLong();
        Mqtt5AsyncClient onR2 = clients.client(replicas.mqttPort(2), id, b -> b.addDisconnectedListener(ctx -> {
            if (cause.compareAndSet(null, ctx.getCause())) {
                disconnectedAt.set(System.nanoTime());
            }
        }));
        onR2.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY)
                .willPublish().topic(willTopic).qos(MqttQos.AT_LEAST_ONCE)
                .payload("client lost".getBytes(StandardCharsets.UTF_8)).delayInterval(WILL_DELAY).applyWillPublish()
                .send()
                .thenCompose(ack -> onR2.subscribeWith().topicFilter("scale/" + run + "/data").qos(MqttQos.AT_LEAST_ONCE).send())
                .get(10, TimeUnit.SECONDS);
        UUID r2Instance = replicas.instanceId(2);

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> {
            try {
                replicas.stop(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> cause.get() != null);
        assertThat(cause.get()).as("why the client on R2 was disconnected when R2 got SIGTERM")
                .isInstanceOf(Mqtt5DisconnectException.class);
        assertThat(((Mqtt5DisconnectException) cause.get()).getMqttMessage().getReasonCode())
                .as("DISCONNECT reason code from R2 on SIGTERM").isEqualTo(Mqtt5DisconnectReasonCode.SERVER_SHUTTING_DOWN);

        Mqtt5ConnAck connack = null;
        Throwable lastRefusal = null;
        long deadline = disconnectedAt.get() + RESUME_WITHIN.toNanos();
        while (System.nanoTime() < deadline) {
            Mqtt5AsyncClient onR1 = clients.client(replicas.mqttPort(1), id);
            try {
                Mqtt5ConnAck ack = onR1.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                        .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (ack.isSessionPresent()) {
                    connack = ack;
                    break;
                }
                lastRefusal = new AssertionError("CONNACK with Session Present 0");
                onR1.disconnect().get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                lastRefusal = e;
            }
            Thread.sleep(100); // retry pace of a reconnecting client, bounded by the deadline
        }
        assertThat(connack).as("CONNACK with Session Present 1 on R1 within %s of R2's DISCONNECT 0x8B (last attempt: %s)",
                RESUME_WITHIN, lastRefusal).isNotNull();
        long resumedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - disconnectedAt.get());

        stopped.get(ReplicaSet.EXIT_WAIT.toSeconds() + 5, TimeUnit.SECONDS);
        assertThat(replicas.process(2).isAlive()).as("R2 exited after SIGTERM").isFalse();
        // The will would be due WILL_DELAY after the disconnect; watch past that.
        long watchUntil = disconnectedAt.get() + TimeUnit.SECONDS.toNanos(WILL_DELAY + 2);
        Thread.sleep(Math.max(1_000, TimeUnit.NANOSECONDS.toMillis(watchUntil - System.nanoTime())));
        assertThat(ClusterClients.payloads(wills))
                .as("wills published although the client resumed on R1 %d ms after R2's DISCONNECT 0x8B", resumedAfter)
                .isEmpty();
        assertThat(replicas.sql().rows("SELECT stopped_at FROM broker_instances WHERE instance_id = ?", r2Instance))
                .as("broker_instances row of R2 (%s) after its SIGTERM", r2Instance)
                .singleElement().extracting(row -> row.get("stopped_at")).isNotNull();
    }

    @Test
    @Order(2)
    void scaleToZero_whenAllReplicasStoppedAndOneStarted_thenUnexpiredSessionResumesWithItsQueueAndExpiredOneIsGone()
            throws Exception {
        // [MQTT-3.1.2-23] a session is kept until its deadline; [MQTT-3.2.2-3] Session Present 1 for
        // the one still valid, 0 for the one past its deadline; [MQTT-4.4.0-1] its queued QoS 1 message arrives.
        String run = TestClients.uniqueId("zero");
        String keptId = run + "-kept";
        String expiredId = run + "-expired";
        for (String id : List.of(keptId, expiredId)) {
            Mqtt5AsyncClient c = clients.client(replicas.mqttPort(1), id);
            c.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send()
                    .thenCompose(ack -> c.subscribeWith().topicFilter("zero/" + id).qos(MqttQos.AT_LEAST_ONCE).send())
                    .thenCompose(ack -> c.disconnect())
                    .get(10, TimeUnit.SECONDS);
        }
        Mqtt5AsyncClient publisher = clients.client(replicas.mqttPort(1), run + "-pub");
        publisher.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        for (String id : List.of(keptId, expiredId)) {
            publisher.publishWith().topic("zero/" + id).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(("queued for " + id).getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
        }
        clients.disconnectAll();

        for (int i = replicas.size(); i >= 1; i--) {
            replicas.stop(i);
        }
        assertThat(replicas.sql().update("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE client_id = ?",
                expiredId)).as("sessions rows moved past their deadline").isEqualTo(1);
        replicas.start(1);

        Mqtt5AsyncClient kept = clients.client(replicas.mqttPort(1), keptId);
        List<Received> keptInbox = ClusterClients.inbox(kept);
        assertThat(kept.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                .get(10, TimeUnit.SECONDS).isSessionPresent())
                .as("Session Present for a durable session whose deadline has not passed, after scaling to zero and back")
                .isTrue();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(ClusterClients.payloads(keptInbox))
                .as("message queued for %s before the replicas stopped", keptId).containsExactly("queued for " + keptId));

        Mqtt5AsyncClient expired = clients.client(replicas.mqttPort(1), expiredId);
        List<Received> expiredInbox = ClusterClients.inbox(expired);
        assertThat(expired.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                .get(10, TimeUnit.SECONDS).isSessionPresent())
                .as("Session Present for a session whose deadline passed while no replica ran").isFalse();
        Thread.sleep(1_000); // a window for a message of the expired session to show up
        assertThat(ClusterClients.payloads(expiredInbox)).as("messages delivered to a client whose session expired").isEmpty();
    }
}
