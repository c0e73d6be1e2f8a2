package dev.tether.knative;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult.Mqtt5Qos1Result;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Knative scales the revision 1 -> 3 -> 1 under load (the replicas removed get SIGTERM), then to zero when the
 * last client leaves, and the activator holds the next connection while a replica starts.
 */
class ScalingIT {

    private static final Duration REVISION_TIMEOUT = Duration.ofSeconds(4);
    private static final Duration IDLE_TO_ZERO = Duration.ofSeconds(1);
    private static final long SESSION_EXPIRY = 300;
    private static final long SHORT_SESSION_EXPIRY = 4;
    private static final int SUBSCRIBERS = 3;
    /** The receive window of the subscribers: at most this many unacknowledged messages are resent per reconnection. */
    private static final int RECEIVE_MAXIMUM = 10;
    private static final int MAX_MESSAGES = 400;
    private static final int QUEUED_MESSAGES = 20;
    private static final Duration PUBLISH_EVERY = Duration.ofMillis(20);

    @RegisterExtension
    static final KnativeSimulator knative = KnativeSimulator.of("scaling-it", KnativeSettings.defaults()
            .withReplicas(0, 3).withRevisionTimeout(REVISION_TIMEOUT).withDrainTimeout(Duration.ofSeconds(30))
            .withScaleToZeroAfter(IDLE_TO_ZERO));

