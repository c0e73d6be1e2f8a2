package dev.tether.session;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Session Expiry Interval in DISCONNECT replacing the CONNECT value (MQTT 5.0 §3.14.2.2.2). */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class DisconnectExpiryTest {

    private static final Duration PACKET_TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void disconnect_whenIntervalZeroReplacesConnectInterval_thenSessionEnds() throws Exception {
        // §3.14.2.2.2 the DISCONNECT value replaces the CONNECT value: a clean logout with 0 ends the session;
        // [MQTT-4.1.0-2] [MQTT-3.1.2-6] [MQTT-3.2.2-3] next Clean Start 0 gets Session Present 0.
        String id = TestClients.uniqueId("dx-zero");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(60).send();
        c.subscribeWith().topicFilter("dx/zero/" + id).qos(MqttQos.AT_LEAST_ONCE).send();
        c.disconnectWith().sessionExpiryInterval(0).send();

        rows.awaitGone(id, SessionRows.WRITE_TIMEOUT);
        assertThat(rows.subscriptions(id)).isZero();
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(60).send().isSessionPresent()).isFalse();
        again.disconnectWith().sessionExpiryInterval(0).send();
    }

    @Test
    void disconnect_whenIntervalReplacesConnectInterval_thenDeadlineUsesDisconnectValue() throws Exception {
        // §3.14.2.2.2 the DISCONNECT value replaces the CONNECT value; Tether: the deadline in SQL follows it.
        String id = TestClients.uniqueId("dx-longer");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(false).sessionExpiryInterval(2).send();
        c.disconnectWith().sessionExpiryInterval(3600).send();

        SessionRows.Offline offline = rows.awaitOffline(id);
        assertThat(offline.expiryIntervalSeconds()).isEqualTo(3600);
        assertThat(offline.deadlineAfterCloseMillis()).isBetween(3_599_900L, 3_600_100L);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(0).send().isSessionPresent()).isTrue();
        again.disconnect();
    }

    @Test
    void disconnect_whenNonZeroIntervalAfterZeroConnect_thenProtocolErrorSessionEndsAndWillPublished() throws Exception {
        // §3.14.2.2.2 CONNECT interval 0 and DISCONNECT non-zero: Protocol Error, server DISCONNECT 0x82,
        // the session ends at close and the will is published (no valid DISCONNECT) [MQTT-3.1.2-8];
        // [MQTT-3.14.2-2] the server's DISCONNECT carries no Session Expiry Interval.
        String id = TestClients.uniqueId("dx-error");
        String willTopic = "dx/will/" + id;
        Mqtt5BlockingClient watcher = TestClients.mqtt5(listener.port(), TestClients.uniqueId("dx-watch"));
        watcher.connect();
        try (Mqtt5BlockingClient.Mqtt5Publishes wills = watcher.publishes(MqttGlobalPublishFilter.ALL)) {
            watcher.subscribeWith().topicFilter(willTopic).qos(MqttQos.AT_LEAST_ONCE).send();
            try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
                raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false)
                        .will(willTopic, "gone".getBytes(StandardCharsets.UTF_8), 1, false).build());
                ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
                assertThat(connack.connackReasonCode()).isZero();
                rows.awaitConnected(id);

                raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, 60L));
                ReceivedPacket disconnect = raw.receive(PACKET_TIMEOUT);
                assertThat(disconnect.type()).isEqualTo(MqttPackets.DISCONNECT);
                assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x82);
                assertThat(disconnect.disconnectProperties().has(MqttPackets.SESSION_EXPIRY_INTERVAL)).isFalse();
                assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
            }

            Optional<Mqtt5Publish> will = wills.receive(5, SECONDS);
            assertThat(will).as("the will is published").isPresent();
            assertThat(will.get().getTopic().toString()).isEqualTo(willTopic);
            assertThat(new String(will.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("gone");
        } finally {
            watcher.disconnect();
        }
        rows.awaitGone(id, SessionRows.WRITE_TIMEOUT);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).send().isSessionPresent()).isFalse();
        again.disconnect();
    }
}
