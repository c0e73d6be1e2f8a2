package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.MqttPackets;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Whole packets to Netty's decoder, on the broker's inbound pipeline (found by PacketDecodingFuzzTest). */
class PacketFramerTest {

    private static final byte[] CONNECT = MqttPackets.connect(5, "framer").build();

    @Test
    void read_whenFieldsRunPastRemainingLength_thenMalformedAtOnceAndLaterBytesDropped() {
        // PUBLISH, Remaining Length 3: topic "a", then a Property Length of 268 MB the packet does not hold.
        byte[] publish = {0x30, 3, 0, 1, 'a', (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F};
        List<byte[]> chunks = new ArrayList<>(List.of(CONNECT, publish));
        for (int i = 0; i < 4; i++) {
            chunks.add(new byte[1 << 20]); // before the fix, the decoder held all of these, waiting
        }
        PacketPipeline.feed(chunks, out -> {
            assertThat(out.packets()).hasSize(2);
            MqttMessage failure = out.packets().get(1);
            assertThat(failure.decoderResult().isFailure()).isTrue();
            assertThat(failure.decoderResult().cause()).isInstanceOf(DecoderException.class)
                    .isNotInstanceOf(TooLongFrameException.class);
        });
    }

    @Test
    void read_whenRemainingLengthOverLimit_thenTooLongBeforeTheBodyArrives() {
        byte[] header = {0x30, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01}; // Remaining Length 2 MB
        PacketPipeline.feed(List.of(CONNECT, header), out -> {
            assertThat(out.packets()).hasSize(2);
            assertThat(out.packets().get(1).decoderResult().cause()).isInstanceOf(TooLongFrameException.class);
        });
    }

    @Test
    void read_whenDecoderRefusesPacket_thenOneFailureAndNothingAfter() {
        // Found by PacketDecodingFuzzTest: PUBREL with flags 1010, then a packet of type 0.
        PacketPipeline.feed(List.of(CONNECT, new byte[] {0x6A, 0, 0, 0}), out -> {
            assertThat(out.packets()).hasSize(2);
            assertThat(out.packets().get(1).decoderResult().isFailure()).isTrue();
        });
    }

    @Test
    void read_whenPacketsSplitAnywhere_thenEachDecodedOnce() {
        byte[] publish = MqttPackets.publish(5, "a/b", 1, 7, new byte[] {1, 2, 3});
        byte[] all = MqttPackets.concat(CONNECT, publish, MqttPackets.pingreq(), publish);
        for (int cut = 1; cut < all.length; cut++) {
            PacketPipeline.feed(PacketPipeline.split(all, new int[] {cut, cut / 2}), out -> {
                assertThat(out.failed()).isFalse();
                assertThat(out.decoded()).hasSize(4);
                assertThat(((MqttPublishMessage) out.decoded().get(3)).variableHeader().topicName()).isEqualTo("a/b");
            });
        }
    }
}
