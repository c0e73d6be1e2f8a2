package dev.tether.knative;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult.Mqtt5Qos1Result;
import dev.tether.testing.TestClients;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Knative's revision timeout cuts every WebSocket (no close frame, no DISCONNECT): persistent sessions resume
 * through the cuts, on whichever of two replicas the proxy picks, and wills follow the Will Delay Interval.
 */
class RevisionTimeoutIT {

    private static final Duration REVISION_TIMEOUT = Duration.ofSeconds(3);
    private static final long SESSION_EXPIRY = 300;
    private static final int CUTS_PER_CLIENT = 3;
    /** The receive window of the subscribers: at most this many unacknowledged messages are resent per cut. */
    private static final int RECEIVE_MAXIMUM = 10;
    private static final int MIN_MESSAGES = 300;
    private static final int MAX_MESSAGES = 600;
    private static final Duration PUBLISH_EVERY = Duration.ofMillis(20);
    private static final Duration LOAD_LIMIT = Duration.ofSeconds(30);

    @RegisterExtension
    static final KnativeSimulator knative = KnativeSimulator.of("revision-timeout-it",
            KnativeSettings.defaults().withReplicas(2, 2).withRevisionTimeout(REVISION_TIMEOUT));

    @Test
    void revisionTimeout_whenQos1SubscribersAreCutThreeTimes_thenTheyResumeWithNothingLostAndNoCopyBeyondDupResends()
            throws Exception {
        // [MQTT-3.1.2-5] Clean Start 0 resumes the session; [MQTT-4.4.0-1] unacknowledged QoS 1 messages are
        // resent with DUP = 1 on the new connection, on whichever replica it lands.
        String run = TestClients.uniqueId("kn-cut");
        String topic = "kn/" + run + "/data";
        WsSubscriber hive = new WsSubscriber(knative, run + "-hivemq", UnaryOperator.identity());
        hive.client().connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY)
                .restrictions().receiveMaximum(RECEIVE_MAXIMUM).applyRestrictions()
                .send().get(10, TimeUnit.SECONDS);
        hive.subscribe(topic);
        long cutsBefore = knative.cuts();
        long routedBefore1 = knative.connectionsRoutedTo(1);
        long routedBefore2 = knative.connectionsRoutedTo(2);

        try (MqttJsSubscriber js = MqttJsSubscriber.start(knative.mqttUrl(), run + "-mqttjs", topic, SESSION_EXPIRY,
                Duration.ofSeconds(90))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> !js.events("subscribed").isEmpty()
                    || !js.events("error").isEmpty());
            assertThat(js.events("subscribed")).as("MQTT.js SUBACK (errors: %s)", js.events("error")).hasSize(1);

