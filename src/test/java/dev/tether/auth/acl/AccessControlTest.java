package dev.tether.auth.acl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rules of {@code mqtt_acl} enforced end to end. Other tests share this database: with any row present everything
 * else is denied, so every test removes its rows and reloads the rules before the next one starts.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class AccessControlTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String OWN_DEVICES =
            "INSERT INTO mqtt_acl (username, action, topic_filter, permission) VALUES (NULL, 'all', 'devices/%u/#', 'allow')";

    @Inject
    MqttListener listener;
    @Inject
    AccessControl acl;
    @Inject
    DataSource dataSource;

    private static final String PASSWORD = "acl-test-password";

    private Sql sql() {
        return new Sql(dataSource);
    }

    /** The users these tests log in as (authentication is on for every User Name): password {@value #PASSWORD}. */
    @BeforeEach
    void users() {
        for (String user : List.of("acl-alice", "acl-watcher")) {
            sql().update("INSERT INTO mqtt_users (username, password_hash) VALUES (?, crypt(?, gen_salt('bf', 4))) "
                    + "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, enabled = true",
                    user, PASSWORD);
        }
    }

    @AfterEach
    void removeRules() {
        sql().update("DELETE FROM mqtt_acl");
        acl.reload().await().atMost(WAIT);
        assertThat(sql().count("SELECT count(*) FROM mqtt_acl")).isZero();
        assertThat(acl.rules().isEmpty()).isTrue();
    }

    private void rules(String... inserts) {
        for (String insert : inserts) {
            sql().update(insert);
        }
        acl.reload().await().atMost(WAIT);
    }

    private RawMqttClient connect(int level, String username) throws Exception {
        return connect(MqttPackets.connect(level, TestClients.uniqueId("acl")).username(username).password(PASSWORD));
    }

    private RawMqttClient connect(MqttPackets.ConnectBuilder connect) throws Exception {
        RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port());
        c.send(connect.build());
        assertThat(c.receive(WAIT).connackReasonCode()).isZero();
        return c;
    }

    private long subscriptionRows(String clientId, String filter) {
        return sql().count("SELECT count(*) FROM subscriptions WHERE client_id = ? AND topic_filter = ?", clientId, filter);
    }

    private static List<Integer> subscribe(RawMqttClient c, int level, int packetId, String... filters) throws Exception {
        MqttPackets.Subscription[] subs = new MqttPackets.Subscription[filters.length];
        for (int i = 0; i < filters.length; i++) {
            subs[i] = new MqttPackets.Subscription(filters[i], 1);
        }
        c.send(MqttPackets.subscribe(packetId, level, null, subs));
        return c.receive(WAIT).subackReasonCodes(level);
    }

    private static ReceivedPacket publish(RawMqttClient c, int level, String topic, int packetId) throws Exception {
        c.send(MqttPackets.publish(level, topic, 1, packetId, topic.getBytes(StandardCharsets.UTF_8)));
        ReceivedPacket ack = c.receive(WAIT);
        assertThat(ack.type()).isEqualTo(MqttPackets.PUBACK);
        return ack;
    }

    @Test
    void subscribe_whenOnlyOwnDevicesAllowedMqtt5_thenOthersNotAuthorized() throws Exception {
        rules(OWN_DEVICES);
        try (RawMqttClient alice = connect(5, "acl-alice")) {
            assertThat(subscribe(alice, 5, 1, "devices/acl-alice/#", "devices/bob/#", "devices/#", "devices/acl-alice/+/temp",
                    "$share/g/devices/acl-alice/x"))
                    .containsExactly(0x01, 0x87, 0x87, 0x01, 0x01);
        }
    }

    @Test
    void subscribe_whenOnlyOwnDevicesAllowedMqtt311_thenOthersFailure() throws Exception {
        rules(OWN_DEVICES);
        try (RawMqttClient alice = connect(4, "acl-alice")) {
            assertThat(subscribe(alice, 4, 1, "devices/acl-alice/#", "devices/bob/#")).containsExactly(0x01, 0x80);
        }
    }

    @Test
    void publish_whenDeniedMqtt5_thenPubackNotAuthorizedAndNotDelivered() throws Exception {
        rules(OWN_DEVICES,
                "INSERT INTO mqtt_acl (username, action, topic_filter, permission) VALUES ('acl-watcher', 'subscribe', '#', 'allow')");
        try (RawMqttClient watcher = connect(5, "acl-watcher"); RawMqttClient alice = connect(5, "acl-alice")) {
            assertThat(subscribe(watcher, 5, 1, "devices/#")).containsExactly(0x01);
            assertThat(publish(alice, 5, "devices/bob/t", 1).pubackReasonCode()).isEqualTo(0x87);
            assertThat(publish(alice, 5, "devices/acl-alice/t", 2).pubackReasonCode()).isZero();
            // Only the allowed message arrives: the denied one, published first, was not routed.
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("devices/acl-alice/t");
        }
    }

    @Test
    void publish_whenDeniedMqtt311_thenAcknowledgedAndDropped() throws Exception {
        rules(OWN_DEVICES,
                "INSERT INTO mqtt_acl (username, action, topic_filter, permission) VALUES ('acl-watcher', 'subscribe', '#', 'allow')");
        long deniedBefore = acl.deniedPublishes();
        try (RawMqttClient watcher = connect(4, "acl-watcher"); RawMqttClient alice = connect(4, "acl-alice")) {
            assertThat(subscribe(watcher, 4, 1, "devices/#")).containsExactly(0x01);
            assertThat(publish(alice, 4, "devices/bob/t", 1).packetId()).isEqualTo(1); // no negative ack in 3.1.1
            assertThat(publish(alice, 4, "devices/acl-alice/t", 2).packetId()).isEqualTo(2);
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("devices/acl-alice/t");
        }
        assertThat(acl.deniedPublishes()).isEqualTo(deniedBefore + 1);
    }

    @Test
    void reload_whenRuleInserted_thenEnforcedWithinTwoSeconds() throws Exception {
        try (RawMqttClient alice = connect(5, "acl-alice")) {
            assertThat(subscribe(alice, 5, 1, "elsewhere/x")).containsExactly(0x01);
            sql().update(OWN_DEVICES); // no explicit reload: the periodic one must pick it up
            long start = System.nanoTime();
            int packetId = 2;
            List<Integer> codes;
            do {
                Thread.sleep(50);
                codes = subscribe(alice, 5, packetId++, "elsewhere/y");
            } while (codes.get(0) != 0x87 && System.nanoTime() - start < Duration.ofSeconds(3).toNanos());
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(codes).containsExactly(0x87);
            assertThat(took).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void liveSubscription_whenNewRuleDeniesIt_thenStopsReceivingWithinTwoSecondsAndLeavesTheSession() throws Exception {
        String watcherId = TestClients.uniqueId("acl-watcher");
        try (RawMqttClient watcher = connect(MqttPackets.connect(5, watcherId).username("acl-watcher").password(PASSWORD)
                        .cleanStart(true).sessionExpiry(300L));
                RawMqttClient alice = connect(5, "acl-alice")) {
            assertThat(subscribe(watcher, 5, 1, "devices/#", "news/#")).containsExactly(0x01, 0x01);
            publish(alice, 5, "devices/acl-alice/t", 1);
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("devices/acl-alice/t");
            long revokedBefore = acl.revokedSubscriptions();

            // Rules appear (no explicit reload: the periodic one must find them); devices/# is no longer allowed.
            sql().update("INSERT INTO mqtt_acl (username, action, topic_filter, permission) "
                    + "VALUES ('acl-watcher', 'subscribe', 'news/#', 'allow'), (NULL, 'publish', '#', 'allow')");
            long start = System.nanoTime();
            await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20))
                    .until(() -> subscriptionRows(watcherId, "devices/#") == 0);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
            assertThat(subscriptionRows(watcherId, "news/#")).isOne();
            assertThat(acl.revokedSubscriptions()).isEqualTo(revokedBefore + 1);

            publish(alice, 5, "devices/acl-alice/t", 2);
            publish(alice, 5, "news/today", 3);
            // Only the allowed subscription still delivers, and nothing else arrives in the next second.
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("news/today");
            assertThat(watcher.receiveWithin(Duration.ofSeconds(1))).isEmpty();
            // Subscribing again is refused like any denied filter.
            assertThat(subscribe(watcher, 5, 2, "devices/#")).containsExactly(0x87);
        }
    }

    @Test
    void broadSubscription_whenADenyRuleSharesSomeTopics_thenAllowedAndOnlyDeniedTopicsWithheld() throws Exception {
        rules("INSERT INTO mqtt_acl (username, action, topic_filter, permission, priority) "
                + "VALUES (NULL, 'subscribe', 'secret/#', 'deny', 10), (NULL, 'all', '#', 'allow', 0)");
        long withheldBefore = acl.withheldMessages();
        try (RawMqttClient watcher = connect(5, "acl-watcher"); RawMqttClient alice = connect(5, "acl-alice")) {
            assertThat(subscribe(watcher, 5, 1, "#", "secret/+")).containsExactly(0x01, 0x87);
            publish(alice, 5, "secret/plans", 1);
            publish(alice, 5, "news/today", 2);
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("news/today");
            assertThat(watcher.receiveWithin(Duration.ofSeconds(1))).isEmpty();
        }
        assertThat(acl.withheldMessages()).isEqualTo(withheldBefore + 1);
    }

    @Test
    void resumedSession_whenRuleChangedWhileOffline_thenDeniedSubscriptionGone() throws Exception {
        String watcherId = TestClients.uniqueId("acl-watcher");
        MqttPackets.ConnectBuilder resume = MqttPackets.connect(5, watcherId).username("acl-watcher").password(PASSWORD)
                .cleanStart(false).sessionExpiry(300L);
        try (RawMqttClient watcher = connect(resume)) {
            assertThat(subscribe(watcher, 5, 1, "devices/#", "news/#")).containsExactly(0x01, 0x01);
            watcher.send(MqttPackets.disconnect(5, 0, null));
            assertThat(watcher.awaitClosed(WAIT)).isTrue();
        }
        await().atMost(WAIT).until(() -> sql().count(
                "SELECT count(*) FROM sessions WHERE client_id = ? AND connection_id IS NULL", watcherId) == 1);
        rules("INSERT INTO mqtt_acl (username, action, topic_filter, permission) "
                + "VALUES ('acl-watcher', 'subscribe', 'news/#', 'allow'), (NULL, 'publish', '#', 'allow')");
        try (RawMqttClient watcher = connect(resume); RawMqttClient alice = connect(5, "acl-alice")) {
            await().atMost(WAIT).until(() -> subscriptionRows(watcherId, "devices/#") == 0);
            publish(alice, 5, "devices/acl-alice/t", 1);
            publish(alice, 5, "news/today", 2);
            assertThat(watcher.receive(WAIT).publishTopic()).isEqualTo("news/today");
            assertThat(watcher.receiveWithin(Duration.ofSeconds(1))).isEmpty();
        }
    }

    @Test
    void connect_whenWillTopicDenied_thenNotAuthorized() throws Exception {
        rules(OWN_DEVICES);
        for (int level : new int[] {5, 4}) {
            try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
                c.send(MqttPackets.connect(level, TestClients.uniqueId("acl")).username("acl-alice")
                        .will("devices/bob/will", new byte[] {1}, 0, false).build());
                assertThat(c.receive(WAIT).connackReasonCode()).isEqualTo(level == 5 ? 0x87 : 5);
                assertThat(c.awaitClosed(WAIT)).isTrue();
            }
            try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
                c.send(MqttPackets.connect(level, TestClients.uniqueId("acl")).username("acl-alice")
                        .password(PASSWORD).will("devices/acl-alice/will", new byte[] {1}, 0, false).build());
                assertThat(c.receive(WAIT).connackReasonCode()).isZero();
            }
        }
    }

    @Test
    void connect_whenIdentityHasWildcardAndRulesSubstitute_thenRefused() throws Exception {
        rules(OWN_DEVICES);
        try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(5, TestClients.uniqueId("acl")).username("a+b").build());
            assertThat(c.receive(WAIT).connackReasonCode()).isEqualTo(0x87);
        }
        try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(5, "acl#" + TestClients.uniqueId("x")).username("acl-alice").build());
            assertThat(c.receive(WAIT).connackReasonCode()).isEqualTo(0x85);
        }
        try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(4, "acl#" + TestClients.uniqueId("x")).username("acl-alice").build());
            assertThat(c.receive(WAIT).connackReasonCode()).isEqualTo(2);
        }
    }

    /** The ```sql blocks of the README's "Access rules" section, in order. */
    static List<String> readmeExamples() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        int start = readme.indexOf("## Access rules");
        int end = readme.indexOf("\n## ", start + 1);
        Matcher m = Pattern.compile("```sql\\n(.*?)```", Pattern.DOTALL).matcher(readme.substring(start, end));
        List<String> out = new ArrayList<>();
        while (m.find()) {
            String q = m.group(1).trim();
            out.add(q.endsWith(";") ? q.substring(0, q.length() - 1) : q);
        }
        return out;
    }

    @Test
    void readmeExamples_whenRun_thenRulesDecideAsDocumented() throws Exception {
        List<String> examples = readmeExamples();
        assertThat(examples).hasSizeGreaterThanOrEqualTo(5);
        for (String q : examples) {
            String body = q.replaceAll("(?m)^--.*\\n", "").trim();
            if (body.startsWith("SELECT")) {
                assertThat(sql().rows(body)).as(q).hasSize(4);
            } else if (body.startsWith("INSERT")) {
                assertThat(sql().update(body)).as(q).isEqualTo(1);
            } else {
                assertThat(body).startsWith("DELETE FROM mqtt_acl"); // run by removeRules()
            }
        }
        AclRules loaded = acl.reload().await().atMost(WAIT);
        assertThat(loaded.rules()).hasSize(4);
        assertThat(loaded.maySubscribe("acl-alice", "c", "devices/acl-alice/#")).isTrue();
        assertThat(loaded.maySubscribe("acl-alice", "c", "devices/bob/#")).isFalse();
        assertThat(loaded.mayPublish("acl-alice", "c", "devices/acl-alice/firmware/v2")).isFalse();
        assertThat(loaded.maySubscribe("dashboard", "c", "devices/#")).isTrue();
        assertThat(loaded.mayPublish("dashboard", "c", "devices/x/t")).isFalse();
        assertThat(loaded.mayPublish(null, "gateway-1", "gateways/gateway-1/up")).isTrue();
        assertThat(loaded.mayPublish(null, "gateway-2", "gateways/gateway-1/up")).isFalse();
    }
}
