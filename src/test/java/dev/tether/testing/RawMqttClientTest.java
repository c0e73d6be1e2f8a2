package dev.tether.testing;

import static dev.tether.testing.MqttPackets.*;
import static dev.tether.testing.MqttPacketsTest.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link RawMqttClient} against an in-test loopback ServerSocket standing in for the broker. Single-threaded: the
 * client's connect completes through the listen backlog, then the test accepts and drives the server end itself.
 */
@Timeout(30)
class RawMqttClientTest {

    static final Duration WAIT = Duration.ofSeconds(5);
    static final Duration SHORT = Duration.ofMillis(200);

    ServerSocket listener;
    RawMqttClient client;
    Socket server;

    @BeforeEach
    void openConnection() throws IOException {
        listener = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        listener.setSoTimeout((int) WAIT.toMillis());
        client = RawMqttClient.connect(InetAddress.getLoopbackAddress().getHostAddress(), listener.getLocalPort());
        server = listener.accept();
        server.setSoTimeout((int) WAIT.toMillis());
    }

    @AfterEach
    void closeAll() throws IOException {
        client.close();
        server.close();
        listener.close();
    }

    private void serverWrite(byte[] bytes) throws IOException {
        OutputStream out = server.getOutputStream();
        out.write(bytes);
        out.flush();
    }

    @Test
    void sendAndSendSplitArriveByteExact() throws IOException {
        byte[] connect = connect(MQTT_5, "raw").sessionExpiry(60L).build();
        byte[] burst = concat(subscribe(1, "t", 1, MQTT_5, null), publish(MQTT_5, "t", 1, 2, hex("01")));
        client.send(connect);
        client.sendSplit(burst, 3);
        byte[] received = server.getInputStream().readNBytes(connect.length + burst.length);
        assertThat(received).isEqualTo(concat(connect, burst));
        assertThat(ReceivedPacket.parseAll(received)).extracting(ReceivedPacket::type)
                .containsExactly(CONNECT, SUBSCRIBE, PUBLISH);
    }

    @Test
    void sendSplitRejectsSplitOutsideThePacket() {
        assertThatThrownBy(() -> client.sendSplit(pingreq(), 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> client.sendSplit(pingreq(), 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void framesPacketsAcrossWritesAndKeepsPartialBytesOverATimeout() throws IOException {
        byte[] connack = hex("2003000000");
        byte[] publish = publish(MQTT_3_1_1, "a/b", 0, 0, hex("cafe"));
        serverWrite(new byte[]{connack[0]}); // only the first header byte
        assertThat(client.receiveWithin(SHORT)).isEmpty();
        serverWrite(concat(java.util.Arrays.copyOfRange(connack, 1, connack.length), publish, hex("d0")));

        ReceivedPacket first = client.receive(WAIT);
        assertThat(first.type()).isEqualTo(CONNACK);
        assertThat(first.connackReasonCode()).isZero();
        ReceivedPacket second = client.receive(WAIT);
        assertThat(second.publishTopic()).isEqualTo("a/b");
        assertThat(second.publishPayload(MQTT_3_1_1)).isEqualTo(hex("cafe"));

        assertThat(client.receiveWithin(SHORT)).isEmpty(); // half a PINGRESP pending
        serverWrite(hex("00"));
        assertThat(client.receive(WAIT).type()).isEqualTo(PINGRESP);
    }

    @Test
    void receiveThrowsWithinTheBoundWhenNothingArrives() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> client.receive(SHORT)).isInstanceOf(SocketTimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(SHORT.minusMillis(50), WAIT);
    }

    @Test
    void awaitClosedIsFalseWhileTheServerKeepsTheConnection() throws IOException {
        long start = System.nanoTime();
        assertThat(client.awaitClosed(SHORT)).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(WAIT);
        assertThat(client.closedByServer()).isFalse();
    }

    @Test
    void awaitClosedSeesFinAndKeepsThePacketSentBeforeIt() throws IOException {
        serverWrite(hex("e0018e"));
        server.close();
        assertThat(client.awaitClosed(WAIT)).isTrue();
        assertThat(client.closedByServer()).isTrue();
        assertThat(client.receive(WAIT).disconnectReasonCode()).isEqualTo(0x8e);
        assertThatThrownBy(() -> client.receive(WAIT)).isInstanceOf(EOFException.class);
    }

    @Test
    void awaitClosedSeesReset() throws IOException {
        server.setSoLinger(true, 0);
        server.close();
        assertThat(client.awaitClosed(WAIT)).isTrue();
    }

    @Test
    void receiveReportsEndOfStreamInsteadOfTimingOut() throws IOException {
        server.close();
        long start = System.nanoTime();
        assertThatThrownBy(() -> client.receive(WAIT)).isInstanceOf(EOFException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(WAIT);
    }

    @Test
    void closeAbruptlyResetsTheServerSide() throws IOException {
        client.closeAbruptly();
        assertThatThrownBy(() -> server.getInputStream().read()).isInstanceOf(SocketException.class);
    }
}
