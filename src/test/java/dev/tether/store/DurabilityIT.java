package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5DisconnectException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.disconnect.Mqtt5DisconnectReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import com.hivemq.client.mqtt.mqtt5.message.publish.puback.Mqtt5PubAckReasonCode;
import dev.tether.testing.BrokerProcess;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged broker ({@code quarkus-run.jar}) as a separate process with its default embedded
 * PostgreSQL: what a PUBACK promised survives SIGKILL, and SIGTERM ends sessions cleanly.
 */
class DurabilityIT {

    private static final long SESSION_EXPIRY = 3600;

    private final List<BrokerProcess> brokers = new ArrayList<>();
    private final List<Mqtt5AsyncClient> clients = new ArrayList<>();

    @Test
    void publish_whenBrokerKilledRightAfterLastPuback_thenEveryAcknowledgedMessageReachesEveryResumedSession()
            throws Exception {
        // [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-3] session state (subscriptions, queued QoS 1 messages)
        // outlives the broker; [MQTT-4.3.2-2] PUBACK only after the server took ownership of the message;
        // [MQTT-4.6.0-6] messages from one publisher to one topic arrive in order.
        BrokerProcess broker = BrokerProcess.create("durability-it", "kill", brokers);
        broker.start();
        String run = UUID.randomUUID().toString().substring(0, 8);
        int sessions = 50;
        int groups = 10;
        int publishers = 4;
        int messages = 1000;

        List<String> ids = IntStream.range(0, sessions).mapToObj(i -> "dur-" + run + "-s" + i).toList();
        // Session i subscribes to its group's topics: each message fans out to sessions / groups sessions.
        List<CompletableFuture<?>> subscribed = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            Mqtt5AsyncClient c = client(broker.mqttPort, ids.get(i));
            String filter = "dur/" + run + "/g" + (i % groups) + "/+";
            subscribed.add(c.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send()
                    .thenCompose(ack -> c.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).send())
                    .thenCompose(ack -> c.disconnect()));
        }
        CompletableFuture.allOf(subscribed.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);

        Map<String, List<String>> expected = new ConcurrentHashMap<>();
        ids.forEach(id -> expected.put(id, new ArrayList<>()));
        List<Mqtt5AsyncClient> pubs = new ArrayList<>();
        for (int p = 0; p < publishers; p++) {
            Mqtt5AsyncClient c = client(broker.mqttPort, "dur-" + run + "-p" + p);
            c.connectWith().cleanStart(true).sessionExpiryInterval(0).send().get(10, TimeUnit.SECONDS);
            pubs.add(c);
        }
        AtomicLong lastPubackNanos = new AtomicLong();
        List<CompletableFuture<Mqtt5PublishResult>> acks = new ArrayList<>();
        for (int k = 0; k < messages; k++) {
            int p = k % publishers;
            int group = (k / publishers) % groups;
            String payload = "p" + p + "-m" + k;
            for (int i = group; i < sessions; i += groups) {
                expected.get(ids.get(i)).add(payload);
            }
            acks.add(pubs.get(p).publishWith().topic("dur/" + run + "/g" + group + "/p" + p)
                    .qos(MqttQos.AT_LEAST_ONCE).payload(payload.getBytes(StandardCharsets.UTF_8)).send()
                    .whenComplete((r, f) -> lastPubackNanos.accumulateAndGet(System.nanoTime(), Math::max)));
        }
        long postmaster = broker.postmasterPid().orElseThrow();
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        long killAt = broker.kill();
        long sinceLastPuback = TimeUnit.NANOSECONDS.toMillis(killAt - lastPubackNanos.get());
        System.out.printf("DurabilityIT: SIGKILL %d ms after the last of %d PUBACKs%n", sinceLastPuback, messages);
        assertThat(sinceLastPuback).as("SIGKILL within 50 ms of the last PUBACK").isLessThan(50);
        for (CompletableFuture<Mqtt5PublishResult> ack : acks) {
            Mqtt5PublishResult r = ack.get();
            assertThat(r.getError()).isEmpty();
            assertThat(((Mqtt5PublishResult.Mqtt5Qos1Result) r).getPubAck().getReasonCode())
                    .isEqualTo(Mqtt5PubAckReasonCode.SUCCESS);
        }
        assertThat(broker.process().waitFor(BrokerProcess.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        // pg_ctl started PostgreSQL detached: it outlives the killed JVM, and the next start must deal with it.
        assertThat(BrokerProcess.isRunning(postmaster)).as("orphaned PostgreSQL after SIGKILL").isTrue();

        broker.start(); // same data directory and ports: stops the orphan, replays the WAL
        assertThat(BrokerProcess.isRunning(postmaster)).as("orphan stopped by the restarted broker").isFalse();
        Map<String, List<String>> received = new ConcurrentHashMap<>();
        List<CompletableFuture<Mqtt5ConnAck>> connacks = new ArrayList<>();
        for (String id : ids) {
            List<String> got = Collections.synchronizedList(new ArrayList<>());
            received.put(id, got);
            Mqtt5AsyncClient c = client(broker.mqttPort, id);
            c.publishes(MqttGlobalPublishFilter.ALL, m -> got.add(new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8)));
            connacks.add(c.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send());
        }
        for (CompletableFuture<Mqtt5ConnAck> connack : connacks) {
            assertThat(connack.get(30, TimeUnit.SECONDS).isSessionPresent()).isTrue();
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            for (String id : ids) {
                assertThat(received.get(id)).as(id).hasSameSizeAs(expected.get(id));
            }
        });
        // Nothing more (no duplicates) arrives within a further second.
        await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            for (String id : ids) {
                assertThat(received.get(id)).as(id).hasSameSizeAs(expected.get(id));
            }
        });
        for (String id : ids) {
            List<String> got = List.copyOf(received.get(id));
            assertThat(got).as(id).containsExactlyInAnyOrderElementsOf(expected.get(id));
            for (int p = 0; p < publishers; p++) {
                String prefix = "p" + p + "-";
                assertThat(got.stream().filter(s -> s.startsWith(prefix)).toList()).as(id + " from publisher " + p)
                        .containsExactlyElementsOf(expected.get(id).stream().filter(s -> s.startsWith(prefix)).toList());
            }
        }
    }

    @Test
    void shutdown_whenSigterm_thenDisconnect0x8BAndSessionsResumeAfterRestart() throws Exception {
        // [MQTT-3.14.2-1] DISCONNECT with reason 0x8B Server shutting down before the server closes;
        // [MQTT-3.1.2-5] [MQTT-3.2.2-3] the sessions survive the restart (Session Present 1).
        BrokerProcess broker = BrokerProcess.create("durability-it", "term", brokers);
        broker.start();
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = IntStream.range(0, 10).mapToObj(i -> "term-" + run + "-s" + i).toList();
        Map<String, AtomicReference<Throwable>> causes = new ConcurrentHashMap<>();
        List<CompletableFuture<?>> online = new ArrayList<>();
        for (String id : ids) {
            AtomicReference<Throwable> cause = new AtomicReference<>();
            causes.put(id, cause);
            Mqtt5AsyncClient c = track(MqttClient.builder().useMqttVersion5().identifier(id)
                    .serverHost("127.0.0.1").serverPort(broker.mqttPort)
                    .addDisconnectedListener(ctx -> cause.compareAndSet(null, ctx.getCause()))
                    .buildAsync());
            online.add(c.connectWith().cleanStart(true).sessionExpiryInterval(SESSION_EXPIRY).send()
                    .thenCompose(ack -> c.subscribeWith().topicFilter("term/" + run + "/" + id)
                            .qos(MqttQos.AT_LEAST_ONCE).send()));
        }
        CompletableFuture.allOf(online.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        long postmaster = broker.postmasterPid().orElseThrow();

        broker.process().destroy(); // SIGTERM
        assertThat(broker.process().waitFor(BrokerProcess.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).as("broker exits on SIGTERM").isTrue();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            for (String id : ids) {
                assertThat(causes.get(id).get()).as(id).isInstanceOf(Mqtt5DisconnectException.class);
            }
        });
        for (String id : ids) {
            Mqtt5DisconnectException e = (Mqtt5DisconnectException) causes.get(id).get();
            assertThat(e.getMqttMessage().getReasonCode()).as(id).isEqualTo(Mqtt5DisconnectReasonCode.SERVER_SHUTTING_DOWN);
        }
        // The broker stops its embedded PostgreSQL on a graceful exit.
        await().atMost(Duration.ofSeconds(10)).until(() -> !BrokerProcess.isRunning(postmaster));

        broker.start();
        try (Connection db = broker.jdbc();
                PreparedStatement s = db.prepareStatement(
                        "SELECT count(*) FROM sessions WHERE client_id = ANY (?) AND NOT connected "
                                + "AND disconnected_at IS NOT NULL AND instance_id IS NULL")) {
            s.setArray(1, db.createArrayOf("text", ids.toArray()));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).as("sessions recorded as disconnected").isEqualTo(ids.size());
            }
        }
        for (String id : ids) {
            Mqtt5AsyncClient c = client(broker.mqttPort, id);
            assertThat(c.connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                    .get(10, TimeUnit.SECONDS).isSessionPresent()).as(id).isTrue();
        }
    }

    @AfterEach
    void stopEverything() {
        for (Mqtt5AsyncClient c : clients) {
            try {
                c.disconnect().get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                // already disconnected by the broker
            }
        }
        clients.clear();
        for (BrokerProcess b : brokers) {
            b.stop();
        }
        brokers.clear();
    }

    private Mqtt5AsyncClient client(int port, String id) {
        return track(MqttClient.builder().useMqttVersion5().identifier(id).serverHost("127.0.0.1").serverPort(port)
                .buildAsync());
    }

    private Mqtt5AsyncClient track(Mqtt5AsyncClient c) {
        clients.add(c);
        return c;
    }
}
