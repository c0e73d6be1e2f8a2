package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.datatypes.MqttTopic;
import com.hivemq.client.mqtt.datatypes.MqttUtf8String;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.datatypes.Mqtt5UserProperties;
import com.hivemq.client.mqtt.mqtt5.datatypes.Mqtt5UserProperty;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PayloadFormatIndicator;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * PUBLISH properties the server forwards unaltered (MQTT 5.0 §3.3.2.3): Payload Format Indicator [MQTT-3.3.2-4],
 * Content Type [MQTT-3.3.2-20], Response Topic [MQTT-3.3.2-15], Correlation Data [MQTT-3.3.2-16] and User
 * Properties [MQTT-3.3.2-17] [MQTT-3.3.2-18] — live, after a round trip through PostgreSQL for an offline session,
 * and from the retained store.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PropertyPassthroughTest {

    private static final long ARRIVES_MS = 5000;
    private static final String CONTENT_TYPE = "application/json; charset=utf-8";
    private static final String PAYLOAD = "{\"température\":21.5}";
    /** Not valid UTF-8 on purpose: Correlation Data is binary. */
    private static final byte[] CORRELATION = {0x00, (byte) 0xFF, 0x10, (byte) 0x80, 0x7F};
    /** A repeated name, an empty value and non-ASCII text; the order must be kept. */
    private static final List<String[]> USER_PROPERTIES = List.of(
            new String[]{"k", "1"}, new String[]{"trace", "abc"}, new String[]{"k", "2"},
            new String[]{"empty", ""}, new String[]{"k", "1"}, new String[]{"ünï", "cødé"});

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private void publishWithProperties(String topic, String responseTopic, boolean retain) {
        Mqtt5UserProperties props = Mqtt5UserProperties.of(
                USER_PROPERTIES.stream().map(u -> Mqtt5UserProperty.of(u[0], u[1])).toArray(Mqtt5UserProperty[]::new));
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pp-pub"));
        c.connect();
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(retain)
                    .payload(PAYLOAD.getBytes(StandardCharsets.UTF_8))
                    .payloadFormatIndicator(Mqtt5PayloadFormatIndicator.UTF_8)
                    .contentType(CONTENT_TYPE)
                    .responseTopic(responseTopic)
                    .correlationData(CORRELATION)
                    .userProperties(props)
                    .send();
        } finally {
            c.disconnect();
        }
    }

    private void clearRetained(String topic) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pp-clear"));
        c.connect();
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).payload(new byte[0]).send();
        } finally {
            c.disconnect();
        }
    }

    private static void assertPropertiesUnchanged(Optional<Mqtt5Publish> received, String topic, String responseTopic) {
        assertThat(received).as("a message on %s", topic).isPresent();
        Mqtt5Publish p = received.get();
        assertThat(p.getTopic().toString()).isEqualTo(topic);
        assertThat(new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo(PAYLOAD);
        assertThat(p.getPayloadFormatIndicator()).contains(Mqtt5PayloadFormatIndicator.UTF_8);
        assertThat(p.getContentType().map(MqttUtf8String::toString)).contains(CONTENT_TYPE);
        assertThat(p.getResponseTopic().map(MqttTopic::toString)).contains(responseTopic);
        assertThat(p.getCorrelationData().map(PropertyPassthroughTest::bytes)).hasValueSatisfying(
                data -> assertThat(data).containsExactly(CORRELATION));
        List<String> got = p.getUserProperties().asList().stream().map(PropertyPassthroughTest::pair).toList();
        List<String> sent = USER_PROPERTIES.stream().map(u -> u[0] + "=" + u[1]).toList();
        assertThat(got).containsExactlyElementsOf(sent);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    private static String pair(Mqtt5UserProperty u) {
        return u.getName() + "=" + u.getValue();
    }

    @Test
    void publish_whenPropertiesOf128BytesOrMoreEndInShortOne_thenPayloadAndPropertiesArriveUnchanged() throws Exception {
        // [MQTT-3.3.2-4] [MQTT-3.3.2-17] [MQTT-3.3.2-18]: a Property Length of two bytes; Netty 4.1.137 alone reads the
        // last property (Payload Format Indicator 01 01) as the start of the payload (see PropertyBlockRepair)
        String topic = "pp/long/" + TestClients.uniqueId("t");
        String big = "v".repeat(120);
        byte[] properties = MqttPackets.concat(MqttPackets.userProperty("trace", "abc"),
                MqttPackets.userProperty("big", big), new byte[]{MqttPackets.PAYLOAD_FORMAT_INDICATOR, 1});
        assertThat(properties.length).isGreaterThanOrEqualTo(130);
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pp-long"));
        try (Mqtt5BlockingClient.Mqtt5Publishes in = sub.publishes(MqttGlobalPublishFilter.ALL);
             RawMqttClient pub = RawMqttClient.connect("127.0.0.1", listener.port())) {
            sub.connect();
            sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            pub.send(MqttPackets.connect(MqttPackets.MQTT_5, TestClients.uniqueId("pp-raw")).build());
            assertThat(pub.receive(Duration.ofSeconds(5)).connackReasonCode()).isZero();
            pub.send(MqttPackets.publish(MqttPackets.MQTT_5, topic, 0, false, false, 0, "AB".getBytes(StandardCharsets.UTF_8),
                    properties));

            Optional<Mqtt5Publish> received = in.receive(ARRIVES_MS, MILLISECONDS);
            assertThat(received).isPresent();
            assertThat(new String(received.get().getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("AB");
            assertThat(received.get().getPayloadFormatIndicator()).contains(Mqtt5PayloadFormatIndicator.UTF_8);
            assertThat(received.get().getUserProperties().asList().stream().map(PropertyPassthroughTest::pair))
                    .containsExactly("trace=abc", "big=" + big);
        } finally {
            sub.disconnect();
        }
    }

    @Test
    void publish_whenSubscriberLive_thenPropertiesArriveUnchanged() throws Exception {
        // [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]
        String topic = "pp/live/" + TestClients.uniqueId("t");
        String responseTopic = "pp/reply/" + TestClients.uniqueId("r");
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pp-live"));
        try (Mqtt5BlockingClient.Mqtt5Publishes in = sub.publishes(MqttGlobalPublishFilter.ALL)) {
            sub.connect();
            sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            publishWithProperties(topic, responseTopic, false);
            assertPropertiesUnchanged(in.receive(ARRIVES_MS, MILLISECONDS), topic, responseTopic);
        } finally {
            sub.disconnect();
        }
    }

    @Test
    void reconnect_whenMessageQueuedWhileOffline_thenPropertiesArriveUnchanged() throws Exception {
        // Same rules as the live case, for a QoS 1 message stored in queued_messages while the session was offline
        // (§4.1) and delivered on resume
        String id = TestClients.uniqueId("pp-queued");
        String topic = "pp/queued/" + id;
        String responseTopic = "pp/reply/" + id;
        Mqtt5BlockingClient first = TestClients.mqtt5(listener.port(), id);
        first.connectWith().cleanStart(true).sessionExpiryInterval(300).send();
        first.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        first.disconnect();

        publishWithProperties(topic, responseTopic, false);
        Sql sql = new Sql(dataSource);
        await().atMost(Duration.ofSeconds(5)).until(() ->
                sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id) == 1);

        Mqtt5BlockingClient again = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes in = again.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(again.connectWith().cleanStart(false).sessionExpiryInterval(300).send().isSessionPresent()).isTrue();
            assertPropertiesUnchanged(in.receive(ARRIVES_MS, MILLISECONDS), topic, responseTopic);
        } finally {
            again.disconnectWith().sessionExpiryInterval(0).send();
        }
    }

    @Test
    void subscribe_whenRetainedMessageStored_thenPropertiesArriveUnchanged() throws Exception {
        // Same rules for a retained message ([MQTT-3.3.1-5] stored in retained_messages) sent on subscribe
        // ([MQTT-3.3.1-9]) with RETAIN = 1
        String topic = "pp/retained/" + TestClients.uniqueId("t");
        String responseTopic = "pp/reply/" + TestClients.uniqueId("r");
        publishWithProperties(topic, responseTopic, true);
        Mqtt5BlockingClient sub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("pp-ret"));
        try (Mqtt5BlockingClient.Mqtt5Publishes in = sub.publishes(MqttGlobalPublishFilter.ALL)) {
            sub.connect();
            sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
            Optional<Mqtt5Publish> got = in.receive(ARRIVES_MS, MILLISECONDS);
            assertPropertiesUnchanged(got, topic, responseTopic);
            assertThat(got.get().isRetain()).isTrue();
        } finally {
            sub.disconnect();
            clearRetained(topic);
        }
    }
}
