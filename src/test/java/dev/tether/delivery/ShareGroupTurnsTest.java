package dev.tether.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** A share group's round-robin position lives as long as the group has members (issue 8, item 11). */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ShareGroupTurnsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    MessageRouter router;

    private Mqtt5BlockingClient member(String prefix, String filter, CopyOnWriteArrayList<String> got, long expiry) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId(prefix));
        c.toAsync().publishes(MqttGlobalPublishFilter.ALL,
                p -> got.add(new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8)));
        c.connectWith().cleanStart(true).sessionExpiryInterval(expiry).send();
        c.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).send();
        return c;
    }

    @Test
    void route_whenLastMembersLeave_thenGroupTurnsForgotten() {
        // One member unsubscribes, the other's session ends with its connection (expiry 0)
        String topic = "turns/" + TestClients.uniqueId("t");
        String group = "$share/g/" + topic;
        CopyOnWriteArrayList<String> got = new CopyOnWriteArrayList<>();
        Mqtt5BlockingClient a = member("turns-a", group, got, 0);
        Mqtt5BlockingClient b = member("turns-b", group, got, 300);
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("turns-pub"));
        pub.connect();
        try {
            for (int i = 0; i < 4; i++) {
                pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                        .payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
            }
            await().atMost(TIMEOUT).until(() -> got.size() == 4);
            assertThat(router.keepsTurnsOf(group)).isTrue();

            b.unsubscribeWith().topicFilter(group).send();
            assertThat(router.keepsTurnsOf(group)).as("one member left").isTrue();
            a.disconnect();
            await().atMost(TIMEOUT).until(() -> !router.keepsTurnsOf(group));
        } finally {
            pub.disconnect();
            b.disconnectWith().sessionExpiryInterval(0).send();
        }
    }
}
