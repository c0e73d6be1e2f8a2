package dev.tether.delivery;

import static dev.tether.testing.MqttPackets.MQTT_5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5SubAckException;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.suback.Mqtt5SubAckReasonCode;
import dev.tether.listener.MqttListener;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Shared subscriptions {@code $share/{ShareName}/{filter}} (MQTT 5.0 §4.8.2): each message goes to one member
 * of each matching group, preferring connected members; with none connected it is queued for one durable member.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SharedSubscriptionTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Set<Integer> ALL_20 = IntStream.range(0, 20).boxed().collect(Collectors.toSet());

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    dev.tether.auth.acl.AccessControl acl;

    private final List<Mqtt5BlockingClient> toClose = new ArrayList<>();

    @AfterEach
    void noRules() {
        if (new Sql(dataSource).update("DELETE FROM mqtt_acl") > 0) {
            acl.reload().await().atMost(TIMEOUT);
        }
    }

    @AfterEach
    void closeClients() {
        for (Mqtt5BlockingClient c : toClose) {
            if (c.getState().isConnected()) {
                c.disconnectWith().sessionExpiryInterval(0).send();
            }
        }
    }

    /** A member: a connected client collecting the payloads (as integers) it receives, in arrival order. */
    private final class Member {
        final String id;
        final Mqtt5BlockingClient client;
        final List<Integer> got = Collections.synchronizedList(new ArrayList<>());
        final List<MqttQos> qos = Collections.synchronizedList(new ArrayList<>());

        Member(String prefix, long sessionExpiry) {
            this(TestClients.uniqueId(prefix), sessionExpiry, true);
        }

        Member(String id, long sessionExpiry, boolean cleanStart) {
            this.id = id;
            this.client = TestClients.mqtt5(listener.port(), id);
            toClose.add(client);
            client.toAsync().publishes(MqttGlobalPublishFilter.ALL, p -> {
                qos.add(p.getQos());
                got.add(Integer.parseInt(new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8)));
            });
            client.connectWith().cleanStart(cleanStart).sessionExpiryInterval(sessionExpiry).send();
        }

        Member subscribe(String filter, MqttQos q) {
            var suback = client.subscribeWith().topicFilter(filter).qos(q).send();
            assertThat(suback.getReasonCodes()).extracting(Mqtt5SubAckReasonCode::getCode).containsExactly(q.getCode());
            return this;
        }

        Set<Integer> gotSet() {
            synchronized (got) {
                return new HashSet<>(got);
            }
        }
    }

    private Sql sql() {
        return new Sql(dataSource);
    }

    private void publish(String topic, int from, int to, MqttQos q) {
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sh-pub"));
        pub.connect();
        for (int i = from; i < to; i++) {
            pub.publishWith().topic(topic).qos(q).payload(Integer.toString(i).getBytes(StandardCharsets.UTF_8)).send();
        }
        pub.disconnect();
    }

    /** Waits until the members got {@code total} messages together, then at least 1 s more for extra copies. */
    private static void awaitTotal(int total, Member... members) {
        await().atMost(TIMEOUT).pollDelay(Duration.ofMillis(50)).during(Duration.ofMillis(1000))
                .until(() -> IntStream.range(0, members.length).map(i -> members[i].got.size()).sum() == total);
    }

    private static void assertExactlyOnce(Set<Integer> expected, Member... members) {
        List<Integer> all = new ArrayList<>();
        for (Member m : members) {
            all.addAll(m.got);
        }
        assertThat(all).as("each message once in the group").doesNotHaveDuplicates();
        assertThat(new HashSet<>(all)).isEqualTo(expected);
    }

    @Test
    void publish_whenTwoMembersOnline_thenEachMessageToExactlyOneAndBothGetSome() {
        // §4.8.2: a message to a shared subscription goes to only one of the sessions subscribed to it;
        // a non-shared subscription on the same filter still gets every message.
        String topic = "sh/two/" + TestClients.uniqueId("t");
        String shared = "$share/" + TestClients.uniqueId("g") + "/" + topic;
        Member a = new Member("sh-a", 0).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        Member b = new Member("sh-b", 0).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        Member plain = new Member("sh-plain", 0).subscribe(topic, MqttQos.AT_LEAST_ONCE);

        publish(topic, 0, 20, MqttQos.AT_LEAST_ONCE);

        awaitTotal(20, a, b);
        assertExactlyOnce(ALL_20, a, b);
        Set<Integer> both = a.gotSet();
        both.retainAll(b.gotSet());
        assertThat(both).as("intersection").isEmpty();
        assertThat(a.got).as("member a got some").isNotEmpty();
        assertThat(b.got).as("member b got some").isNotEmpty();
        awaitTotal(20, plain);
        assertThat(plain.got).containsExactlyElementsOf(IntStream.range(0, 20).boxed().toList());
    }

    @Test
    void publish_whenTwoGroupsOnSameFilter_thenEachGroupGetsEveryMessageOnce() {
        // §4.8.2: ShareName and filter identify a group; every matching group gets a copy.
        String topic = "sh/groups/" + TestClients.uniqueId("t");
        String g1 = "$share/" + TestClients.uniqueId("g1") + "/sh/groups/+";
        String g2 = "$share/" + TestClients.uniqueId("g2") + "/" + topic;
        Member a1 = new Member("sh-a1", 0).subscribe(g1, MqttQos.AT_LEAST_ONCE);
        Member a2 = new Member("sh-a2", 0).subscribe(g1, MqttQos.AT_LEAST_ONCE);
        Member b1 = new Member("sh-b1", 0).subscribe(g2, MqttQos.AT_MOST_ONCE);
        Member b2 = new Member("sh-b2", 0).subscribe(g2, MqttQos.AT_MOST_ONCE);

        publish(topic, 0, 20, MqttQos.AT_LEAST_ONCE);

        awaitTotal(20, a1, a2);
        awaitTotal(20, b1, b2);
        assertExactlyOnce(ALL_20, a1, a2);
        assertExactlyOnce(ALL_20, b1, b2);
    }

    @Test
    void publish_whenDurableMemberDisconnected_thenAllGoToOnlineMemberAndNothingQueued() {
        // §4.8.2: connected members are preferred; nothing is queued for the disconnected durable member.
        String topic = "sh/offline-one/" + TestClients.uniqueId("t");
        String shared = "$share/" + TestClients.uniqueId("g") + "/" + topic;
        Member away = new Member("sh-away", 300).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        Member online = new Member("sh-online", 300).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        away.client.disconnect();

        publish(topic, 0, 20, MqttQos.AT_LEAST_ONCE);

        awaitTotal(20, online);
        assertThat(online.got).containsExactlyElementsOf(IntStream.range(0, 20).boxed().toList());
        assertThat(away.got).isEmpty();
        assertThat(sql().count("SELECT count(*) FROM queued_messages WHERE client_id = ?", away.id)).isZero();
        // the durable member's shared subscription is a row in subscriptions, with its full filter
        assertThat(sql().count("SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?",
                away.id, shared)).isEqualTo(1);
    }

    @Test
    void publish_whenNoMemberOnline_thenQueuedForOneDurableMemberAndDeliveredOnReconnect() {
        // §4.8.2 with [MQTT-3.1.2-5]: a QoS 1 message for a group without a connected member is stored in one
        // member's session (queued_messages) and delivered when that member resumes its session.
        String topic = "sh/offline-all/" + TestClients.uniqueId("t");
        String shared = "$share/" + TestClients.uniqueId("g") + "/" + topic;
        Member a = new Member("sh-qa", 300).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        Member b = new Member("sh-qb", 300).subscribe(shared, MqttQos.AT_LEAST_ONCE);
        a.client.disconnect();
        b.client.disconnect();

        publish(topic, 0, 20, MqttQos.AT_LEAST_ONCE);

        String countSql = "SELECT count(*) FROM queued_messages WHERE client_id = ?";
        await().atMost(TIMEOUT).untilAsserted(() ->
                assertThat(sql().count(countSql, a.id) + sql().count(countSql, b.id)).isEqualTo(20));
        assertThat(sql().count(countSql, a.id)).as("round-robin over durable members").isEqualTo(10);

        // Both resume their sessions (no new SUBSCRIBE): the queued messages arrive, each exactly once.
        Member a2 = new Member(a.id, 300, false);
        Member b2 = new Member(b.id, 300, false);
        awaitTotal(20, a2, b2);
        assertExactlyOnce(ALL_20, a2, b2);
        await().atMost(TIMEOUT).untilAsserted(() ->
                assertThat(sql().count(countSql, a.id) + sql().count(countSql, b.id)).isZero());

        // The resumed sessions kept the shared subscription: new messages are shared between them again.
        publish(topic, 20, 30, MqttQos.AT_LEAST_ONCE);
        awaitTotal(30, a2, b2);
        assertExactlyOnce(IntStream.range(0, 30).boxed().collect(Collectors.toSet()), a2, b2);
    }

    @Test
    void publish_whenMemberGrantedLowerQos_thenDeliveredAtMinimumQos() {
        // [MQTT-4.8.2-3] the server respects the granted QoS of the member's subscription
        String topic = "sh/qos/" + TestClients.uniqueId("t");
        Member m = new Member("sh-qos", 0).subscribe("$share/" + TestClients.uniqueId("g") + "/" + topic,
                MqttQos.AT_LEAST_ONCE);

        publish(topic, 0, 2, MqttQos.EXACTLY_ONCE);
        publish(topic, 2, 3, MqttQos.AT_MOST_ONCE);

        awaitTotal(3, m);
        assertThat(m.qos).containsExactly(MqttQos.AT_LEAST_ONCE, MqttQos.AT_LEAST_ONCE, MqttQos.AT_MOST_ONCE);
    }

    @Test
    void subscribe_whenRetainedMessageExists_thenNotSentToSharedSubscription() {
        // §3.3.1.3: retained messages are sent when a new Non-shared Subscription is made, not a shared one
        String topic = "sh/retained/" + TestClients.uniqueId("t");
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("sh-rpub"));
        pub.connect();
        pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).payload("7".getBytes()).send();
        try {
            Member shared = new Member("sh-rshared", 0)
                    .subscribe("$share/" + TestClients.uniqueId("g") + "/" + topic, MqttQos.AT_LEAST_ONCE);
            Member plain = new Member("sh-rplain", 0).subscribe(topic, MqttQos.AT_LEAST_ONCE);
            awaitTotal(1, plain);
            assertThat(plain.got).containsExactly(7);
            assertThat(shared.got).isEmpty();
        } finally {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).payload(new byte[0]).send();
            pub.disconnect();
        }
    }

    @Test
    void connectAndSubscribe_whenSharedFilter_thenAvailableAdvertisedAndSubackGrantsQos() throws Exception {
        // §3.2.2.3.15 Shared Subscription Available; [MQTT-3.9.3-1] SUBACK reason code = granted QoS
        String id = TestClients.uniqueId("sh-raw");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MQTT_5, id).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.connackProperties().number(MqttPackets.SHARED_SUBSCRIPTION_AVAILABLE)).contains(1L);
            raw.send(MqttPackets.subscribe(1, MQTT_5, null,
                    new MqttPackets.Subscription("$share/g/sh/raw/" + id, 2),
                    new MqttPackets.Subscription("$share/g/sh/raw/+", 1),
                    new MqttPackets.Subscription("$share/h/sh/#", 0)));
            assertThat(raw.receive(TIMEOUT).subackReasonCodes(MQTT_5)).containsExactly(2, 1, 0);
        }
    }

    @Test
    void subscribe_whenSharedFilterPartDenied_thenNotAuthorized() {
        // mqtt_acl denies test/nosubscribe and secret/#: a share group does not get around that (0x87)
        new Sql(dataSource).update(dev.tether.testing.AclRows.PAHO_SUITE);
        acl.reload().await().atMost(TIMEOUT);
        Member m = new Member("sh-denied", 0);
        assertThatThrownBy(() -> m.client.subscribeWith()
                .addSubscription().topicFilter("$share/g/test/nosubscribe").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                .addSubscription().topicFilter("$share/g/secret/x").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                .addSubscription().topicFilter("$share/g/sh/allowed").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                .send())
                .isInstanceOfSatisfying(Mqtt5SubAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCodes()).containsExactly(
                                Mqtt5SubAckReasonCode.NOT_AUTHORIZED, Mqtt5SubAckReasonCode.NOT_AUTHORIZED,
                                Mqtt5SubAckReasonCode.GRANTED_QOS_1));
    }

    @Test
    void subscribe_whenNoLocalOnSharedFilter_thenDisconnectProtocolError() throws Exception {
        // [MQTT-3.8.3-4] No Local = 1 on a Shared Subscription is a Protocol Error: DISCONNECT 0x82
        String id = TestClients.uniqueId("sh-nolocal");
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(MqttPackets.connect(MQTT_5, id).build());
            assertThat(raw.receive(TIMEOUT).connackReasonCode()).isZero();
            int qos1NoLocal = 0b0000_0101; // QoS 1, No Local (bit 2), §3.8.3.1
            raw.send(MqttPackets.subscribe(1, "$share/g/sh/nolocal/" + id, qos1NoLocal, MQTT_5, null));
            ReceivedPacket disconnect = raw.receive(TIMEOUT);
            assertThat(disconnect.type()).isEqualTo(MqttPackets.DISCONNECT);
            assertThat(disconnect.disconnectReasonCode()).isEqualTo(0x82);
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
        assertThat(sql().count("SELECT count(*) FROM subscriptions WHERE client_id = ?", id)).isZero();
    }
}
