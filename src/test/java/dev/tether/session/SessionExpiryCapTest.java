package dev.tether.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The server's own Session Expiry Interval (MQTT 5.0 §3.2.2.3.2): a configured cap of 2 s, which also caps the
 * 3.1.1 Clean Session 0 expiry of 3 s. Every test needing this configuration lives here (one Quarkus restart).
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(SessionExpiryCapTest.CappedExpiry.class)
class SessionExpiryCapTest {

    /** tether.session.max-expiry-interval = 2, tether.session.mqtt311-expiry-interval = 3. */
    public static class CappedExpiry implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.session.max-expiry-interval", "2",
                    "tether.session.mqtt311-expiry-interval", "3");
        }
    }

    private static final Duration PACKET_TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    SessionRows rows;

    @Test
    void connect_whenRequestedIntervalAboveCap_thenConnackCarriesCapAndSessionEndsAtCap() throws Exception {
        // §3.2.2.3.2 the server imposes its own value: CONNACK carries it and the server uses it;
        // [MQTT-4.1.0-2] the session ends ~2 s after close; [MQTT-3.2.2-3] Session Present 0 afterwards.
        String id = TestClients.uniqueId("cap-connect");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(3600L).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().all(MqttPackets.SESSION_EXPIRY_INTERVAL)).containsExactly(2L);
            rows.awaitConnected(id);
            assertThat(rows.expiryIntervalSeconds(id)).isEqualTo(2);
            raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, null));
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        assertEndsAfter(id, 2);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(0).send().isSessionPresent()).isFalse();
        again.disconnect();
    }

    @Test
    void connect_whenRequestedIntervalBelowCap_thenConnackHasNoSessionExpiryInterval() throws Exception {
        // §3.2.2.3.2 when CONNACK carries no Session Expiry Interval the client's value stands.
        String id = TestClients.uniqueId("cap-below");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(1L).build());
            ReceivedPacket connack = raw.receive(PACKET_TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().has(MqttPackets.SESSION_EXPIRY_INTERVAL)).isFalse();
            rows.awaitConnected(id);
            assertThat(rows.expiryIntervalSeconds(id)).isEqualTo(1);
            raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, null));
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        assertEndsAfter(id, 1);
    }

    @Test
    void disconnect_whenRequestedIntervalAboveCap_thenCappedAndSessionEndsAtCap() throws Exception {
        // §3.14.2.2.2 the DISCONNECT value replaces the CONNECT value; Tether caps it like the CONNECT value.
        String id = TestClients.uniqueId("cap-disconnect");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MqttPackets.MQTT_5, id).cleanStart(false).sessionExpiry(1L).build());
            assertThat(raw.receive(PACKET_TIMEOUT).connackReasonCode()).isZero();
            rows.awaitConnected(id);
            raw.send(MqttPackets.disconnect(MqttPackets.MQTT_5, 0, 3600L));
            assertThat(raw.awaitClosed(PACKET_TIMEOUT)).isTrue();
        }
        assertEndsAfter(id, 2);
        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(0).send().isSessionPresent()).isFalse();
        again.disconnect();
    }

    @Test
    void close_whenMqtt311CleanSessionZeroWithConfiguredExpiry_thenResumableThenGoneAfterExpiry() throws Exception {
        // 3.1.1 [MQTT-3.1.2-4] [MQTT-3.2.2-2] Clean Session 0 resumes (Session Present 1); Tether maps it to the
        // configured 3.1.1 expiry (3 s here), and the server's maximum (2 s) caps every session, so it is gone
        // about 2 s after close.
        String id = TestClients.uniqueId("cap-v3");
        Mqtt3BlockingClient c = TestClients.mqtt3(listener.port(), id);
        assertThat(c.connectWith().cleanSession(false).send().isSessionPresent()).isFalse();
        c.disconnect();
        rows.awaitOffline(id);
        Mqtt3BlockingClient again = TestClients.mqtt3(listener.port(), id);
        assertThat(again.connectWith().cleanSession(false).send().isSessionPresent()).as("survives a reconnect").isTrue();
        again.disconnect();

        assertEndsAfter(id, 2);
        Mqtt3BlockingClient last = TestClients.mqtt3(listener.port(), id);
        assertThat(last.connectWith().cleanSession(false).send().isSessionPresent()).isFalse();
        last.disconnect();
    }

    /** The offline row has a deadline {@code seconds} after close, and the row is removed then, not before. */
    private void assertEndsAfter(String id, long seconds) {
        SessionRows.Offline offline = rows.awaitOffline(id);
        assertThat(offline.expiryIntervalSeconds()).isEqualTo(seconds);
        assertThat(offline.deadlineAfterCloseMillis()).isBetween(seconds * 1000 - 100, seconds * 1000 + 100);
        Instant goneAt = rows.awaitGone(id, Duration.ofSeconds(seconds + 5));
        assertThat(goneAt).as("not removed before its deadline").isAfterOrEqualTo(offline.expiresAt().minusMillis(100));
        assertThat(goneAt).as("removed about one second after its deadline").isBefore(offline.expiresAt().plusMillis(2_500));
    }
}
