package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.MqttPackets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/** The raw-byte check for duplicated CONNECT properties, on Netty's embedded channel. */
class FirstPacketGuardTest {

    private static byte[] connectWithDuplicateExpiry() {
        return MqttPackets.connect(5, "dup").sessionExpiry(10L)
                .extraProperties(MqttPackets.property(MqttPackets.SESSION_EXPIRY_INTERVAL, 20L)).build();
    }

    @Test
    void inspect_whenSessionExpiryTwice_thenDuplicate() {
        assertThat(FirstPacketGuard.inspect(Unpooled.wrappedBuffer(connectWithDuplicateExpiry())))
                .isEqualTo(FirstPacketGuard.DUPLICATE);
    }

    @Test
    void inspect_whenUserPropertyRepeated_thenClean() {
        byte[] connect = MqttPackets.connect(5, "users").sessionExpiry(10L)
                .extraProperties(MqttPackets.concat(MqttPackets.userProperty("a", "1"), MqttPackets.userProperty("a", "2")))
                .build();
        assertThat(FirstPacketGuard.inspect(Unpooled.wrappedBuffer(connect))).isEqualTo(FirstPacketGuard.CLEAN);
    }

    @Test
    void channelRead_whenPropertyIdentifierTakesTwoBytes_thenClosed() {
        // Found by PacketDecodingFuzzTest: 0x91 0x00 is Session Expiry Interval (0x11) not minimally encoded; Netty reads
        // it as 0x11 and keeps the second value, so the duplicate went unseen.
        byte[] connect = MqttPackets.connect(5, "twobyte").sessionExpiry(10L)
                .extraProperties(MqttPackets.concat(new byte[] {(byte) 0x91, 0x00}, MqttPackets.uint32(20))).build();
        EmbeddedChannel channel = new EmbeddedChannel(new FirstPacketGuard());
        channel.writeInbound(Unpooled.wrappedBuffer(connect));
        assertThat((Object) channel.readInbound()).isNull();
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void inspect_whenPacketIncomplete_thenNeedMore() {
        byte[] connect = connectWithDuplicateExpiry();
        assertThat(FirstPacketGuard.inspect(Unpooled.wrappedBuffer(connect, 0, connect.length - 1)))
                .isEqualTo(FirstPacketGuard.NEED_MORE);
    }

    @Test
    void channelRead_whenSplitOverTwoReads_thenBytesPassUnchangedAndChannelMarked() {
        byte[] connect = connectWithDuplicateExpiry();
        EmbeddedChannel channel = new EmbeddedChannel(new FirstPacketGuard());
        channel.writeInbound(Unpooled.wrappedBuffer(connect, 0, 1));
        assertThat((Object) channel.readInbound()).isNull();
        channel.writeInbound(Unpooled.wrappedBuffer(connect, 1, connect.length - 1));
        ByteBuf passed = channel.readInbound();
        byte[] out = new byte[passed.readableBytes()];
        passed.readBytes(out);
        passed.release();
        assertThat(out).isEqualTo(connect);
        assertThat(channel.attr(FirstPacketGuard.DUPLICATE_PROPERTY).get()).isTrue();
        assertThat(channel.pipeline().get(FirstPacketGuard.class)).isNull();
    }

    @Test
    void channelRead_whenFirstPacketIsNotConnect_thenChannelClosed() {
        // [MQTT-3.1.0-1]
        EmbeddedChannel channel = new EmbeddedChannel(new FirstPacketGuard());
        channel.writeInbound(Unpooled.wrappedBuffer(MqttPackets.pingreq()));
        assertThat((Object) channel.readInbound()).isNull();
        assertThat(channel.isOpen()).isFalse();
    }
}
