package dev.tether.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Clean Start and Session Present (MQTT 5.0 §3.1.2.4, §3.2.2.1.1) with a real client and PostgreSQL. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class CleanStartTest {

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    private Mqtt5ConnAck connect(Mqtt5BlockingClient c, boolean cleanStart, long expiry) {
        return c.connectWith().cleanStart(cleanStart).sessionExpiryInterval(expiry).send();
    }

    @Test
    void connect_whenCleanStartZeroAndNoSession_thenNewSessionAndSessionPresentZero() {
        // [MQTT-3.1.2-6] [MQTT-3.2.2-3]
        String id = TestClients.uniqueId("cs-new");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        assertThat(connect(c, false, 60).isSessionPresent()).isFalse();
        c.disconnect();
        assertThat(new Sql(dataSource).count("SELECT count(*) FROM sessions WHERE client_id = ?", id)).isEqualTo(1);
    }

    @Test
    void connect_whenCleanStartZeroAndSessionExists_thenResumedWithSessionPresentOne() {
        // [MQTT-3.1.2-5] [MQTT-3.2.2-3]
        String id = TestClients.uniqueId("cs-resume");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        connect(c, false, 60);
        c.disconnect();
        assertThat(connect(c, false, 60).isSessionPresent()).isTrue();
        c.disconnect();
    }

    @Test
    void connect_whenCleanStartOne_thenExistingSessionDiscardedAndSessionPresentZero() {
        // [MQTT-3.1.2-4] [MQTT-3.2.2-2]
        String id = TestClients.uniqueId("cs-clean");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        connect(c, false, 60);
        c.subscribeWith().topicFilter("cs/clean/" + id).send();
        c.disconnect();
        assertThat(connect(c, true, 60).isSessionPresent()).isFalse();
        c.disconnect();
        assertThat(new Sql(dataSource).count("SELECT count(*) FROM subscriptions WHERE client_id = ?", id)).isZero();
        assertThat(connect(c, false, 60).isSessionPresent()).isTrue();
        c.disconnect();
    }
}
