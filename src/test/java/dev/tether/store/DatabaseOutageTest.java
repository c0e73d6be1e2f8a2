package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3BlockingClient;
import com.hivemq.client.mqtt.mqtt3.exceptions.Mqtt3ConnAckException;
import com.hivemq.client.mqtt.mqtt3.message.connect.connack.Mqtt3ConnAckReturnCode;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5PubAckException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import com.hivemq.client.mqtt.mqtt5.message.publish.puback.Mqtt5PubAckReasonCode;
import dev.tether.listener.MqttListener;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** PostgreSQL goes away under a running broker and comes back: refusals while down, recovery without a restart. */
@QuarkusTest
@TestProfile(DatabaseOutageTest.Profile.class)
@WithTestResource(OutagePostgresResource.class)
class DatabaseOutageTest {

    /**
     * A short store timeout so a CONNECT waiting for PostgreSQL is refused quickly, and a lease longer than the
     * outage (up to about 45 s here): a replica cut off from PostgreSQL for longer than its lease stops serving and
     * exits, which is not what this test is about.
     */
    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.store.connect-timeout", "2s",
                    "tether.store.instance-timeout", "120s");
        }
    }

    @Inject
    MqttListener listener;
    @TestHTTPResource("/q/health/ready")
    URL ready;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private HttpResponse<String> readiness() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(ready.toString())).timeout(Duration.ofSeconds(15)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void broker_whenPostgresStopsAndStartsAgain_thenRefusesDurableWorkWhileDownAndRecoversByItself() throws Exception {
        // [MQTT-3.2.2-6] [MQTT-3.2.2-7] a refused CONNECT: CONNACK with an error code (0x88 Server unavailable,
        // 3.1.1: 0x03), Session Present 0, then close; [MQTT-4.3.2-2] no successful PUBACK for a QoS 1
        // message that could not be stored; [MQTT-3.1.2-5] the durable session is still there afterwards.
        String topic = "outage/" + TestClients.uniqueId("t");
        String subscriberId = TestClients.uniqueId("outage-sub");
        Mqtt5BlockingClient subscriber = TestClients.mqtt5(listener.port(), subscriberId);
        subscriber.connectWith().cleanStart(true).sessionExpiryInterval(3600).send();
        subscriber.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();
        subscriber.disconnect(); // offline durable session: its QoS 1 messages must go to PostgreSQL
        Mqtt5AsyncClient publisher = TestClients.mqtt5(listener.port(), TestClients.uniqueId("outage-pub")).toAsync();
        publisher.connectWith().cleanStart(true).sessionExpiryInterval(0).send().get(10, TimeUnit.SECONDS);
        assertThat(readiness().statusCode()).isEqualTo(200);

        OutagePostgresResource.stopDatabase();
        try {
            // MQTT 5 durable CONNECT: 0x88 within the bounded wait.
            Mqtt5AsyncClient durable5 = TestClients.mqtt5(listener.port(), TestClients.uniqueId("outage-d5")).toAsync();
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> durable5.connectWith().cleanStart(false).sessionExpiryInterval(3600).send()
                    .get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOfSatisfying(Mqtt5ConnAckException.class, e -> {
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SERVER_UNAVAILABLE);
                        assertThat(e.getMqttMessage().isSessionPresent()).isFalse();
                    });
            System.out.printf("DatabaseOutageTest: CONNACK 0x88 after %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));

            // MQTT 3.1.1 Clean Session 0: return code 0x03 Server unavailable.
            Mqtt3BlockingClient durable3 = TestClients.mqtt3(listener.port(), TestClients.uniqueId("outage-d3"));
            assertThatThrownBy(() -> durable3.connectWith().cleanSession(false).send())
                    .isInstanceOfSatisfying(Mqtt3ConnAckException.class, e ->
                            assertThat(e.getMqttMessage().getReturnCode()).isEqualTo(Mqtt3ConnAckReturnCode.SERVER_UNAVAILABLE));

            // Readiness reports DOWN.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                HttpResponse<String> r = readiness();
                assertThat(r.statusCode()).isEqualTo(503);
                assertThat(r.body()).contains("DOWN");
            });

            // A QoS 1 message for the durable (offline) subscriber is not acknowledged as success.
            Optional<Mqtt5PubAckReasonCode> code = pubackCode(publisher, topic, "lost?");
            assertThat(code).as("PUBACK reason code (empty: no PUBACK)")
                    .satisfiesAnyOf(c -> assertThat(c).isEmpty(), c -> assertThat(c.get().isError()).isTrue());
        } finally {
            OutagePostgresResource.startDatabase();
        }

        // Recovery: a durable CONNECT succeeds again, readiness is UP, messages flow.
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            Mqtt5BlockingClient probe = TestClients.mqtt5(listener.port(), TestClients.uniqueId("outage-probe"));
            assertThat(probe.connectWith().cleanStart(false).sessionExpiryInterval(60).send().getReasonCode())
                    .isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS);
            probe.disconnect();
        });
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(readiness().statusCode()).isEqualTo(200));

        assertThat(pubackCode(publisher, topic, "after")).contains(Mqtt5PubAckReasonCode.SUCCESS);
        try (Mqtt5BlockingClient.Mqtt5Publishes publishes = subscriber.publishes(MqttGlobalPublishFilter.ALL)) {
            assertThat(subscriber.connectWith().cleanStart(false).sessionExpiryInterval(3600).send().isSessionPresent())
                    .isTrue();
            Optional<Mqtt5Publish> received;
            do {
                received = publishes.receive(10, TimeUnit.SECONDS);
            } while (received.isPresent()
                    && !"after".equals(new String(received.get().getPayloadAsBytes(), StandardCharsets.UTF_8)));
            assertThat(received).as("the message published after recovery").isPresent();
        } finally {
            subscriber.disconnect();
            publisher.disconnect().get(5, TimeUnit.SECONDS);
        }
    }

    /** The PUBACK reason code of a QoS 1 publish, or empty if no PUBACK arrives within 10 s. */
    private static Optional<Mqtt5PubAckReasonCode> pubackCode(Mqtt5AsyncClient publisher, String topic, String payload)
            throws InterruptedException {
        try {
            Mqtt5PublishResult r = publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(payload.getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
            if (r.getError().isPresent() && r.getError().get() instanceof Mqtt5PubAckException e) {
                return Optional.of(e.getMqttMessage().getReasonCode());
            }
            return Optional.of(((Mqtt5PublishResult.Mqtt5Qos1Result) r).getPubAck().getReasonCode());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Mqtt5PubAckException p) {
                return Optional.of(p.getMqttMessage().getReasonCode());
            }
            throw new AssertionError("publish failed without a PUBACK", e);
        } catch (java.util.concurrent.TimeoutException e) {
            return Optional.empty();
        }
    }
}
