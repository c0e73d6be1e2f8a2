package dev.tether.cluster.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class FrameCodecTest {
    private static final int MAX = 1024;

    record Decoded(int type, int kind, long correlation, String body) {
    }

    private static final class Collector implements FrameCodec.Sink {
        final List<Decoded> frames = new ArrayList<>();
        final List<String> invalid = new ArrayList<>();

        @Override
        public void frame(int type, int kind, long correlation, Buffer body) {
            frames.add(new Decoded(type, kind, correlation, body.toString()));
        }

        @Override
        public void invalid(String reason) {
            invalid.add(reason);
        }
    }

    @Test
    void encode_thenDecode_whenFedInSmallChunks_thenSameFramesInOrder() {
        Buffer stream = Buffer.buffer()
                .appendBuffer(FrameCodec.encode(0x10, FrameCodec.KIND_ONE_WAY, 0, Buffer.buffer("hello")))
                .appendBuffer(FrameCodec.encode(0xFF, FrameCodec.KIND_REQUEST, Long.MAX_VALUE, Buffer.buffer()))
                .appendBuffer(FrameCodec.encode(0x20, FrameCodec.KIND_REPLY, 7, Buffer.buffer("x".repeat(1000))))
                .appendBuffer(FrameCodec.encode(0x21, FrameCodec.KIND_ERROR, -1, Buffer.buffer("boom")));
        Collector sink = new Collector();
        FrameCodec.Decoder decoder = new FrameCodec.Decoder(MAX, sink);

        for (int i = 0; i < stream.length(); i += 3) {
            decoder.feed(stream.getBuffer(i, Math.min(i + 3, stream.length())));
        }

        assertThat(sink.invalid).isEmpty();
        assertThat(sink.frames).containsExactly(
                new Decoded(0x10, FrameCodec.KIND_ONE_WAY, 0, "hello"),
                new Decoded(0xFF, FrameCodec.KIND_REQUEST, Long.MAX_VALUE, ""),
                new Decoded(0x20, FrameCodec.KIND_REPLY, 7, "x".repeat(1000)),
                new Decoded(0x21, FrameCodec.KIND_ERROR, -1, "boom"));
    }

    @Test
    void encode_writesTheHeaderFieldByField() {
        Buffer frame = FrameCodec.encode(0x10, FrameCodec.KIND_REQUEST, 0x0102030405060708L, Buffer.buffer(new byte[] {9}));

        assertThat(frame.getBytes()).containsExactly(
                0, 0, 0, 11,                // length: type + kind + correlation + 1 body byte
                0x10,                       // type
                1,                          // kind: request
                1, 2, 3, 4, 5, 6, 7, 8,     // correlation, big-endian
                9);                         // body
    }

    @Test
    void decode_whenLengthAboveMax_thenInvalidAndNoMoreFrames() {
        Collector sink = new Collector();
        FrameCodec.Decoder decoder = new FrameCodec.Decoder(MAX, sink);

        decoder.feed(Buffer.buffer().appendInt(MAX + 1));
        decoder.feed(FrameCodec.encode(0x10, FrameCodec.KIND_ONE_WAY, 0, Buffer.buffer("after")));

        assertThat(sink.invalid).hasSize(1);
        assertThat(sink.frames).isEmpty();
    }

    @Test
    void decode_whenLengthBelowHeader_thenInvalid() {
        Collector sink = new Collector();
        new FrameCodec.Decoder(MAX, sink).feed(Buffer.buffer().appendInt(FrameCodec.HEADER - 1));

        assertThat(sink.invalid).hasSize(1);
    }

    @Test
    void decode_whenUnknownKind_thenInvalid() {
        Collector sink = new Collector();
        Buffer frame = Buffer.buffer().appendInt(FrameCodec.HEADER).appendUnsignedByte((short) 0x10)
                .appendUnsignedByte((short) 4).appendLong(0);
        new FrameCodec.Decoder(MAX, sink).feed(frame);

        assertThat(sink.invalid).hasSize(1);
        assertThat(sink.frames).isEmpty();
    }

    @Test
    void checkUserType_whenReserved_thenRejected() {
        assertThatThrownBy(() -> FrameCodec.checkUserType(0x0F)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FrameCodec.checkUserType(0x100)).isInstanceOf(IllegalArgumentException.class);
        FrameCodec.checkUserType(0x10);
        FrameCodec.checkUserType(0xFF);
    }

    @Test
    void inboundLink_whenOversizeLengthArrives_thenSocketClosed() throws Exception {
        Vertx vertx = Vertx.vertx();
        Links links = new Links(vertx, UUID.randomUUID(), Optional.of("s"), MAX, id -> true);
        try {
            int port = links.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
            NetSocket socket = vertx.createNetClient().connect(port, "127.0.0.1")
                    .toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
            AtomicBoolean closed = new AtomicBoolean();
            socket.closeHandler(v -> closed.set(true));

            socket.write(Buffer.buffer().appendInt(MAX + 1));

            await().atMost(Duration.ofSeconds(5)).untilTrue(closed);
        } finally {
            links.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
            vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
    }
}
