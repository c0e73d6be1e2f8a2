package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The client's Maximum Packet Size (§3.1.2.11.4) towards it: a message that would not fit is dropped for that
 * client (never sent, the connection stays) and counted in {@code tether_delivery_oversize_dropped_messages_total}.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PacketSizeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WINDOW = Duration.ofMillis(1500);
    private static final String METRIC = "tether_delivery_oversize_dropped_messages_total";

    @Inject
    MqttListener listener;

    @TestHTTPResource("/q/metrics")
    URL metrics;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private double oversizeDrops() throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(metrics.toString()))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        Optional<Double> value = r.body().lines()
                .filter(l -> l.startsWith(METRIC + " ") || l.startsWith(METRIC + "{"))
                .map(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .reduce(Double::sum);
        assertThat(value).as("%s in /q/metrics", METRIC).isPresent();
        return value.get();
    }

    private RawMqttClient subscriber(String filter, int maxPacketSize, byte[] moreProperties) throws Exception {
        RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port());
        raw.send(connect(MQTT_5, TestClients.uniqueId("ps-sub"))
                .extraProperties(concat(property(MAXIMUM_PACKET_SIZE, maxPacketSize), moreProperties)).build());
        assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
        raw.send(subscribe(1, filter, 1, MQTT_5, null));
        assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(1);
        return raw;
    }

    private void publish(String topic, int qos, byte[] payload) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("ps-pub"));
        c.connect();
        try {
            c.publishWith().topic(topic).qos(MqttQos.fromCode(qos)).payload(payload).send();
        } finally {
            c.disconnect();
        }
    }

    private static byte[] filled(int size) {
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) 'x');
        return b;
    }

    @Test
    void deliver_whenMessageLargerThanClientMaximumPacketSize_thenDroppedAndLaterSmallOneDelivered() throws Exception {
        // [MQTT-3.1.2-24] the server must not send packets exceeding the client's Maximum Packet Size;
        // [MQTT-3.1.2-25] it discards such a message without sending it, as if delivered, and the connection stays
        String topic = "ps/drop/" + TestClients.uniqueId("t");
        try (RawMqttClient sub = subscriber(topic, 100, null)) {
            double before = oversizeDrops();
            publish(topic, 1, filled(500));
            publish(topic, 0, filled(500));
            assertThat(sub.receiveWithin(WINDOW)).as("oversize PUBLISH").isEmpty();

            publish(topic, 1, "small".getBytes(StandardCharsets.UTF_8));
            ReceivedPacket p = sub.receive(TIMEOUT);
            assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
            assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("small");
            assertThat(p.toBytes().length).isLessThanOrEqualTo(100);
            sub.send(puback(p.publishPacketId(), MQTT_5, 0));
            assertThat(sub.closedByServer()).isFalse();
            sub.send(pingreq());
            assertThat(sub.receive(TIMEOUT).type()).isEqualTo(PINGRESP);

            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(oversizeDrops()).isGreaterThanOrEqualTo(before + 2));
        }
    }

    @Test
    void deliver_whenMessageExactlyClientMaximumPacketSize_thenDelivered() throws Exception {
        // [MQTT-3.1.2-24] the limit is inclusive: a PUBLISH of exactly Maximum Packet Size bytes is sent
        String topic = "ps/exact/" + TestClients.uniqueId("t");
        int max = 100;
        // QoS 0 PUBLISH, MQTT 5, no properties: 1 + 1 (Remaining Length < 128) + 2 + topic + 1 (property length) + payload
        int payloadSize = max - 5 - topic.length();
        try (RawMqttClient sub = subscriber(topic, max, null)) {
            publish(topic, 0, filled(payloadSize));
            ReceivedPacket p = sub.receive(TIMEOUT);
            assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
            assertThat(p.toBytes().length).isEqualTo(max);
        }
    }

    @Test
    void deliver_whenTopicAliasWouldPushPublishOverClientMaximumPacketSize_thenNoPacketExceedsIt() throws Exception {
        // [MQTT-3.1.2-24] whatever Tether adds on the way out (here a Topic Alias property, 3 bytes, because the
        // client allows one alias), no PUBLISH it sends may exceed the client's Maximum Packet Size
        String topic = "ps/alias/" + TestClients.uniqueId("t");
        int max = 100;
        int payloadSize = max - 5 - topic.length(); // exactly max bytes without an alias
        try (RawMqttClient sub = subscriber(topic, max, property(TOPIC_ALIAS_MAXIMUM, 1))) {
            publish(topic, 0, filled(payloadSize));
            publish(topic, 0, "after".getBytes(StandardCharsets.UTF_8));
            ReceivedPacket p;
            do {
                p = sub.receive(TIMEOUT);
                assertThat(p.type()).as("packet %s", p).isEqualTo(PUBLISH);
                assertThat(p.toBytes().length).as("size of %s", p).isLessThanOrEqualTo(max);
            } while (!"after".equals(p.publishPayloadUtf8(MQTT_5)));
        }
    }
}
