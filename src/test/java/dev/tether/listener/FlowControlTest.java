package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Outbound flow control (§4.9): Tether never has more unacknowledged QoS 1/2 PUBLISH in flight towards a client
 * than the Receive Maximum the client gave in CONNECT (§3.1.2.11.3). The subscriber is a raw client so acks are
 * sent (or withheld) exactly when the test says. Inbound flow control is in {@link ServerLimitsTest}.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class FlowControlTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WINDOW = Duration.ofMillis(1500);

    @Inject
    MqttListener listener;

    private RawMqttClient subscriber(String topic, int receiveMaximum, int qos) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(MQTT_5, TestClients.uniqueId("fc-sub"))
                .extraProperties(property(RECEIVE_MAXIMUM, receiveMaximum)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        raw.send(subscribe(1, topic, qos, MQTT_5, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(qos);
        return raw;
    }

    private void publish(String topic, int qos, String... payloads) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("fc-pub"));
        c.connect();
        try {
            for (String p : payloads) {
                c.publishWith().topic(topic).qos(MqttQos.fromCode(qos)).payload(p.getBytes(StandardCharsets.UTF_8)).send();
            }
        } finally {
            c.disconnect();
        }
    }

    private static ReceivedPacket expectPublish(RawMqttClient raw) throws Exception {
        ReceivedPacket p = raw.receive(TIMEOUT);
        assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
        return p;
    }

    @Test
    void deliver_whenClientReceiveMaximum2AndNoAcks_thenAtMostTwoInFlightUntilOneIsAcked() throws Exception {
        // [MQTT-3.3.4-7] the server must not send more than Receive Maximum QoS 1/2 PUBLISH without PUBACK/PUBCOMP;
        // [MQTT-3.3.4-8] it may keep sending once an acknowledgement frees the quota (§4.9);
        // [MQTT-4.6.0-6] in order
        String topic = "fc/qos1/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = subscriber(topic, 2, 1)) {
            publish(topic, 1, "m1", "m2", "m3");
            ReceivedPacket first = expectPublish(raw);
            ReceivedPacket second = expectPublish(raw);
            assertThat(first.publishPayloadUtf8(MQTT_5)).isEqualTo("m1");
            assertThat(second.publishPayloadUtf8(MQTT_5)).isEqualTo("m2");
            assertThat(first.publishPacketId()).isNotEqualTo(second.publishPacketId());
            assertThat(raw.receiveWithin(WINDOW)).as("third PUBLISH while 2 are unacknowledged").isEmpty();

            raw.send(puback(first.publishPacketId(), MQTT_5, 0));
            ReceivedPacket third = expectPublish(raw);
            assertThat(third.publishPayloadUtf8(MQTT_5)).isEqualTo("m3");
            assertThat(third.publishPacketId()).isNotEqualTo(second.publishPacketId());
        }
    }

    @Test
    void deliver_whenQos2PubrecSentButNoPubcomp_thenQuotaStaysUsed() throws Exception {
        // §4.9: the send quota is incremented by PUBACK or PUBCOMP, not by a successful PUBREC: with Receive
        // Maximum 1 the second QoS 2 message waits for PUBCOMP; [MQTT-4.3.3-4] PUBREL answers PUBREC
        String topic = "fc/qos2/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = subscriber(topic, 1, 2)) {
            publish(topic, 2, "m1", "m2");
            ReceivedPacket first = expectPublish(raw);
            assertThat(first.publishQos()).isEqualTo(2);
            assertThat(raw.receiveWithin(WINDOW)).isEmpty();

            raw.send(pubrec(first.publishPacketId(), MQTT_5, 0));
            ReceivedPacket pubrel = raw.receive(TIMEOUT);
            assertThat(pubrel.type()).as("packet %s", pubrel).isEqualTo(PUBREL);
            assertThat(raw.receiveWithin(WINDOW)).as("PUBLISH before PUBCOMP").isEmpty();

            raw.send(pubcomp(first.publishPacketId(), MQTT_5, 0));
            assertThat(expectPublish(raw).publishPayloadUtf8(MQTT_5)).isEqualTo("m2");
        }
    }

    @Test
    void deliver_whenQos2PubrecWithErrorCode_thenNoPubrelAndQuotaFreed() throws Exception {
        // §4.9: the send quota is also incremented by a PUBREC with Reason Code 0x80 or greater, which ends that
        // exchange: [MQTT-4.3.3-4] PUBREL only answers a PUBREC with a Reason Code below 0x80 (§4.3.3)
        String topic = "fc/qos2err/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = subscriber(topic, 1, 2)) {
            publish(topic, 2, "m1", "m2");
            ReceivedPacket first = expectPublish(raw);
            raw.send(pubrec(first.publishPacketId(), MQTT_5, 0x80));
            ReceivedPacket next = raw.receive(TIMEOUT);
            assertThat(next.type()).as("packet %s", next).isEqualTo(PUBLISH);
            assertThat(next.publishPayloadUtf8(MQTT_5)).isEqualTo("m2");
        }
    }

    @Test
    void deliver_whenReceiveMaximumLarge_thenManyInFlightWithDistinctPacketIds() throws Exception {
        // [MQTT-2.2.1-3] each in-flight PUBLISH has its own Packet Identifier; with Receive Maximum 10 all 10
        // messages arrive without any acknowledgement
        String topic = "fc/many/" + TestClients.uniqueId("t");
        try (RawMqttClient raw = subscriber(topic, 10, 1)) {
            String[] payloads = new String[10];
            for (int i = 0; i < payloads.length; i++) {
                payloads[i] = "m" + i;
            }
            publish(topic, 1, payloads);
            Set<Integer> ids = new HashSet<>();
            for (int i = 0; i < payloads.length; i++) {
                ids.add(expectPublish(raw).publishPacketId());
            }
            assertThat(ids).hasSize(10);
        }
    }
}
