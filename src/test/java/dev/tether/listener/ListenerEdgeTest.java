package dev.tether.listener;

import static dev.tether.testing.MqttPackets.MQTT_3_1_1;
import static dev.tether.testing.MqttPackets.MQTT_5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The MQTT edge with raw bytes: framing across TCP reads, pipelined packets, malformed and oversized packets. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ListenerEdgeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;

    private RawMqttClient open() throws IOException {
        return RawMqttClient.connect("127.0.0.1", listener.port());
    }

    private RawMqttClient connected(int level) throws IOException {
        RawMqttClient raw = open();
        raw.send(MqttPackets.connect(level, TestClients.uniqueId("edge")).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        return raw;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The server answered DISCONNECT with {@code reason} and then closed the connection. */
    private static void assertDisconnectedWith(RawMqttClient raw, int reason) throws IOException {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("%s", p).isEqualTo(MqttPackets.DISCONNECT);
        assertThat(p.disconnectReasonCode()).isEqualTo(reason);
        assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
    }

    /** A new client still gets a full round trip: the broker keeps serving after a bad connection. */
    private void assertBrokerStillServes() throws IOException {
        String topic = "edge/alive/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = connected(MQTT_5)) {
            raw.send(MqttPackets.subscribe(1, topic, 1, MQTT_5, null));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
            raw.send(MqttPackets.publish(MQTT_5, topic, 1, 2, utf8("alive")));
            List<ReceivedPacket> got = List.of(raw.receive(TIMEOUT), raw.receive(TIMEOUT));
            assertThat(got).extracting(ReceivedPacket::type).containsExactlyInAnyOrder(MqttPackets.PUBLISH, MqttPackets.PUBACK);
        }
    }

    @ParameterizedTest(name = "split after byte {0}")
    @ValueSource(ints = {1, 2})
    void connect_whenSplitInsideFixedHeader_thenAccepted(int splitAt) throws Exception {
        // netty#16776 regression: a fixed header (type byte | 2-byte Remaining Length) arriving over two reads
        // §2.1.4: a CONNECT over 127 bytes has a two-byte Remaining Length, so splits 1 and 2 fall inside the header
        String id = TestClients.uniqueId("edge-split") + "-" + "x".repeat(150);
        byte[] connect = MqttPackets.connect(MQTT_5, id).build();
        assertThat(connect[2] & 0xFF).as("second Remaining Length byte present").isNotZero();
        assertThat(connect[1] & 0x80).as("Remaining Length continues").isEqualTo(0x80);
        try (RawMqttClient raw = open()) {
            raw.sendSplit(connect, splitAt);
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            raw.send(MqttPackets.pingreq());
            assertThat(raw.receive(TIMEOUT).type()).isEqualTo(MqttPackets.PINGRESP);
        }
    }

    @Test
    void connect_whenSubscribeAndPublishInSameWrite_thenAllHandledInValidOrder() throws Exception {
        // vert-x3/vertx-mqtt#121 regression: §3.1.4 a client may send packets before CONNACK; [MQTT-3.2.0-1]
        // CONNACK is the first packet from the server; [MQTT-3.8.4-1] SUBACK; the PUBLISH reaches the new
        // subscription; [MQTT-4.6.0-2] PUBACK. §3.8.4 allows the matching PUBLISH before the SUBACK.
        String topic = "edge/pipelined/" + TestClients.uniqueId("t");
        byte[] all = MqttPackets.concat(
                MqttPackets.connect(MQTT_5, TestClients.uniqueId("edge-pipe")).build(),
                MqttPackets.subscribe(7, topic, 1, MQTT_5, null),
                MqttPackets.publish(MQTT_5, topic, 1, 8, utf8("pipelined")));
        try (RawMqttClient raw = open()) {
            raw.send(all);
            List<ReceivedPacket> got = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                got.add(raw.receive(TIMEOUT));
            }
            assertThat(got.get(0).type()).as("%s", got).isEqualTo(MqttPackets.CONNACK);
            assertThat(got.get(0).connackReasonCode()).isZero();
            assertThat(got.subList(1, 4)).extracting(ReceivedPacket::type)
                    .containsExactlyInAnyOrder(MqttPackets.SUBACK, MqttPackets.PUBLISH, MqttPackets.PUBACK);
            for (ReceivedPacket p : got.subList(1, 4)) {
                switch (p.type()) {
                    case MqttPackets.SUBACK -> {
                        assertThat(p.packetId()).isEqualTo(7);
                        assertThat(p.subackReasonCodes(MQTT_5)).containsExactly(1);
                    }
                    case MqttPackets.PUBACK -> {
                        assertThat(p.packetId()).isEqualTo(8);
                        assertThat(p.pubackReasonCode()).as("the subscription matched").isZero();
                    }
                    default -> {
                        assertThat(p.publishTopic()).isEqualTo(topic);
                        assertThat(p.publishQos()).isEqualTo(1);
                        assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("pipelined");
                        raw.send(MqttPackets.puback(p.publishPacketId(), MQTT_5, 0));
                    }
                }
            }
            assertThat(raw.receiveWithin(Duration.ofMillis(1000))).isEmpty();
        }
    }

    @Test
    void publish_whenQosBitsBothSet_thenDisconnectMalformedAndBrokerKeepsServing() throws Exception {
        // [MQTT-3.3.1-4] QoS 3 is a Malformed Packet; §4.13.1 / §3.14.2.1 DISCONNECT 0x81 then close
        try (RawMqttClient raw = connected(MQTT_5)) {
            raw.send(MqttPackets.publish(MQTT_5, "edge/qos3", 3, 1, utf8("bad")));
            assertDisconnectedWith(raw, 0x81);
        }
        assertBrokerStillServes();
    }

    @Test
    void subscribe_whenReservedFlagsWrong_thenDisconnectMalformedAndBrokerKeepsServing() throws Exception {
        // [MQTT-3.8.1-1] SUBSCRIBE fixed header flags must be 0010; §2.1.3 other flags are a Malformed Packet (0x81)
        byte[] good = MqttPackets.subscribe(1, "edge/flags", 1, MQTT_5, null);
        byte[] bad = good.clone();
        bad[0] = (byte) (MqttPackets.SUBSCRIBE << 4); // flags 0000
        try (RawMqttClient raw = connected(MQTT_5)) {
            raw.send(bad);
            assertDisconnectedWith(raw, 0x81);
        }
        assertBrokerStillServes();
    }

    @Test
    void publish_whenQosBitsBothSetFromMqtt311_thenClosed() throws Exception {
        // 3.1.1 [MQTT-3.3.1-4]: QoS 3 -> the server closes the connection (3.1.1 has no server DISCONNECT)
        try (RawMqttClient raw = connected(MQTT_3_1_1)) {
            raw.send(MqttPackets.publish(MQTT_3_1_1, "edge/qos3", 3, 1, utf8("bad")));
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
            assertThatThrownBy(() -> raw.receiveWithin(Duration.ofMillis(100))).isInstanceOf(EOFException.class);
        }
    }

    @ParameterizedTest(name = "first packet {0}")
    @ValueSource(strings = {"PINGREQ", "PUBLISH", "SUBSCRIBE"})
    void firstPacket_whenNotConnect_thenClosedWithoutReply(String first) throws Exception {
        // [MQTT-3.1.0-1] the first packet from the client must be CONNECT; otherwise the server closes.
        // Closed well before tether.mqtt.connect-timeout (10 s): the 5 s bound fails a broker that only times out.
        byte[] packet = switch (first) {
            case "PINGREQ" -> MqttPackets.pingreq();
            case "PUBLISH" -> MqttPackets.publish(MQTT_5, "edge/first", 0, 0, utf8("early"));
            default -> MqttPackets.subscribe(1, "edge/first", 0, MQTT_5, null);
        };
        try (RawMqttClient raw = open()) {
            raw.send(packet);
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
            assertThatThrownBy(() -> raw.receiveWithin(Duration.ofMillis(100))).isInstanceOf(EOFException.class);
        }
        assertBrokerStillServes();
    }

    @Test
    void connect_whenSentTwice_thenDisconnectProtocolError() throws Exception {
        // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error: DISCONNECT 0x82 and close
        try (RawMqttClient raw = connected(MQTT_5)) {
            raw.send(MqttPackets.connect(MQTT_5, TestClients.uniqueId("edge-twice")).build());
            assertDisconnectedWith(raw, 0x82);
        }
    }

    /** A PUBLISH whose Remaining Length announces one byte more than tether.mqtt.max-packet-size (1 MiB). */
    private static byte[] oversizedPublishStart(int level) {
        int remaining = 1_048_576 + 1;
        byte[] header = MqttPackets.concat(new byte[]{(byte) (MqttPackets.PUBLISH << 4 | 0b0010)},
                MqttPackets.variableByteInteger(remaining));
        byte[] body = MqttPackets.concat(MqttPackets.utf8("edge/big"), MqttPackets.uint16(1),
                level >= MQTT_5 ? new byte[]{0} : null, new byte[16 * 1024]);
        return MqttPackets.concat(header, body);
    }

    @Test
    void publish_whenLargerThanMaxPacketSize_thenDisconnectPacketTooLarge() throws Exception {
        // [MQTT-3.2.2-15] the server's Maximum Packet Size (CONNACK) bounds what the client may send;
        // §4.13 / §3.14.2.1: a larger packet gets DISCONNECT 0x95 (Packet too large) and the connection closes.
        // Only the first 16 KiB are written: the announced Remaining Length alone makes the packet too large.
        try (RawMqttClient raw = open()) {
            raw.send(MqttPackets.connect(MQTT_5, TestClients.uniqueId("edge-big")).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().number(MqttPackets.MAXIMUM_PACKET_SIZE)).contains(1_048_576L);
            raw.send(oversizedPublishStart(MQTT_5));
            assertDisconnectedWith(raw, 0x95);
        }
        assertBrokerStillServes();
    }

    @Test
    void publish_whenLargerThanMaxPacketSizeFromMqtt311_thenClosed() throws Exception {
        // 3.1.1: no server DISCONNECT; an oversized packet closes the connection
        try (RawMqttClient raw = connected(MQTT_3_1_1)) {
            raw.send(oversizedPublishStart(MQTT_3_1_1));
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
            assertThatThrownBy(() -> raw.receiveWithin(Duration.ofMillis(100))).isInstanceOf(EOFException.class);
        }
    }
}
