package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Configured server limits towards MQTT 5 clients, in one Quarkus restart: Server Keep Alive
 * (tether.mqtt.max-keep-alive = 2, §3.2.2.3.14) and inbound flow control (tether.mqtt.receive-maximum = 5,
 * §3.2.2.3.3, §4.9).
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(ServerLimitsTest.Limits.class)
class ServerLimitsTest {

    /** tether.mqtt.max-keep-alive = 2, tether.mqtt.receive-maximum = 5. */
    public static class Limits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.mqtt.max-keep-alive", "2", "tether.mqtt.receive-maximum", "5");
        }
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_INBOUND = 5;

    @Inject
    MqttListener listener;

    private RawMqttClient open() throws Exception {
        return RawMqttClient.connect("127.0.0.1", listener.port());
    }

    // ---- Server Keep Alive ----------------------------------------------------------------------

    @Test
    void connect_whenKeepAboveMaximum_thenServerKeepAliveAnnouncedAndEnforced() throws Exception {
        // [MQTT-3.2.2-21] the client must use the Server Keep Alive of CONNACK; [MQTT-3.1.2-22] a server that
        // receives no packet within 1.5 x Keep Alive closes the connection: DISCONNECT 0x8D Keep Alive timeout
        try (RawMqttClient raw = open()) {
            raw.send(connect(MQTT_5, TestClients.uniqueId("ska-60")).keepAlive(60).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().number(SERVER_KEEP_ALIVE)).contains(2L);
            assertThat(connack.connackProperties().number(RECEIVE_MAXIMUM)).contains((long) MAX_INBOUND);

            long start = System.nanoTime();
            ReceivedPacket disconnect = raw.receive(Duration.ofSeconds(6));
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(disconnect.type()).as("packet %s", disconnect).isEqualTo(DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x8D);
            // held to 2 s (1.5 x 2 = 3 s), not to the 60 s it asked for, and not before its keep alive ran out
            assertThat(elapsedMillis).isBetween(2_000L, 5_000L);
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }

    @Test
    void connect_whenKeepAliveZero_thenServerKeepAliveIsMaximumAndEnforced() throws Exception {
        // §3.2.2.3.14: the server may replace Keep Alive 0 (no keep alive) by its Server Keep Alive; [MQTT-3.1.2-22]
        try (RawMqttClient raw = open()) {
            raw.send(connect(MQTT_5, TestClients.uniqueId("ska-0")).keepAlive(0).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().number(SERVER_KEEP_ALIVE)).contains(2L);

            ReceivedPacket disconnect = raw.receive(Duration.ofSeconds(6));
            assertThat(disconnect.type()).as("packet %s", disconnect).isEqualTo(DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x8D);
        }
    }

    @Test
    void connect_whenKeepAliveBelowMaximum_thenNoServerKeepAliveAndOwnValueEnforced() throws Exception {
        // [MQTT-3.2.2-22] no Server Keep Alive: the client's Keep Alive (1 s) stands; [MQTT-3.1.2-22] 1.5 s silence
        try (RawMqttClient raw = open()) {
            raw.send(connect(MQTT_5, TestClients.uniqueId("ska-1")).keepAlive(1).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().has(SERVER_KEEP_ALIVE)).isFalse();

            long start = System.nanoTime();
            ReceivedPacket disconnect = raw.receive(TIMEOUT);
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x8D);
            assertThat(elapsedMillis).isLessThan(2_500L); // its own 1 s, not the server's 2 s
        }
    }

    @Test
    void connect_whenMqtt311AsksKeepAlive60_thenKeepsItsOwnValue() throws Exception {
        // MQTT 3.1.1 has no Server Keep Alive: the client's 60 s stands (3.1.1 [MQTT-3.1.2-24]); silent for longer
        // than an MQTT 5 client held to 2 s would survive (3 s), it is still connected and answered
        try (RawMqttClient raw = open()) {
            raw.send(connect(MQTT_3_1_1, TestClients.uniqueId("ska-311")).keepAlive(60).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.body()).hasSize(2);

            assertThat(raw.awaitClosed(Duration.ofMillis(4_000))).isFalse();
            raw.send(pingreq());
            assertThat(raw.receive(TIMEOUT).type()).isEqualTo(PINGRESP);
        }
    }

    // ---- inbound flow control -------------------------------------------------------------------

    private RawMqttClient connected(String prefix) throws Exception {
        RawMqttClient raw = open();
        raw.send(connect(MQTT_5, TestClients.uniqueId(prefix)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    private static byte[] payload(int i) {
        return ("m" + i).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void publish_whenReceiveMaximumQos2Unreleased_thenAllGetPubrec() throws Exception {
        // §4.9 / [MQTT-3.3.4-9]: up to Receive Maximum QoS 2 PUBLISH without PUBREL are within the quota
        String topic = "limits/rm/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = connected("rm-ok")) {
            for (int i = 1; i <= MAX_INBOUND; i++) {
                raw.send(publish(MQTT_5, topic, 2, i, payload(i)));
            }
            for (int i = 1; i <= MAX_INBOUND; i++) {
                ReceivedPacket pubrec = raw.receive(TIMEOUT);
                assertThat(pubrec.type()).as("packet %s", pubrec).isEqualTo(PUBREC);
                assertThat(pubrec.packetId()).isEqualTo(i);
                assertThat(pubrec.pubackReasonCode()).isLessThan(0x80);
            }
            // completing one frees one slot: a further QoS 2 PUBLISH is accepted
            raw.send(pubrel(1, MQTT_5, 0));
            ReceivedPacket pubcomp = raw.receive(TIMEOUT);
            assertThat(pubcomp.type()).isEqualTo(PUBCOMP);
            assertThat(pubcomp.packetId()).isEqualTo(1);
            raw.send(publish(MQTT_5, topic, 2, 100, payload(100)));
            ReceivedPacket pubrec = raw.receive(TIMEOUT);
            assertThat(pubrec.type()).as("packet %s", pubrec).isEqualTo(PUBREC);
            assertThat(pubrec.packetId()).isEqualTo(100);
        }
    }

    @Test
    void publish_whenReceiveMaximumExceeded_thenDisconnect0x93AndClosed() throws Exception {
        // [MQTT-3.3.4-9] the client must not send more than Receive Maximum unacknowledged QoS 1/2 PUBLISH;
        // §3.3.4: the server uses DISCONNECT 0x93 Receive Maximum exceeded
        String topic = "limits/rm/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = connected("rm-over")) {
            for (int i = 1; i <= MAX_INBOUND; i++) {
                raw.send(publish(MQTT_5, topic, 2, i, payload(i)));
                assertThat(raw.receive(TIMEOUT).type()).isEqualTo(PUBREC);
            }
            raw.send(publish(MQTT_5, topic, 2, MAX_INBOUND + 1, payload(MAX_INBOUND + 1)));
            ReceivedPacket disconnect = raw.receive(TIMEOUT);
            assertThat(disconnect.type()).as("packet %s", disconnect).isEqualTo(DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x93);
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }
}
