package dev.tether.cluster.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Handshake and heartbeat deadlines, on shortened timings against a hand-driven socket. */
@Timeout(30)
class LinkTimeoutsTest {
    private static final LinkTimings FAST = new LinkTimings(
            Duration.ofMillis(100), Duration.ofMillis(300), Duration.ofMillis(300), Duration.ofMillis(50), Duration.ofMillis(200));
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final UUID idA = UUID.randomUUID();
    private final UUID idB = UUID.randomUUID();
    private Vertx vertx;
    private Links a;

    @BeforeEach
    void setUp() {
        vertx = Vertx.vertx();
        a = new Links(vertx, idA, Optional.of("s"), 4096, id -> true, FAST);
    }

    @AfterEach
    void tearDown() {
        get(a.close());
        get(vertx.close());
    }

    @Test
    void inbound_whenNoHelloBeforeDeadline_thenClosedAndAuthFailureCounted() {
        int port = get(a.listen("127.0.0.1", 0));
        NetSocket raw = get(vertx.createNetClient().connect(port, "127.0.0.1"));
        AtomicBoolean closed = new AtomicBoolean();
        raw.closeHandler(v -> closed.set(true));

        await().atMost(WAIT).untilTrue(closed);
        assertThat(a.stats(Links.UNKNOWN_PEER).authFailures()).isEqualTo(1);
    }

    @Test
    void outbound_whenPeerGoesSilentAfterWelcome_thenLinkMarkedDownAndRedialed() {
        LinkAuth auth = new LinkAuth(Optional.of("s"));
        List<NetSocket> accepted = Collections.synchronizedList(new ArrayList<>());
        NetServer silentPeer = vertx.createNetServer().connectHandler(socket -> {
            accepted.add(socket);
            byte[] nonceA = LinkAuth.nonce();
            FrameCodec.Decoder decoder = new FrameCodec.Decoder(4096, new FrameCodec.Sink() {
                @Override
                public void frame(int type, int kind, long correlation, Buffer body) {
                    if (type == FrameCodec.TYPE_HELLO) {
                        LinkAuth.Hello hello = LinkAuth.Hello.decode(body);
                        byte[] macA = auth.acceptorMac(hello.nonceD(), nonceA, idB, hello.dialerId());
                        socket.write(FrameCodec.encode(FrameCodec.TYPE_WELCOME, FrameCodec.KIND_ONE_WAY, 0,
                                new LinkAuth.Welcome(macA).encode()));
                    } // PINGs are never answered
                }

                @Override
                public void invalid(String reason) {
                    socket.close();
                }
            });
            socket.handler(decoder::feed);
            socket.write(FrameCodec.encode(FrameCodec.TYPE_CHALLENGE, FrameCodec.KIND_ONE_WAY, 0,
                    new LinkAuth.Challenge(LinkAuth.VERSION, idB, nonceA).encode()));
        });
        int port = get(silentPeer.listen(0, "127.0.0.1")).actualPort();
        List<Boolean> states = Collections.synchronizedList(new ArrayList<>());
        a.onLinkState((peer, up) -> states.add(up));

        a.connect(idB, "127.0.0.1", port);

        await().atMost(WAIT).until(() -> states.size() >= 3 && accepted.size() >= 2);
        assertThat(states.subList(0, 3)).containsExactly(true, false, true);
        get(silentPeer.close());
    }

    private static <T> T get(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
