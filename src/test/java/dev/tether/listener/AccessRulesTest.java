package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.auth.acl.AccessControl;
import dev.tether.testing.AclRows;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Denied subscriptions through {@code mqtt_acl} rows, as the Paho interoperability suite's
 * {@code test_subscribe_failure} expects of a broker: {@code test/nosubscribe} (and here {@code secret/#}) denied,
 * everything else allowed.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class AccessRulesTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;
    @Inject
    AccessControl acl;
    @Inject
    DataSource dataSource;

    @BeforeEach
    void rules() {
        new Sql(dataSource).update(AclRows.PAHO_SUITE);
        acl.reload().await().atMost(WAIT);
    }

    @AfterEach
    void noRules() {
        new Sql(dataSource).update("DELETE FROM mqtt_acl");
        acl.reload().await().atMost(WAIT);
    }

    private ReceivedPacket subscribe(int level, String... filters) throws Exception {
        try (RawMqttClient c = RawMqttClient.connect("127.0.0.1", listener.port())) {
            c.send(MqttPackets.connect(level, TestClients.uniqueId("acl")).build());
            assertThat(c.receive(WAIT).connackReasonCode()).isZero();
            MqttPackets.Subscription[] subs = new MqttPackets.Subscription[filters.length];
            for (int i = 0; i < filters.length; i++) {
                subs[i] = new MqttPackets.Subscription(filters[i], 1);
            }
            c.send(MqttPackets.subscribe(7, level, null, subs));
            return c.receive(WAIT);
        }
    }

    @Test
    void subscribe_whenFilterDeniedMqtt5_thenNotAuthorizedForThatFilterOnly() throws Exception {
        // SUBACK reason codes per filter (§3.9.3): 0x87 Not authorized; secret/# overlaps secret/plans
        assertThat(subscribe(5, "test/nosubscribe", "open/topic", "secret/plans").subackReasonCodes(5))
                .containsExactly(0x87, 0x01, 0x87);
    }

    @Test
    void subscribe_whenFilterDeniedMqtt311_thenFailure0x80() throws Exception {
        // 3.1.1 §3.9.3: 0x80 Failure
        assertThat(subscribe(4, "test/nosubscribe", "open/topic").subackReasonCodes(4)).containsExactly(0x80, 0x01);
    }
}