            // The publisher talks MQTT over TCP straight to R1, so it is never cut: every PUBACK it gets is final.
            Mqtt5BlockingClient publisher = MqttClient.builder().useMqttVersion5().identifier(run + "-pub")
                    .serverHost("127.0.0.1").serverPort(knative.replicas().mqttPort(1)).buildBlocking();
            publisher.connectWith().cleanStart(true).send();
            BooleanSupplier everyClientCutEnough = () -> hive.connections() > CUTS_PER_CLIENT
                    && js.events("connect").size() > CUTS_PER_CLIENT;
            Set<Integer> acknowledged = Collections.synchronizedSet(new TreeSet<>());
            List<CompletableFuture<?>> pubacks = new ArrayList<>();
            long loadUntil = System.nanoTime() + LOAD_LIMIT.toNanos();
            int sent = 0;
            while (sent < MAX_MESSAGES && System.nanoTime() < loadUntil
                    && (sent < MIN_MESSAGES || !everyClientCutEnough.getAsBoolean())) {
                int seq = sent++;
                pubacks.add(publisher.toAsync().publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(Integer.toString(seq).getBytes(StandardCharsets.UTF_8)).send()
                        .thenAccept(result -> {
                            if (result.getError().isEmpty()
                                    && !((Mqtt5Qos1Result) result).getPubAck().getReasonCode().isError()) {
                                acknowledged.add(seq);
                            }
                        }));
                LockSupport.parkNanos(PUBLISH_EVERY.toNanos()); // the load's pace, bounded by count and time
            }
            CompletableFuture.allOf(pubacks.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
            publisher.disconnect();

            await().atMost(Duration.ofSeconds(20)).until(() -> seqs(payloadsOf(hive.inbox())).containsAll(acknowledged)
                    && seqs(payloads(js.events("message"))).containsAll(acknowledged));
            hive.disconnect();
            js.close();

            int hiveCuts = hive.connections() - 1;
            int jsCuts = js.events("connect").size() - 1;
            Map<Integer, List<Integer>> hiveCopies = copiesBySeq(hive.inbox());
            int hiveDuplicates = hiveCopies.values().stream().mapToInt(c -> c.size() - 1).sum();
            List<JsonObject> jsMessages = js.events("message");
            Map<Integer, Long> jsWithoutDup = jsMessages.stream().filter(m -> !m.getBoolean("dup"))
                    .collect(Collectors.groupingBy(m -> Integer.parseInt(m.getString("payload")), Collectors.counting()));
            long jsDuplicates = jsMessages.size() - seqs(payloads(jsMessages)).size();
            System.out.printf("RevisionTimeoutIT: sent %d, acknowledged %d; HiveMQ: %d cuts, received %d, lost %d, "
                            + "duplicates %d; MQTT.js: %d cuts, received %d, lost %d, duplicates %d (DUP=1 copies %d); %s%n",
                    sent, acknowledged.size(), hiveCuts, hive.inbox().size(), missing(acknowledged, seqs(payloadsOf(hive.inbox()))),
                    hiveDuplicates, jsCuts, jsMessages.size(), missing(acknowledged, seqs(payloads(jsMessages))),
                    jsDuplicates, jsMessages.stream().filter(m -> m.getBoolean("dup")).count(), knative.figures());

            assertThat(acknowledged).as("messages PUBACKed to the publisher").hasSize(sent);
            assertThat(hiveCuts).as("reconnections of the HiveMQ client after revision-timeout cuts")
                    .isGreaterThanOrEqualTo(CUTS_PER_CLIENT);
            assertThat(jsCuts).as("reconnections of the MQTT.js client after revision-timeout cuts")
                    .isGreaterThanOrEqualTo(CUTS_PER_CLIENT);
            assertThat(knative.cuts() - cutsBefore).as("connections the proxy cut at the revision timeout")
                    .isGreaterThanOrEqualTo(2L * CUTS_PER_CLIENT);
            assertThat(knative.connectionsRoutedTo(1) - routedBefore1).as("reconnections routed to R1").isPositive();
            assertThat(knative.connectionsRoutedTo(2) - routedBefore2).as("reconnections routed to R2").isPositive();
            assertThat(hive.sessionPresent().subList(1, hive.sessionPresent().size()))
                    .as("Session Present of the HiveMQ client's CONNACKs after cuts").containsOnly(true);
            assertThat(js.events("connect").stream().skip(1).map(e -> e.getBoolean("sessionPresent")))
                    .as("Session Present of the MQTT.js client's CONNACKs after cuts").containsOnly(true);

            // MQTT.js shows the DUP flag: no message arrives twice without it.
            assertThat(jsWithoutDup).as("messages MQTT.js received more than once with DUP = 0")
                    .allSatisfy((seq, copies) -> assertThat(copies).as("copies of %d with DUP = 0", seq).isEqualTo(1L));
            // The HiveMQ client hides DUP: a second copy may only be a resend on a later connection, at most a
            // receive window per cut.
            assertThat(hiveCopies).as("connections each message reached the HiveMQ client on")
                    .allSatisfy((seq, connections) -> assertThat(connections).as("connections of message %d", seq)
                            .doesNotHaveDuplicates());
            assertThat(hiveDuplicates).as("second copies at the HiveMQ client")
                    .isLessThanOrEqualTo(hiveCuts * RECEIVE_MAXIMUM);
        }
    }

    @Test
    void revisionTimeout_whenClientsWithWillsAreCut_thenOnlyTheWillWithoutDelayIsPublished() throws Exception {
        // [MQTT-3.1.2-8] a will is published when its Will Delay Interval has passed after the connection closed;
        // [MQTT-3.1.3-9] not if the client connected again before; Will Delay 0: at the close.
        String run = TestClients.uniqueId("kn-will");
        String willTopic = "kn/" + run + "/will/";
        Mqtt5BlockingClient observer = MqttClient.builder().useMqttVersion5().identifier(run + "-observer")
                .serverHost("127.0.0.1").serverPort(knative.replicas().mqttPort(1)).buildBlocking();
        List<String> wills = Collections.synchronizedList(new ArrayList<>());
        observer.toAsync().publishes(MqttGlobalPublishFilter.ALL, m -> wills.add(m.getTopic().toString()));
        observer.connectWith().cleanStart(true).send();
        observer.subscribeWith().topicFilter(willTopic + "#").qos(MqttQos.AT_LEAST_ONCE).send();

        WsSubscriber delayed = new WsSubscriber(knative, run + "-delayed", UnaryOperator.identity());
        WsSubscriber immediate = new WsSubscriber(knative, run + "-immediate", UnaryOperator.identity());
        for (WsSubscriber c : List.of(delayed, immediate)) {
            long delay = c == delayed ? 30 : 0;
            c.client().connectWith().cleanStart(false).sessionExpiryInterval(SESSION_EXPIRY)
                    .willPublish().topic(willTopic + c.clientId).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("lost".getBytes(StandardCharsets.UTF_8)).delayInterval(delay).applyWillPublish()
                    .send().get(10, TimeUnit.SECONDS);
        }
        await().atMost(REVISION_TIMEOUT.multipliedBy(3)).until(() -> delayed.connections() >= 2
                && immediate.connections() >= 2);
        long reconnectedAt = System.nanoTime();

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(wills)
                .as("wills published after the cut").contains(willTopic + immediate.clientId));
        // A window of at least a second after the delayed client's reconnection for its will to (wrongly) appear.
        await().pollDelay(Duration.ofNanos(Math.max(0, reconnectedAt + TimeUnit.SECONDS.toNanos(1) - System.nanoTime())))
                .atMost(Duration.ofSeconds(3)).untilAsserted(() -> assertThat(wills)
                        .as("wills published after the cut (the delayed client reconnected within its 30 s delay)")
                        .doesNotContain(willTopic + delayed.clientId));
        assertThat(delayed.sessionPresent()).as("Session Present of the delayed-will client's CONNACKs")
                .startsWith(false, true).containsOnlyOnce(false);
        delayed.disconnect();
        immediate.disconnect();
        observer.disconnect();
    }

    private static List<String> payloads(List<JsonObject> messages) {
        return messages.stream().map(m -> m.getString("payload")).toList();
    }

    private static List<String> payloadsOf(List<WsSubscriber.Received> inbox) {
        return inbox.stream().map(WsSubscriber.Received::payload).toList();
    }

    private static Set<Integer> seqs(List<String> payloads) {
        return payloads.stream().map(Integer::parseInt).collect(Collectors.toCollection(TreeSet::new));
    }

    private static Map<Integer, List<Integer>> copiesBySeq(List<WsSubscriber.Received> inbox) {
        Map<Integer, List<Integer>> copies = new HashMap<>();
        inbox.forEach(r -> copies.computeIfAbsent(Integer.parseInt(r.payload()), k -> new ArrayList<>()).add(r.connection()));
        return copies;
    }

    private static int missing(Set<Integer> acknowledged, Set<Integer> received) {
        return (int) acknowledged.stream().filter(s -> !received.contains(s)).count();
    }
}
