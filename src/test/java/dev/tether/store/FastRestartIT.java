package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import dev.tether.testing.BrokerProcess;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged broker SIGKILLed and restarted at once on the same data and state directories: the
 * new process settles the sessions its previous life held as disconnected at that life's last
 * heartbeat, before it accepts clients, instead of waiting for {@code tether.store.instance-timeout}.
 * The timeout is raised to a minute here so that only that settlement can explain what the tests see.
 */
class FastRestartIT {

    private static final String LONG_INSTANCE_TIMEOUT = "tether.store.instance-timeout=60s";

    private final List<BrokerProcess> brokers = new ArrayList<>();
    private final List<Mqtt5AsyncClient> clients = new ArrayList<>();

    @Test
    void restart_whenSessionDeadlinePassedWhileBrokerWasDown_thenReconnectGetsSessionPresent0() throws Exception {
        // [MQTT-3.1.2-23] the session ends Session Expiry Interval after the network connection
        // closes; the kill closed it (at the last heartbeat at the latest), so a Clean Start 0
        // CONNECT after the deadline finds no session [MQTT-3.2.2-3] (Session Present 0).
        BrokerProcess broker = BrokerProcess.create("fast-restart-it", "expiry", brokers, LONG_INSTANCE_TIMEOUT);
        broker.start();
        String id = TestClients.uniqueId("restart-expiry");
        Mqtt5AsyncClient before = client(broker.mqttPort, id);
        before.connectWith().cleanStart(true).sessionExpiryInterval(2).send().get(10, TimeUnit.SECONDS);

        long killedAt = broker.kill();
        assertThat(broker.process().waitFor(BrokerProcess.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        broker.start();
        // The deadline is at most 2 s after the kill; a restart usually takes longer than that.
        await().atMost(Duration.ofSeconds(10))
                .until(() -> System.nanoTime() - killedAt > TimeUnit.MILLISECONDS.toNanos(2_500));

        Mqtt5AsyncClient after = client(broker.mqttPort, id);
        assertThat(after.connectWith().cleanStart(false).sessionExpiryInterval(2).send().get(10, TimeUnit.SECONDS)
                .isSessionPresent()).as("Session Present after the deadline").isFalse();
    }

    @Test
    void restart_whenWillPendingAtKill_thenWillPublishedOnceAndCleanStartReconnectDoesNotDropIt() throws Exception {
        // [MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT 0x00,
        // after the Will Delay Interval; Tether's reading: a Clean Start 1 CONNECT ends the old
        // session, so its pending will is published, never deleted unsent.
        BrokerProcess broker = BrokerProcess.create("fast-restart-it", "will", brokers, LONG_INSTANCE_TIMEOUT);
        broker.start();
        String topic = "restart/" + TestClients.uniqueId("will");
        String watcherId = TestClients.uniqueId("restart-watcher");
        String victimId = TestClients.uniqueId("restart-victim");
        Mqtt5AsyncClient watcher = client(broker.mqttPort, watcherId);
        watcher.connectWith().cleanStart(true).sessionExpiryInterval(3600).send()
                .thenCompose(ack -> watcher.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send())
                .thenCompose(ack -> watcher.disconnect())
                .get(10, TimeUnit.SECONDS);
        Mqtt5AsyncClient victim = client(broker.mqttPort, victimId);
        victim.connectWith().cleanStart(true).sessionExpiryInterval(60)
                .willPublish().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                .payload("gone".getBytes(StandardCharsets.UTF_8)).delayInterval(1).applyWillPublish()
                .send().get(10, TimeUnit.SECONDS);

        broker.kill();
        assertThat(broker.process().waitFor(BrokerProcess.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        broker.start();
        Mqtt5AsyncClient victimAgain = client(broker.mqttPort, victimId);
        victimAgain.connectWith().cleanStart(true).sessionExpiryInterval(60).send().get(10, TimeUnit.SECONDS);

        List<String> received = Collections.synchronizedList(new ArrayList<>());
        Mqtt5AsyncClient watcherAgain = client(broker.mqttPort, watcherId);
        watcherAgain.publishes(MqttGlobalPublishFilter.ALL,
                m -> received.add(new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8)));
        assertThat(watcherAgain.connectWith().cleanStart(false).sessionExpiryInterval(3600).send()
                .get(10, TimeUnit.SECONDS).isSessionPresent()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() >= 1);
        // Published once: neither the expiry job nor the CONNECT publishes it a second time.
        await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3))
                .until(() -> received.size() == 1);
        assertThat(received).containsExactly("gone");
    }

    @AfterEach
    void stopEverything() {
        for (Mqtt5AsyncClient c : clients) {
            try {
                c.disconnect().get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                // never connected, or already disconnected by the broker
            }
        }
        clients.clear();
        for (BrokerProcess b : brokers) {
            b.stop();
        }
        brokers.clear();
    }

    private Mqtt5AsyncClient client(int port, String id) {
        Mqtt5AsyncClient c = MqttClient.builder().useMqttVersion5().identifier(id).serverHost("127.0.0.1")
                .serverPort(port).buildAsync();
        clients.add(c);
        return c;
    }
}