    @Test
    void scaleTo_whenOneToThreeToOneUnderLoadThenZeroAndBack_thenEverySessionAndQueuedMessageSurvivesAndExpiredOneIsGone()
            throws Exception {
        // [MQTT-3.1.2-5] Clean Start 0 resumes, wherever the proxy routes; [MQTT-3.14.2-1] SIGTERM on scale-down
        // sends DISCONNECT 0x8B; [MQTT-3.1.2-23] queued messages outlive every replica; [MQTT-4.1.0-2] a session
        // whose deadline passed while no replica ran is not resumed ([MQTT-3.2.2-3] Session Present 0).
        String run = TestClients.uniqueId("kn-scale");
        String topic = "kn/" + run + "/data";
        List<WsSubscriber> subscribers = new ArrayList<>();
        for (int i = 1; i <= SUBSCRIBERS; i++) {
            WsSubscriber s = new WsSubscriber(knative, run + "-sub" + i, UnaryOperator.identity());
            s.client().connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY)
                    .restrictions().receiveMaximum(RECEIVE_MAXIMUM).applyRestrictions().send()
                    .get(90, TimeUnit.SECONDS); // the revision starts at zero: the first is held while R1 starts
            s.subscribe(topic);
            subscribers.add(s);
        }
        assertThat(knative.inRotation()).as("replicas after the first connection cold-started one").containsExactly(1);
        // The publisher talks MQTT over TCP straight to R1, the replica that is never removed.
        Mqtt5AsyncClient publisher = MqttClient.builder().useMqttVersion5().identifier(run + "-pub")
                .serverHost("127.0.0.1").serverPort(knative.replicas().mqttPort(1)).buildAsync();
        publisher.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);

        // Load in the background while the revision scales 1 -> 3 -> 1.
        Set<Integer> acknowledged = Collections.synchronizedSet(new TreeSet<>());
        AtomicBoolean stopLoad = new AtomicBoolean();
        CompletableFuture<Integer> load = CompletableFuture.supplyAsync(() -> {
            List<CompletableFuture<?>> pubacks = new ArrayList<>();
            int sent = 0;
            while (sent < MAX_MESSAGES && !stopLoad.get()) {
                int seq = sent++;
                pubacks.add(publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(Integer.toString(seq).getBytes(StandardCharsets.UTF_8)).send().thenAccept(r -> {
                            if (r.getError().isEmpty() && !((Mqtt5Qos1Result) r).getPubAck().getReasonCode().isError()) {
                                acknowledged.add(seq);
                            }
                        }));
                LockSupport.parkNanos(PUBLISH_EVERY.toNanos()); // the load's pace, bounded by MAX_MESSAGES
            }
            CompletableFuture.allOf(pubacks.toArray(CompletableFuture[]::new)).join();
            return sent;
        });
        knative.scaleTo(3);
        long routed2 = knative.connectionsRoutedTo(2);
        long routed3 = knative.connectionsRoutedTo(3);
        // Revision-timeout cuts spread the subscribers over the three replicas.
        await().atMost(REVISION_TIMEOUT.multipliedBy(4)).until(() -> knative.connectionsRoutedTo(2) > routed2
                && knative.connectionsRoutedTo(3) > routed3);
        knative.scaleTo(1);
        assertThat(knative.replicas().isRunning(2) || knative.replicas().isRunning(3))
                .as("R2 or R3 still running after the scale-down to 1").isFalse();
        stopLoad.set(true);
        int sent = load.get(30, TimeUnit.SECONDS);
        publisher.disconnect().get(5, TimeUnit.SECONDS);
        for (WsSubscriber s : subscribers) {
            await().atMost(Duration.ofSeconds(20)).until(() -> seqs(s).containsAll(acknowledged));
        }
        System.out.printf("ScalingIT 1->3->1: sent %d, acknowledged %d, received %s, duplicates %s, connections %s; %s%n",
                sent, acknowledged.size(), subscribers.stream().map(s -> s.inbox().size()).toList(),
                subscribers.stream().map(s -> s.inbox().size() - seqs(s).size()).toList(),
                subscribers.stream().map(WsSubscriber::connections).toList(), knative.figures());
        assertThat(acknowledged).as("messages PUBACKed to the publisher during scaling").hasSize(sent);
        for (WsSubscriber s : subscribers) {
            assertThat(s.sessionPresent()).as("Session Present of %s's CONNACKs", s.clientId)
                    .startsWith(false).containsOnlyOnce(false);
            assertThat(s.connections()).as("connections of %s (cut and moved while scaling)", s.clientId)
                    .isGreaterThan(1);
            // A second copy may only be a resend on a later connection, at most a receive window per reconnection.
            Map<String, List<Integer>> copies = s.inbox().stream().collect(Collectors.groupingBy(
                    WsSubscriber.Received::payload, Collectors.mapping(WsSubscriber.Received::connection, Collectors.toList())));
            assertThat(copies).as("connections each message reached %s on", s.clientId)
                    .allSatisfy((seq, on) -> assertThat(on).as("connections of message %s", seq).doesNotHaveDuplicates());
            assertThat(s.inbox().size() - copies.size()).as("second copies at %s", s.clientId)
                    .isLessThanOrEqualTo((s.connections() - 1) * RECEIVE_MAXIMUM);
        }

        // Everybody leaves; messages are queued for the durable sessions; a short session ends while at zero. The
        // short-lived client (reconnecting through cuts) keeps the revision busy until the messages are queued.
        WsSubscriber shortLived = new WsSubscriber(knative, run + "-short", UnaryOperator.identity());
        shortLived.client().connectWith().cleanStart(false).sessionExpiryInterval(SHORT_SESSION_EXPIRY).send()
                .get(10, TimeUnit.SECONDS);
        shortLived.subscribe(topic);
        Mqtt5AsyncClient queuer = MqttClient.builder().useMqttVersion5().identifier(run + "-queuer")
                .serverHost("127.0.0.1").serverPort(knative.replicas().mqttPort(1)).buildAsync();
        queuer.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        subscribers.forEach(WsSubscriber::disconnect);
        Set<Integer> queued = new TreeSet<>();
        for (int i = 0; i < QUEUED_MESSAGES; i++) {
            int seq = MAX_MESSAGES + i;
            queuer.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(Integer.toString(seq).getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
            queued.add(seq);
        }
        queuer.disconnect().get(5, TimeUnit.SECONDS);
        shortLived.disconnect();
        long shortDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SHORT_SESSION_EXPIRY);

        await().atMost(Duration.ofSeconds(40)).until(() -> knative.inRotation().isEmpty()
                && knative.replicas().indices().noneMatch(knative.replicas()::isRunning));
        await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() > shortDeadline + TimeUnit.SECONDS.toNanos(1));
        long coldStartsBefore = knative.coldStarts();

        List<Boolean> resumed = new ArrayList<>();
        for (WsSubscriber s : subscribers) {
            Mqtt5ConnAck ack = s.client().connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY).send()
                    .get(90, TimeUnit.SECONDS); // held by the activator while a replica starts
            resumed.add(ack.isSessionPresent());
        }
        Mqtt5AsyncClient expired = MqttClient.builder().useMqttVersion5().identifier(run + "-short")
                .serverHost("127.0.0.1").serverPort(knative.port()).webSocketConfig().serverPath("mqtt")
                .handshakeTimeout(WsSubscriber.HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).applyWebSocketConfig()
                .buildAsync();
        boolean expiredPresent = expired.connectWith().cleanStart(false).sessionExpiryInterval(SHORT_SESSION_EXPIRY)
                .send().get(30, TimeUnit.SECONDS).isSessionPresent();
        System.out.printf("ScalingIT zero and back: cold starts %d, times %s; %s%n", knative.coldStarts() - coldStartsBefore,
                knative.coldStartTimes(), knative.figures());

        assertThat(knative.coldStarts() - coldStartsBefore).as("replicas the activator started from zero").isEqualTo(1);
        assertThat(resumed).as("Session Present for the durable sessions after zero and back").containsOnly(true);
        for (WsSubscriber s : subscribers) {
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(seqs(s))
                    .as("messages queued for %s while it was away and the revision at zero", s.clientId)
                    .containsAll(queued));
        }
        assertThat(expiredPresent).as("Session Present for the session whose deadline passed at zero").isFalse();
        subscribers.forEach(WsSubscriber::disconnect);
        expired.disconnect().get(5, TimeUnit.SECONDS);
    }

    private static Set<Integer> seqs(WsSubscriber s) {
        return s.inbox().stream().map(r -> Integer.parseInt(r.payload())).collect(Collectors.toCollection(TreeSet::new));
    }
}
