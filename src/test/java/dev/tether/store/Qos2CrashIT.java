package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.BrokerProcess;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * QoS 2 towards a client across a SIGKILL (issue 8, item 7): once the client has seen a PUBLISH, a resumed session
 * resends that PUBLISH with DUP 1 and its original Packet Identifier, never as a new message; once it has seen
 * PUBREL, the resume sends PUBREL, never the PUBLISH again [MQTT-4.4.0-1] [MQTT-4.3.3-5]. The broker is killed the
 * moment the client reads the packet; a trigger makes the state change of the message slow, so a state written after
 * the packet went out would still be uncommitted at the kill.
 */
class Qos2CrashIT {

    private static final Duration PACKET = Duration.ofSeconds(10);
    private static final int V5 = MqttPackets.MQTT_5;

    private final List<BrokerProcess> brokers = new ArrayList<>();
    private final List<RawMqttClient> clients = new ArrayList<>();

    @AfterEach
    void stopEverything() {
        for (RawMqttClient c : clients) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closed by the kill
            }
        }
        brokers.forEach(BrokerProcess::stop);
    }

    @Test
    void resume_whenBrokerKilledRightAfterPublishAndAfterPubrel_thenOriginalPacketIdentifierAndNoDuplicate()
            throws Exception {
        BrokerProcess broker = BrokerProcess.create("qos2-crash-it", "q2", brokers);
        broker.start();
        String id = TestClients.uniqueId("crash-q2");
        String topic = "crash/" + id;
        RawMqttClient sub = connect(broker, MqttPackets.connect(id).sessionExpiry(3600L), false);
        sub.send(MqttPackets.subscribe(1, topic, 2, V5, null));
        assertThat(sub.receive(PACKET).type()).isEqualTo(MqttPackets.SUBACK);
        slowStateChanges(broker);

        RawMqttClient pub = connect(broker, MqttPackets.connect(TestClients.uniqueId("crash-pub")), false);
        pub.send(MqttPackets.publish(V5, topic, 2, false, false, 1, "once".getBytes(StandardCharsets.UTF_8), null));
        ReceivedPacket first = sub.receive(PACKET);
        assertThat(first.type()).isEqualTo(MqttPackets.PUBLISH);
        int packetId = first.publishPacketId();
        killAndRestart(broker);

        RawMqttClient again = connect(broker, MqttPackets.connect(id).cleanStart(false).sessionExpiry(3600L), true);
        ReceivedPacket resent = again.receive(PACKET);
        assertThat(resent.type()).as("resend after the kill").isEqualTo(MqttPackets.PUBLISH);
        assertThat(resent.publishDup()).as("DUP of the resent PUBLISH").isTrue();
        assertThat(resent.publishPacketId()).as("Packet Identifier of the resent PUBLISH").isEqualTo(packetId);

        again.send(MqttPackets.pubrec(packetId, V5, 0));
        assertThat(again.receive(PACKET).type()).isEqualTo(MqttPackets.PUBREL);
        killAndRestart(broker);

        RawMqttClient third = connect(broker, MqttPackets.connect(id).cleanStart(false).sessionExpiry(3600L), true);
        ReceivedPacket afterRelease = third.receive(PACKET);
        assertThat(afterRelease.type()).as("after PUBREL the resume sends PUBREL, not the PUBLISH again")
                .isEqualTo(MqttPackets.PUBREL);
        assertThat(afterRelease.packetId()).isEqualTo(packetId);
        third.send(MqttPackets.pubcomp(packetId, V5, 0));
        third.send(MqttPackets.disconnect(V5, 0, null));
        assertThat(third.awaitClosed(PACKET)).isTrue();

        RawMqttClient last = connect(broker, MqttPackets.connect(id).cleanStart(false).sessionExpiry(3600L), true);
        assertThat(last.receiveWithin(Duration.ofMillis(1500))).as("message delivered again after PUBCOMP").isEmpty();
    }

    /** Every state change of a queued message takes a second: the window in which a kill would lose it. */
    private static void slowStateChanges(BrokerProcess broker) throws Exception {
        try (Connection c = broker.jdbc(); Statement s = c.createStatement()) {
            s.execute("CREATE OR REPLACE FUNCTION test_slow_state() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    + "BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$");
            s.execute("CREATE TRIGGER test_slow_state BEFORE UPDATE ON queued_messages FOR EACH ROW "
                    + "WHEN (NEW.state IS DISTINCT FROM OLD.state) EXECUTE FUNCTION test_slow_state()");
        }
    }

    private static void killAndRestart(BrokerProcess broker) throws Exception {
        broker.kill();
        assertThat(broker.process().waitFor(BrokerProcess.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        broker.start();
    }

    private RawMqttClient connect(BrokerProcess broker, MqttPackets.ConnectBuilder connect, boolean sessionPresent)
            throws IOException {
        RawMqttClient c = TestClients.connectRaw(broker.mqttPort, connect, sessionPresent, PACKET);
        clients.add(c);
        return c;
    }
}
