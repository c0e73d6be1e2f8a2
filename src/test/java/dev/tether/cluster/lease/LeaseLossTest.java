package dev.tether.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tether.listener.MqttListener;
import dev.tether.store.BrokerInstance;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A replica whose lease is taken away in PostgreSQL ({@code fenced_at} set, as another replica does when this one
 * stops answering) stops serving within the lease: its MQTT connections close as if the process had died (no
 * DISCONNECT, no recorded close, no will), it accepts no new connection, and it counts the loss. The exit with
 * status 75 is turned off here ({@code tether.cluster.exit-on-lease-loss}) so that the test JVM survives.
 */
@QuarkusTest
@TestProfile(LeaseLossTest.Profile.class)
@WithTestResource(PostgresResource.class)
class LeaseLossTest {

    private static final Duration LEASE = Duration.ofSeconds(3);

    /** A short lease renewed often, and no exit on its loss. */
    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tether.store.instance-timeout", "3s",
                    "tether.store.heartbeat-interval", "500ms",
                    "tether.cluster.exit-on-lease-loss", "false");
        }
    }

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;
    @Inject
    BrokerInstance instance;
    @Inject
    Lease lease;
    @Inject
    MeterRegistry registry;

    @Test
    void leaseLost_whenFencedInPostgres_thenClientsClosedWithoutDisconnectOrWillAndSessionsLeftToOthers() throws Exception {
        Sql sql = new Sql(dataSource);
        String holderId = TestClients.uniqueId("lease-holder");
        String willTopic = "lease/will/" + holderId;
        assertThat(lease.isValid()).isTrue();
        try (RawMqttClient holder = RawMqttClient.connect("127.0.0.1", listener.port())) {
            holder.send(MqttPackets.connect(holderId).sessionExpiry(3600L)
                    .will(willTopic, "gone".getBytes(StandardCharsets.UTF_8), 1, false).build());
            ReceivedPacket connack = holder.receive(Duration.ofSeconds(5));
            assertThat(connack.type()).isEqualTo(MqttPackets.CONNACK);
            assertThat(connack.connackReasonCode()).isZero();
            await().atMost(Duration.ofSeconds(5)).until(() -> sql.count("SELECT count(*) FROM sessions "
                    + "WHERE client_id = ? AND connected AND instance_id = ?", holderId, instance.id()) == 1);

            long fencedAt = System.nanoTime();
            assertThat(sql.update("UPDATE broker_instances SET fenced_at = now(), fenced_by = gen_random_uuid() "
                    + "WHERE instance_id = ?", instance.id())).isEqualTo(1);

            // The next renewal (every 500 ms) is refused: the broker closes the connection well within the lease.
            assertThat(holder.awaitClosed(LEASE)).as("connection closed within the lease").isTrue();
            System.out.printf("LeaseLossTest: connection closed %d ms after the fence%n",
                    (System.nanoTime() - fencedAt) / 1_000_000);
            assertThat(packetsBeforeClose(holder)).as("packets before the close")
                    .noneMatch(p -> p.type() == MqttPackets.DISCONNECT);
        }

        assertThat(lease.isValid()).isFalse();
        assertThat(lease.isLost()).isTrue();
        assertThat(registry.get("tether.cluster.leases.lost").functionCounter().count()).isEqualTo(1.0);
        await().atMost(Duration.ofSeconds(2)).until(() -> listener.connectionCount() == 0);
        // The listener is stopped: a new client cannot reach this replica.
        await().atMost(Duration.ofSeconds(2)).ignoreExceptions().untilAsserted(() ->
                assertThatThrownBy(() -> {
                    try (RawMqttClient late = RawMqttClient.connect("127.0.0.1", listener.port())) {
                        late.send(MqttPackets.connect(TestClients.uniqueId("late")).build());
                        late.receive(Duration.ofSeconds(1));
                    }
                }).isInstanceOf(IOException.class));

        // Nobody released the session: it stays connected on this instance until another replica sweeps it once the
        // lease has expired, and its will is neither published nor scheduled (that replica decides it then).
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(3)).until(() -> sql.count(
                "SELECT count(*) FROM sessions s JOIN session_wills w ON w.client_id = s.client_id "
                        + "WHERE s.client_id = ? AND s.connected AND s.instance_id = ? AND s.connection_id IS NOT NULL "
                        + "AND w.publish_at IS NULL", holderId, instance.id()) == 1);
        assertThat(sql.count("SELECT count(*) FROM retained_messages WHERE topic = ?", willTopic)).isZero();
    }

    /** The packets that arrived before the server closed the connection. */
    private static List<ReceivedPacket> packetsBeforeClose(RawMqttClient client) throws IOException {
        List<ReceivedPacket> packets = new ArrayList<>();
        try {
            Optional<ReceivedPacket> p;
            while ((p = client.receiveWithin(Duration.ofMillis(100))).isPresent()) {
                packets.add(p.get());
            }
        } catch (EOFException | SocketException closed) {
            // all read
        }
        return packets;
    }
}
