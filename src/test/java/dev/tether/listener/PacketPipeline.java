package dev.tether.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * The inbound half of a broker connection's pipeline, as {@link MqttListener} builds it ({@link FirstPacketGuard},
 * {@link PacketFramer}, Netty's {@link MqttDecoder} with the default limits), on an embedded channel: bytes in, packets out. For fuzz
 * tests: {@link #feed} checks the invariants every input must keep, whatever its bytes.
 */
final class PacketPipeline {

    /** {@code tether.mqtt.max-packet-size} and {@code max-client-id-length} defaults. */
    static final int MAX_PACKET_SIZE = 1_048_576;
    static final int MAX_CLIENT_ID_LENGTH = 256;

    /** What came out of the pipeline for one input; the packets are valid while the inspector runs. */
    record Outcome(List<MqttMessage> packets, boolean open, boolean duplicateProperty) {

        /** The decoded packets before the first failure. */
        List<MqttMessage> decoded() {
            return packets.stream().filter(m -> m.decoderResult().isSuccess()).toList();
        }

        boolean failed() {
            return packets.stream().anyMatch(m -> m.decoderResult().isFailure());
        }
    }

    private PacketPipeline() {
    }

    /**
     * Feeds {@code chunks} one read at a time and closes the channel. Asserts: every output is an {@link MqttMessage};
     * a failure is a {@link DecoderException} or {@link IllegalArgumentException} (what the broker answers with a
     * reason code), comes last and only once; {@code inspect} runs on the outcome, then every packet is released and
     * so must every input buffer be (no leak).
     */
    static void feed(List<byte[]> chunks, java.util.function.Consumer<Outcome> inspect) {
        PacketFramer framer = new PacketFramer(MAX_PACKET_SIZE);
        EmbeddedChannel channel = new EmbeddedChannel(new FirstPacketGuard(), framer,
                new MqttDecoder(MAX_PACKET_SIZE, MAX_CLIENT_ID_LENGTH), framer.outlet());
        List<ByteBuf> inputs = new ArrayList<>();
        List<MqttMessage> out = new ArrayList<>();
        boolean open = true;
        for (byte[] chunk : chunks) {
            if (!channel.isOpen()) {
                break;
            }
            ByteBuf buf = Unpooled.wrappedBuffer(chunk);
            inputs.add(buf);
            channel.writeInbound(buf);
            Object o;
            while ((o = channel.readInbound()) != null) {
                assertThat(o).as("pipeline output").isInstanceOf(MqttMessage.class);
                out.add((MqttMessage) o);
            }
        }
        open = channel.isOpen();
        boolean duplicate = Boolean.TRUE.equals(channel.attr(FirstPacketGuard.DUPLICATE_PROPERTY).get());
        channel.finishAndReleaseAll();
        for (int i = 0; i < out.size(); i++) {
            MqttMessage m = out.get(i);
            if (m.decoderResult().isFailure()) {
                Throwable cause = m.decoderResult().cause();
                assertThat(cause).as("decoder failure cause").isInstanceOfAny(DecoderException.class,
                        IllegalArgumentException.class);
                assertThat(i).as("a failure is the last packet out").isEqualTo(out.size() - 1);
            }
        }
        try {
            inspect.accept(new Outcome(List.copyOf(out), open, duplicate));
        } finally {
            out.forEach(io.netty.util.ReferenceCountUtil::release);
        }
        for (ByteBuf in : inputs) {
            assertThat(in.refCnt()).as("input buffer released").isZero();
        }
    }

    static void feed(byte[] bytes, java.util.function.Consumer<Outcome> inspect) {
        feed(List.of(bytes), inspect);
    }

    /** {@code bytes} cut at the given offsets (each taken modulo the length, sorted). */
    static List<byte[]> split(byte[] bytes, int[] cuts) {
        int[] at = java.util.Arrays.stream(cuts).map(c -> bytes.length == 0 ? 0 : Math.floorMod(c, bytes.length))
                .sorted().distinct().toArray();
        List<byte[]> chunks = new ArrayList<>();
        int from = 0;
        for (int c : at) {
            if (c > from) {
                chunks.add(java.util.Arrays.copyOfRange(bytes, from, c));
                from = c;
            }
        }
        chunks.add(java.util.Arrays.copyOfRange(bytes, from, bytes.length));
        return chunks;
    }
}
