package dev.tether.delivery;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.Mqtt5RetainHandling;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Subscription Options (MQTT 5.0 §3.8.3.1) end to end with the HiveMQ client: No Local, Retain As Published and the
 * three Retain Handling values.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SubscriptionOptionsTest {

    /** Bound for something that must arrive. */
    private static final long ARRIVES_MS = 5000;
    /** Window in which something must NOT arrive (at least 1 s). */
    private static final long ABSENT_MS = 1500;

    @Inject
    MqttListener listener;

    private Mqtt5BlockingClient connected(String prefix) {
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), TestClients.uniqueId(prefix));
        c.connect();
        return c;
    }

    private void publish(String topic, boolean retain, String payload) {
        Mqtt5BlockingClient c = connected("so-pub");
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(retain)
                    .payload(payload.getBytes(StandardCharsets.UTF_8)).send();
        } finally {
            c.disconnect();
        }
    }

    /** Removes the retained message of {@code topic} (a zero-byte retained publish, [MQTT-3.3.1-6]). */
    private void clearRetained(String topic) {
        Mqtt5BlockingClient c = connected("so-clear");
        try {
            c.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).payload(new byte[0]).send();
        } finally {
            c.disconnect();
        }
    }

    private static void subscribe(Mqtt5BlockingClient c, String filter, Mqtt5RetainHandling handling) {
        c.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).retainHandling(handling).send();
    }

    private static String payload(Mqtt5Publish p) {
        return new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void publish_whenPublisherSubscribedWithNoLocal_thenNotSentBackButOthersReceive() throws Exception {
        // [MQTT-3.8.3-3] No Local = 1: the server must not forward the message to the connection that published it;
        // another client subscribed to the same topic receives it (control)
        String topic = "so/nolocal/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient self = connected("so-self");
        Mqtt5BlockingClient other = connected("so-other");
        try (Mqtt5BlockingClient.Mqtt5Publishes selfIn = self.publishes(MqttGlobalPublishFilter.ALL);
             Mqtt5BlockingClient.Mqtt5Publishes otherIn = other.publishes(MqttGlobalPublishFilter.ALL)) {
            self.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).noLocal(true).send();
            other.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).send();

            self.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("mine".getBytes(StandardCharsets.UTF_8)).send();

            assertThat(otherIn.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("mine");
            assertThat(selfIn.receive(ABSENT_MS, MILLISECONDS)).isEmpty();

            // another client's message still reaches the No Local subscriber
            publish(topic, false, "theirs");
            assertThat(selfIn.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("theirs");
        } finally {
            self.disconnect();
            other.disconnect();
        }
    }

    @Test
    void publish_whenPublisherSubscribedWithoutNoLocal_thenReceivesOwnMessage() throws Exception {
        // [MQTT-3.8.3-3] the converse: No Local = 0 delivers the client's own message back to it
        String topic = "so/local/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient self = connected("so-self");
        try (Mqtt5BlockingClient.Mqtt5Publishes selfIn = self.publishes(MqttGlobalPublishFilter.ALL)) {
            self.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).noLocal(false).send();
            self.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload("echo".getBytes(StandardCharsets.UTF_8)).send();
            assertThat(selfIn.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("echo");
        } finally {
            self.disconnect();
        }
    }

    @Test
    void publish_whenRetainedAndLiveSubscribers_thenRetainFlagFollowsRetainAsPublished() throws Exception {
        // [MQTT-3.3.1-12] Retain As Published 0: a live delivery has RETAIN = 0;
        // [MQTT-3.3.1-13] Retain As Published 1: RETAIN is set as in the received PUBLISH
        String topic = "so/rap/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient keep = connected("so-rap1");
        Mqtt5BlockingClient clear = connected("so-rap0");
        try (Mqtt5BlockingClient.Mqtt5Publishes keepIn = keep.publishes(MqttGlobalPublishFilter.ALL);
             Mqtt5BlockingClient.Mqtt5Publishes clearIn = clear.publishes(MqttGlobalPublishFilter.ALL)) {
            keep.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).retainAsPublished(true).send();
            clear.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).retainAsPublished(false).send();

            publish(topic, true, "retained-live");

            Optional<Mqtt5Publish> kept = keepIn.receive(ARRIVES_MS, MILLISECONDS);
            Optional<Mqtt5Publish> cleared = clearIn.receive(ARRIVES_MS, MILLISECONDS);
            assertThat(kept).map(SubscriptionOptionsTest::payload).contains("retained-live");
            assertThat(kept.get().isRetain()).isTrue();
            assertThat(cleared).map(SubscriptionOptionsTest::payload).contains("retained-live");
            assertThat(cleared.get().isRetain()).isFalse();

            // a non-retained publish is RETAIN = 0 for both
            publish(topic, false, "plain");
            assertThat(keepIn.receive(ARRIVES_MS, MILLISECONDS)).map(Mqtt5Publish::isRetain).contains(false);
            assertThat(clearIn.receive(ARRIVES_MS, MILLISECONDS)).map(Mqtt5Publish::isRetain).contains(false);
        } finally {
            keep.disconnect();
            clear.disconnect();
            clearRetained(topic);
        }
    }

    @Test
    void subscribe_whenRetainHandlingZero_thenRetainedSentOnEverySubscribe() throws Exception {
        // [MQTT-3.3.1-9] Retain Handling 0: retained messages are sent whenever a subscribe is made,
        // including a re-subscription to an existing filter; they arrive with RETAIN = 1
        String topic = "so/rh0/" + TestClients.uniqueId("t");
        publish(topic, true, "r0");
        Mqtt5BlockingClient c = connected("so-rh0");
        try (Mqtt5BlockingClient.Mqtt5Publishes in = c.publishes(MqttGlobalPublishFilter.ALL)) {
            subscribe(c, topic, Mqtt5RetainHandling.SEND);
            Optional<Mqtt5Publish> first = in.receive(ARRIVES_MS, MILLISECONDS);
            assertThat(first).map(SubscriptionOptionsTest::payload).contains("r0");
            assertThat(first.get().isRetain()).isTrue();

            subscribe(c, topic, Mqtt5RetainHandling.SEND);
            Optional<Mqtt5Publish> again = in.receive(ARRIVES_MS, MILLISECONDS);
            assertThat(again).map(SubscriptionOptionsTest::payload).contains("r0");
            assertThat(again.get().isRetain()).isTrue();
        } finally {
            c.disconnect();
            clearRetained(topic);
        }
    }

    @Test
    void subscribe_whenRetainHandlingOne_thenRetainedSentOnlyForNewSubscription() throws Exception {
        // [MQTT-3.3.1-10] Retain Handling 1: sent only if the subscription did not already exist
        String topic = "so/rh1/" + TestClients.uniqueId("t");
        publish(topic, true, "r1");
        Mqtt5BlockingClient c = connected("so-rh1");
        try (Mqtt5BlockingClient.Mqtt5Publishes in = c.publishes(MqttGlobalPublishFilter.ALL)) {
            subscribe(c, topic, Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST);
            Optional<Mqtt5Publish> first = in.receive(ARRIVES_MS, MILLISECONDS);
            assertThat(first).map(SubscriptionOptionsTest::payload).contains("r1");
            assertThat(first.get().isRetain()).isTrue();

            subscribe(c, topic, Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST);
            assertThat(in.receive(ABSENT_MS, MILLISECONDS)).isEmpty();

            // after an unsubscribe the subscription is new again
            c.unsubscribeWith().topicFilter(topic).send();
            subscribe(c, topic, Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST);
            assertThat(in.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("r1");
        } finally {
            c.disconnect();
            clearRetained(topic);
        }
    }

    @Test
    void subscribe_whenRetainHandlingOneAfterSessionResumed_thenRetainedNotResent() throws Exception {
        // [MQTT-3.3.1-10] a subscription restored with a resumed session (§4.1, [MQTT-3.1.2-5]) already exists,
        // so re-subscribing with Retain Handling 1 does not send the retained message again
        String id = TestClients.uniqueId("so-rh1p");
        String topic = "so/rh1p/" + id;
        publish(topic, true, "r1p");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        try (Mqtt5BlockingClient.Mqtt5Publishes in = c.publishes(MqttGlobalPublishFilter.ALL)) {
            c.connectWith().cleanStart(true).sessionExpiryInterval(60).send();
            subscribe(c, topic, Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST);
            assertThat(in.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("r1p");
            c.disconnect();

            Mqtt5ConnAck ack = c.connectWith().cleanStart(false).sessionExpiryInterval(60).send();
            assertThat(ack.isSessionPresent()).isTrue();
            subscribe(c, topic, Mqtt5RetainHandling.SEND_IF_SUBSCRIPTION_DOES_NOT_EXIST);
            assertThat(in.receive(ABSENT_MS, MILLISECONDS)).isEmpty();
        } finally {
            c.disconnectWith().sessionExpiryInterval(0).send();
            clearRetained(topic);
        }
    }

    @Test
    void subscribe_whenRetainHandlingTwo_thenRetainedNeverSentButLiveMessagesAre() throws Exception {
        // [MQTT-3.3.1-11] Retain Handling 2: retained messages are not sent when the subscription is made,
        // neither on the first subscribe nor on a re-subscribe; the subscription itself is in force
        String topic = "so/rh2/" + TestClients.uniqueId("t");
        publish(topic, true, "r2");
        Mqtt5BlockingClient c = connected("so-rh2");
        try (Mqtt5BlockingClient.Mqtt5Publishes in = c.publishes(MqttGlobalPublishFilter.ALL)) {
            subscribe(c, topic, Mqtt5RetainHandling.DO_NOT_SEND);
            assertThat(in.receive(ABSENT_MS, MILLISECONDS)).isEmpty();
            subscribe(c, topic, Mqtt5RetainHandling.DO_NOT_SEND);
            assertThat(in.receive(ABSENT_MS, MILLISECONDS)).isEmpty();

            publish(topic, false, "live");
            assertThat(in.receive(ARRIVES_MS, MILLISECONDS)).map(SubscriptionOptionsTest::payload).contains("live");
        } finally {
            c.disconnect();
            clearRetained(topic);
        }
    }
}
