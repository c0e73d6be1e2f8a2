package dev.tether.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.delivery.RetainedMessages;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The expiry job purges messages whose Message Expiry Interval passed: never-sent queued messages (a message
 * whose delivery started is finished [MQTT-3.3.2-5]) and retained messages, in bounded batches.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ExpiryJobMessagesTest {

    @Inject
    DataSource dataSource;
    @Inject
    ExpiryJob job;
    @Inject
    MqttListener listener;
    @Inject
    RetainedMessages retained;

    private static void offlineSession(Sql sql, String id) {
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, expiry_interval_seconds, "
                + "disconnected_at, expires_at) VALUES (?, '5.0', false, 3600, now(), now() + interval '1 hour')", id);
    }

    @Test
    void scheduledRun_whenQueuedMessageExpired_thenItsRowDeletedAndSentOrLiveOnesKept() {
        Sql sql = new Sql(dataSource);
        String id = TestClients.uniqueId("expired-msg");
        offlineSession(sql, id);
        sql.update("INSERT INTO queued_messages (client_id, topic, payload, qos, state, packet_id, expires_at) VALUES "
                + "(?, 't', '\\x01', 1, 'queued', NULL, now() - interval '1 second'), "
                + "(?, 't', '\\x02', 1, 'sent', 7, now() - interval '1 second'), "
                + "(?, 't', '\\x03', 1, 'queued', NULL, now() + interval '1 hour'), "
                + "(?, 't', '\\x04', 1, 'queued', NULL, NULL)", id, id, id, id);

        await().atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(100)).until(() -> sql.count(
                "SELECT count(*) FROM queued_messages WHERE client_id = ? AND payload = '\\x01'", id) == 0);
        assertThat(sql.rows("SELECT encode(payload, 'hex') AS p FROM queued_messages WHERE client_id = ? "
                + "ORDER BY message_id", id).stream().map(r -> r.get("p")).toList())
                .containsExactly("02", "03", "04");
    }

    @Test
    void runOnce_whenMoreExpiredMessagesThanOneBatch_thenAllDeleted() {
        Sql sql = new Sql(dataSource);
        String id = TestClients.uniqueId("expired-msgs");
        offlineSession(sql, id);
        int expired = 2_500; // tether.store.expiry-batch-size is 1000: three claims
        sql.update("INSERT INTO queued_messages (client_id, topic, payload, qos, expires_at) "
                + "SELECT ?, 't', '\\x00', 1, now() - interval '1 minute' + g * interval '1 millisecond' "
                + "FROM generate_series(1, ?) g", id, expired);

        // One explicit cycle (the scheduled one may run beside it: rows are claimed with SKIP LOCKED).
        assertThat(job.runOnce().await().atMost(Duration.ofSeconds(30))).isNotNull();

        await().atMost(Duration.ofSeconds(5))
                .until(() -> sql.count("SELECT count(*) FROM queued_messages WHERE client_id = ?", id) == 0);
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isEqualTo(1);
    }

    @Test
    void scheduledRun_whenRetainedMessageExpires_thenRowDeletedAndForgottenInMemory() {
        // A retained message with Message Expiry Interval 1 s: gone from retained_messages soon after
        Sql sql = new Sql(dataSource);
        String topic = "expiry/retained/" + TestClients.uniqueId("t");
        String keptTopic = topic + "/kept";
        Mqtt5BlockingClient pub = TestClients.mqtt5(listener.port(), TestClients.uniqueId("expired-ret-pub"));
        pub.connect();
        try {
            pub.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE).retain(true).messageExpiryInterval(1)
                    .payload("short-lived".getBytes(StandardCharsets.UTF_8)).send();
            pub.publishWith().topic(keptTopic).qos(MqttQos.AT_LEAST_ONCE).retain(true)
                    .payload("kept".getBytes(StandardCharsets.UTF_8)).send();
        } finally {
            pub.disconnect();
        }
        await().atMost(Duration.ofSeconds(2))
                .until(() -> sql.count("SELECT count(*) FROM retained_messages WHERE topic = ?", topic) == 1);
        assertThat(retained.holds(topic)).isTrue();

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100))
                .until(() -> sql.count("SELECT count(*) FROM retained_messages WHERE topic = ?", topic) == 0);
        await().atMost(Duration.ofSeconds(2)).until(() -> !retained.holds(topic));
        assertThat(sql.count("SELECT count(*) FROM retained_messages WHERE topic = ?", keptTopic)).isEqualTo(1);
        assertThat(retained.holds(keptTopic)).isTrue();
        // clean up: an empty retained message clears the topic [MQTT-3.3.1-6]
        Mqtt5BlockingClient clear = TestClients.mqtt5(listener.port(), TestClients.uniqueId("expired-ret-clr"));
        clear.connect();
        clear.publishWith().topic(keptTopic).qos(MqttQos.AT_LEAST_ONCE).retain(true).send();
        clear.disconnect();
    }
}
