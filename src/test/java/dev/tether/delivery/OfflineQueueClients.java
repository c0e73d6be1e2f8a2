package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.testing.TestClients;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The client steps the offline-queue tests share: subscribe and go offline, then resume and read the queue. */
final class OfflineQueueClients {

    private OfflineQueueClients() {
    }

    /** A durable session (expiry 300) subscribed to {@code topic} at QoS 1, then disconnected. */
    static void subscribeThenGoOffline(int port, String id, String topic) {
        Mqtt5BlockingClient sub = TestClients.mqtt5(port, id);
        sub.connectWith().cleanStart(false).sessionExpiryInterval(300).send();
        sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        sub.disconnect();
    }

    /**
     * Resumes the session (Session Present 1), expects exactly {@code payloads} in order and nothing more
     * within 1.5 s, then ends the session.
     */
    static void resumeAndExpectExactly(int port, String id, String... payloads) throws Exception {
        Mqtt5BlockingClient again = TestClients.mqtt5(port, id);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(300).send().isSessionPresent()).isTrue();
            List<String> got = new ArrayList<>();
            for (int i = 0; i < payloads.length; i++) {
                Optional<Mqtt5Publish> p = publishes.receive(5, SECONDS);
                assertThat(p).as("message %d", i).isPresent();
                got.add(new String(p.get().getPayloadAsBytes(), StandardCharsets.UTF_8));
            }
            assertThat(got).containsExactly(payloads);
            assertThat(publishes.receive(1500, MILLISECONDS)).isEmpty();
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }
}
