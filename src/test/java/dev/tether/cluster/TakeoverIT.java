package dev.tether.cluster;

import static dev.tether.testing.MqttPackets.MQTT_5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import dev.tether.testing.MqttPackets;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.ReplicaSet;
import dev.tether.testing.TestClients;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One Client Identifier, one connection across the replicas: a CONNECT on one replica takes the
 * session over from another (DISCONNECT 0x8E there first), with its unacknowledged messages.
 */
class TakeoverIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("takeover-it", 3);

    private static final Duration PACKET_WAIT = Duration.ofSeconds(10);
    private static final Duration PING_WAIT = Duration.ofSeconds(2);
    private static final long SESSION_EXPIRY = 300;
    private static final int SESSION_TAKEN_OVER = 0x8E;
    private static final int RACE_ROUNDS = 30;

    private final ClusterClients clients = new ClusterClients();
    private final List<RawMqttClient> sockets = new ArrayList<>();

    @AfterEach
    void closeConnections() throws IOException {
        clients.disconnectAll();
        for (RawMqttClient s : sockets) {
            s.close();
        }
        sockets.clear();
    }

    @Test
    void connect_whenClientLiveOnAnotherReplica_thenOldConnectionGets0x8EFirstAndUnackedMessageIsResentWithDup()
            throws Exception {
        // [MQTT-3.1.4-3] the existing connection is closed (MQTT 5: DISCONNECT 0x8E, §4.13.2) before
        // the new CONNECT is answered; [MQTT-3.2.2-3] Session Present 1; [MQTT-4.4.0-1] an
        // unacknowledged PUBLISH is resent with DUP 1 [MQTT-3.3.1-1] and its original Packet Identifier.
        String id = TestClients.uniqueId("takeover");
        String topic = "takeover/" + id;
        RawMqttClient onR1 = track(TestClients.connectRaw(replicas.mqttPort(1), connect(id), false, PACKET_WAIT));
        onR1.send(MqttPackets.subscribe(1, topic, 1, MQTT_5, null));
        ReceivedPacket suback = onR1.receive(PACKET_WAIT);
        assertThat(suback.subackReasonCodes(MQTT_5)).as("SUBACK on R1").containsExactly(1);
        Mqtt5AsyncClient publisher = clients.client(replicas.mqttPort(1), TestClients.uniqueId("takeover-pub"));
        publisher.connectWith().cleanStart(true).send().get(10, TimeUnit.SECONDS);
        publisher.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                .payload("unacked".getBytes(StandardCharsets.UTF_8)).send().get(10, TimeUnit.SECONDS);
        ReceivedPacket first = onR1.receive(PACKET_WAIT);
        assertThat(first.type()).as("packet on R1 after the publish: %s", first).isEqualTo(MqttPackets.PUBLISH);
        int packetId = first.publishPacketId();
        // Not acknowledged: the message stays in flight.

        long connectAt = System.nanoTime();
        RawMqttClient onR2 = track(RawMqttClient.connect("127.0.0.1", replicas.mqttPort(2)));
        onR2.send(connect(id).build());
        ReceivedPacket connack = onR2.receive(PACKET_WAIT);
        long connackAt = System.nanoTime();
        int arrivedOnR1BeforeConnack = onR1.bufferedBytes();
        boolean r1ClosedBeforeConnack = onR1.closedByServer();

        assertThat(connack.type()).as("answer to the CONNECT on R2: %s", connack).isEqualTo(MqttPackets.CONNACK);
        assertThat(connack.connackReasonCode()).as("CONNACK reason code on R2").isZero();
        Optional<ReceivedPacket> onOld = receiveOrClosed(onR1, Duration.ofSeconds(2));
        long oldAnsweredAt = System.nanoTime();
        assertThat(onOld).as("what the old connection on R1 received after the same client id connected on R2 "
                + "(nothing: the client stays connected twice)").isPresent();
        assertThat(onOld.get().type()).as("packet on the old connection on R1: %s", onOld.get())
                .isEqualTo(MqttPackets.DISCONNECT);
        assertThat(onOld.get().disconnectReasonCode()).as("DISCONNECT reason code on the old connection on R1")
                .isEqualTo(SESSION_TAKEN_OVER);
        assertThat(arrivedOnR1BeforeConnack > 0 || r1ClosedBeforeConnack)
                .as("DISCONNECT 0x8E had reached the old connection on R1 when R2's CONNACK arrived (CONNACK read %d ms "
                        + "after the CONNECT; R1's DISCONNECT read %d ms after it, once CONNACK had been read)",
                        TimeUnit.NANOSECONDS.toMillis(connackAt - connectAt), TimeUnit.NANOSECONDS.toMillis(oldAnsweredAt - connectAt))
                .isTrue();
        assertThat(connack.connackSessionPresent()).as("Session Present on R2 for the session taken over from R1").isTrue();

        ReceivedPacket resent = onR2.receive(PACKET_WAIT);
        assertThat(resent.type()).as("first packet on R2 after CONNACK: %s", resent).isEqualTo(MqttPackets.PUBLISH);
        assertThat(resent.publishPayloadUtf8(MQTT_5)).as("payload of the message resent on R2").isEqualTo("unacked");
        assertThat(resent.publishDup()).as("DUP of the unacknowledged message resent on R2").isTrue();
        assertThat(resent.publishPacketId()).as("Packet Identifier of the message resent on R2 (R1 used %d)", packetId)
                .isEqualTo(packetId);
        onR2.send(MqttPackets.puback(packetId, MQTT_5, 0));

        assertThat(onR1.awaitClosed(Duration.ofSeconds(2))).as("old connection on R1 closed after DISCONNECT 0x8E").isTrue();
        assertThat(remainingPackets(onR1)).as("packets on the old connection on R1 after DISCONNECT 0x8E").isEmpty();
    }

    @Test
    void connect_whenTwoConnectsWithOneClientIdRaceOnTwoReplicas_thenExactlyOneConnectionSurvives() throws Exception {
        // [MQTT-3.1.4-3] one Network Connection per Client Identifier, however the CONNECTs interleave.
        for (int round = 1; round <= RACE_ROUNDS; round++) {
            String id = TestClients.uniqueId("race");
            CyclicBarrier together = new CyclicBarrier(2);
            CompletableFuture<RawMqttClient> toR2 = CompletableFuture.supplyAsync(() -> connectAt(2, id, together));
            CompletableFuture<RawMqttClient> toR3 = CompletableFuture.supplyAsync(() -> connectAt(3, id, together));
            RawMqttClient r2 = track(toR2.get(15, TimeUnit.SECONDS));
            RawMqttClient r3 = track(toR3.get(15, TimeUnit.SECONDS));
            // Both CONNECTs processed: each connection got its CONNACK or was closed.
            String r2Start = awaitConnackOrClose(r2);
            String r3Start = awaitConnackOrClose(r3);
            boolean r2Alive = answersPing(r2);
            boolean r3Alive = answersPing(r3);
            String state = String.format("round %d, client %s: R2 %s and %s; R3 %s and %s", round, id, r2Start,
                    r2Alive ? "answers PINGREQ" : "does not answer PINGREQ", r3Start,
                    r3Alive ? "answers PINGREQ" : "does not answer PINGREQ");
            assertThat(r2Alive ^ r3Alive).as("exactly one of two racing connections is usable (%s)", state).isTrue();
            RawMqttClient loser = r2Alive ? r3 : r2;
            assertThat(loser.awaitClosed(PING_WAIT)).as("the other connection is closed by the server (%s)", state).isTrue();
            await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(
                    replicas.sql().rows("SELECT connected FROM sessions WHERE client_id = ?", id))
                    .as("sessions row of %s (%s)", id, state)
                    .extracting(row -> row.get("connected")).containsExactly(true));
            RawMqttClient winner = r2Alive ? r2 : r3;
            winner.send(MqttPackets.disconnect(MQTT_5, 0, null));
        }
    }

    private static MqttPackets.ConnectBuilder connect(String id) {
        return MqttPackets.connect(MQTT_5, id).cleanStart(false).sessionExpiry(SESSION_EXPIRY);
    }

    private RawMqttClient track(RawMqttClient c) {
        sockets.add(c);
        return c;
    }

    private RawMqttClient connectAt(int replica, String id, CyclicBarrier together) {
        try {
            RawMqttClient c = RawMqttClient.connect("127.0.0.1", replicas.mqttPort(replica));
            byte[] connect = connect(id).build();
            together.await(5, TimeUnit.SECONDS);
            c.send(connect);
            return c;
        } catch (Exception e) {
            throw new IllegalStateException("CONNECT to R" + replica + " failed", e);
        }
    }

    /** Reads until CONNACK or the connection's end; says which and what came with it. */
    private static String awaitConnackOrClose(RawMqttClient c) throws IOException {
        List<String> seen = new ArrayList<>();
        long deadline = System.nanoTime() + PACKET_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<ReceivedPacket> p = receiveOrClosed(c, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (p.isEmpty()) {
                return c.closedByServer() ? "closed after " + seen : "nothing within " + PACKET_WAIT + " after " + seen;
            }
            seen.add(describe(p.get()));
            if (p.get().type() == MqttPackets.CONNACK) {
                return "got " + seen;
            }
        }
        return "no CONNACK within " + PACKET_WAIT + " (got " + seen + ")";
    }

    /** PINGREQ, then PINGRESP within {@link #PING_WAIT}; packets before it (e.g. a DISCONNECT) are skipped. */
    private static boolean answersPing(RawMqttClient c) {
        try {
            c.send(MqttPackets.pingreq());
            long deadline = System.nanoTime() + PING_WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                Optional<ReceivedPacket> p = receiveOrClosed(c, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
                if (p.isEmpty()) {
                    return false;
                }
                if (p.get().type() == MqttPackets.PINGRESP) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /** The next packet, or empty when none arrives in time or the server closed or reset the connection. */
    private static Optional<ReceivedPacket> receiveOrClosed(RawMqttClient c, Duration wait) throws IOException {
        try {
            return c.receiveWithin(wait);
        } catch (EOFException | SocketException closed) {
            return Optional.empty();
        }
    }

    /** Complete packets left on a connection the server closed. */
    private static List<String> remainingPackets(RawMqttClient c) throws IOException {
        List<String> left = new ArrayList<>();
        while (true) {
            Optional<ReceivedPacket> p = receiveOrClosed(c, Duration.ofMillis(100));
            if (p.isEmpty()) {
                return left;
            }
            left.add(describe(p.get()));
        }
    }

    private static String describe(ReceivedPacket p) {
        return switch (p.type()) {
            case MqttPackets.CONNACK -> "CONNACK (Session Present " + (p.connackSessionPresent() ? 1 : 0) + ", reason 0x"
                    + Integer.toHexString(p.connackReasonCode()) + ")";
            case MqttPackets.DISCONNECT -> "DISCONNECT 0x" + Integer.toHexString(p.disconnectReasonCode());
            default -> p.typeName();
        };
    }
}
