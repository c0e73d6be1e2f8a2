package dev.tether.cluster.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class LinksTest {
    private static final int MAX_FRAME = 64 * 1024;
    private static final int ECHO = 0x10;
    private static final int NUMBERS = 0x11;
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final UUID idA = UUID.randomUUID();
    private final UUID idB = UUID.randomUUID();
    private final UUID idC = UUID.randomUUID();
    private final List<Links> started = new ArrayList<>();
    private final Map<Links, Integer> ports = new IdentityHashMap<>();
    private Vertx vertx;

    @BeforeEach
    void setUp() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Links links : started) {
            get(links.close());
        }
        get(vertx.close());
    }

    @Test
    void send_whenLinked_thenTenThousandFramesArriveInOrder() {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        List<Integer> received = Collections.synchronizedList(new ArrayList<>());
        List<UUID> senders = Collections.synchronizedList(new ArrayList<>());
        b.onMessage(NUMBERS, (peer, body) -> {
            senders.add(peer);
            received.add(body.getInt(0));
        });
        link(a, idB, b);

        for (int i = 0; i < 10_000; i++) {
            assertThat(a.send(idB, NUMBERS, Buffer.buffer(4).appendInt(i))).isTrue();
        }

        await().atMost(WAIT).until(() -> received.size() == 10_000);
        synchronized (received) {
            for (int i = 0; i < 10_000; i++) {
                assertThat(received.get(i)).isEqualTo(i);
            }
        }
        assertThat(Set.copyOf(senders)).containsExactly(idA);
        assertThat(a.stats(idB).framesSent()).isEqualTo(10_000);
        assertThat(b.stats(idA).framesReceived()).isEqualTo(10_000);
    }

    @Test
    void send_whenNotLinked_thenFalseAndDropCounted() {
        Links a = links(idA, "s");

        assertThat(a.send(idB, NUMBERS, Buffer.buffer("x"))).isFalse();
        assertThat(a.stats(idB).framesDropped()).isEqualTo(1);
    }

    @Test
    void request_whenHandlerReplies_thenStageCompletesWithReplyBody() throws Exception {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        b.onRequest(ECHO, (peer, body) -> CompletableFuture.completedFuture(Buffer.buffer(peer + ":" + body)));
        link(a, idB, b);

        Buffer reply = a.request(idB, ECHO, Buffer.buffer("ping"), WAIT).toCompletableFuture().get(10, TimeUnit.SECONDS);

        assertThat(reply.toString()).isEqualTo(idA + ":ping");
    }

    @Test
    void request_whenHandlerFails_thenStageFailsWithRemoteRequestException() {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        b.onRequest(ECHO, (peer, body) -> CompletableFuture.failedFuture(new IllegalStateException("no such session")));
        link(a, idB, b);

        Throwable failure = failureOf(a.request(idB, ECHO, Buffer.buffer(), WAIT));

        assertThat(failure).isInstanceOf(RemoteRequestException.class).hasMessageContaining("no such session");
    }

    @Test
    void request_whenNoReplyInTime_thenTimeoutException() {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        b.onRequest(ECHO, (peer, body) -> new CompletableFuture<>());
        link(a, idB, b);

        Throwable failure = failureOf(a.request(idB, ECHO, Buffer.buffer(), Duration.ofMillis(200)));

        assertThat(failure).isInstanceOf(TimeoutException.class);
    }

    @Test
    void request_whenNotLinked_thenLinkDownException() {
        Links a = links(idA, "s");

        assertThat(failureOf(a.request(idB, ECHO, Buffer.buffer(), WAIT))).isInstanceOf(LinkDownException.class);
    }

    @Test
    void handshake_whenSecretDiffers_thenNotLinkedAndAuthFailureCounted_andOtherPairStillWorks() throws Exception {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        Links c = links(idC, "wrong");
        b.onRequest(ECHO, (peer, body) -> CompletableFuture.completedFuture(body));

        c.connect(idA, "127.0.0.1", port(a));
        link(a, idB, b);

        await().atMost(WAIT).until(() -> a.stats(idC).authFailures() >= 1 && c.stats(idA).authFailures() >= 1);
        assertThat(c.isLinked(idA)).isFalse();
        assertThat(a.request(idB, ECHO, Buffer.buffer("ok"), WAIT).toCompletableFuture().get(10, TimeUnit.SECONDS).toString())
                .isEqualTo("ok");
    }

    @Test
    void handshake_whenPeerIdUnknown_thenRefused() {
        Links a = links(idA, "s");
        Links b = links(idB, "s", id -> false);

        a.connect(idB, "127.0.0.1", port(b));

        await().atMost(WAIT).until(() -> b.stats(Links.UNKNOWN_PEER).authFailures() >= 1 && a.stats(idB).authFailures() >= 1);
        assertThat(a.isLinked(idB)).isFalse();
    }

    @Test
    void handshake_whenAcceptorIsNotThePeerMeant_thenNotLinked() {
        Links a = links(idA, "s");
        Links b = links(idB, "s");

        a.connect(idC, "127.0.0.1", port(b));

        await().atMost(WAIT).until(() -> a.stats(idC).authFailures() >= 1);
        assertThat(a.linkedPeers()).isEmpty();
    }

    @Test
    void linkDrop_whenPeerCloses_thenPendingRequestsFailWithLinkDownAndStateDownFires() throws Exception {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        List<String> states = Collections.synchronizedList(new ArrayList<>());
        a.onLinkState((peer, up) -> states.add(peer + "=" + up));
        b.onRequest(ECHO, (peer, body) -> new CompletableFuture<>());
        link(a, idB, b);
        CompletionStage<Buffer> pending = a.request(idB, ECHO, Buffer.buffer(), Duration.ofSeconds(30));
        await().atMost(WAIT).until(() -> b.stats(idA).framesReceived() == 1);

        get(b.close());

        assertThat(failureOf(pending)).isInstanceOf(LinkDownException.class);
        await().atMost(WAIT).until(() -> states.contains(idB + "=false"));
        assertThat(states).startsWith(idB + "=true");
        assertThat(a.isLinked(idB)).isFalse();
    }

    @Test
    void reconnect_whenPeerRestartsOnSamePort_thenLinkedAgain() throws Exception {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        int port = port(b);
        a.connect(idB, "127.0.0.1", port);
        await().atMost(WAIT).until(() -> a.isLinked(idB));

        get(b.close());
        await().atMost(WAIT).until(() -> !a.isLinked(idB));
        Links restarted = new Links(vertx, idB, Optional.of("s"), MAX_FRAME, id -> true);
        started.add(restarted);
        restarted.onRequest(ECHO, (peer, body) -> CompletableFuture.completedFuture(Buffer.buffer("again")));
        get(restarted.listen("127.0.0.1", port));

        await().atMost(WAIT).until(() -> a.isLinked(idB));
        assertThat(a.request(idB, ECHO, Buffer.buffer(), WAIT).toCompletableFuture().get(10, TimeUnit.SECONDS).toString())
                .isEqualTo("again");
    }

    @Test
    void inbound_whenSecondHelloFromSamePeerId_thenOlderInboundConnectionClosed() {
        Links a1 = links(idA, "s");
        Links a2 = links(idA, "s");
        Links b = links(idB, "s");
        List<Boolean> a1States = Collections.synchronizedList(new ArrayList<>());
        a1.onLinkState((peer, up) -> a1States.add(up));
        link(a1, idB, b);

        link(a2, idB, b);

        await().atMost(WAIT).until(() -> a1States.contains(false));
    }

    @Test
    void forget_whenLinked_thenPendingFailAndNotLinked() {
        Links a = links(idA, "s");
        Links b = links(idB, "s");
        b.onRequest(ECHO, (peer, body) -> new CompletableFuture<>());
        link(a, idB, b);
        CompletionStage<Buffer> pending = a.request(idB, ECHO, Buffer.buffer(), Duration.ofSeconds(30));

        a.forget(idB);

        assertThat(failureOf(pending)).isInstanceOf(LinkDownException.class);
        assertThat(a.isLinked(idB)).isFalse();
        assertThat(a.send(idB, NUMBERS, Buffer.buffer())).isFalse();
    }

    @Test
    void noSecret_whenLoopback_thenLinksBothWays() {
        Links a = links(idA, null);
        Links b = links(idB, null);
        List<UUID> atA = Collections.synchronizedList(new ArrayList<>());
        List<UUID> atB = Collections.synchronizedList(new ArrayList<>());
        a.onMessage(NUMBERS, (peer, body) -> atA.add(peer));
        b.onMessage(NUMBERS, (peer, body) -> atB.add(peer));

        link(a, idB, b);
        link(b, idA, a);
        a.send(idB, NUMBERS, Buffer.buffer());
        b.send(idA, NUMBERS, Buffer.buffer());

        await().atMost(WAIT).until(() -> atA.contains(idB) && atB.contains(idA));
    }

    @Test
    void noSecret_whenSecretOnOneSide_thenNotLinked() {
        Links a = links(idA, null);
        Links b = links(idB, "s");

        a.connect(idB, "127.0.0.1", port(b));

        await().atMost(WAIT).until(() -> b.stats(idA).authFailures() >= 1);
        assertThat(a.isLinked(idB)).isFalse();
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private Links links(UUID id, String secret) {
        return links(id, secret, peer -> true);
    }

    private Links links(UUID id, String secret, Predicate<UUID> known) {
        Links links = new Links(vertx, id, Optional.ofNullable(secret), MAX_FRAME, known);
        started.add(links);
        ports.put(links, get(links.listen("127.0.0.1", 0)));
        return links;
    }

    private int port(Links links) {
        return ports.get(links);
    }

    private void link(Links from, UUID to, Links target) {
        from.connect(to, "127.0.0.1", port(target));
        await().atMost(WAIT).until(() -> from.isLinked(to));
    }

    private static Throwable failureOf(CompletionStage<Buffer> stage) {
        try {
            stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError("the stage did not fail in time", e);
        }
        throw new AssertionError("the stage completed normally");
    }

    private static <T> T get(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
