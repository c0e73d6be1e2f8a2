package dev.tether.cluster.link;

import dev.tether.cluster.link.LinkAuth.Challenge;
import dev.tether.cluster.link.LinkAuth.Hello;
import dev.tether.cluster.link.LinkAuth.Welcome;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * This replica's connection to one peer: dials, authenticates (HELLO / WELCOME), pings, re-dials with back-off
 * after a drop, and carries this replica's one-way frames and requests; the peer's replies come back on it.
 *
 * <p>Threads: the connection state (dialing, handshake, timers, back-off) belongs to one event loop, {@link #context},
 * and changes only there. {@link #send} and {@link #request} run on any thread: they read the volatile
 * {@link #linked} socket and write to it ({@link NetSocket#write} is thread-safe and keeps each thread's order).
 * Pending requests live in a concurrent map; whoever removes an entry completes it, exactly once.
 */
final class OutboundLink {
    private static final Logger LOG = Logger.getLogger(OutboundLink.class);

    private final Links links;
    private final NetClient client;
    private final Context context;
    private final UUID peer;
    private final String host;
    private final int port;
    private final LinkMetrics.Counters counters;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong correlations = new AtomicLong();

    /** The authenticated socket, null while down. Written on {@link #context}, read anywhere. */
    private volatile NetSocket linked;
    private volatile boolean stopped;

    // Owned by the context.
    private Connection current;
    private long incarnation;
    private long backoffMillis;
    private long redialTimer = -1;

    OutboundLink(Links links, NetClient client, Context context, UUID peer, String host, int port) {
        this.links = links;
        this.client = client;
        this.context = context;
        this.peer = peer;
        this.host = host;
        this.port = port;
        this.counters = links.metrics().of(peer);
        this.backoffMillis = links.timings().backoffMin().toMillis();
    }

    boolean hasAddress(String otherHost, int otherPort) {
        return host.equals(otherHost) && port == otherPort;
    }

    boolean isUp() {
        return linked != null;
    }

    /** Any thread. */
    void start() {
        context.runOnContext(v -> dial());
    }

    /** Any thread: no more dialing; pending requests fail now, the socket closes on the context. */
    void stop() {
        stopped = true;
        linked = null;
        failPending("link forgotten");
        context.runOnContext(v -> {
            if (redialTimer >= 0) {
                links.vertx().cancelTimer(redialTimer);
                redialTimer = -1;
            }
            if (current != null) {
                current.socket.close();
            }
        });
    }

    /** Any thread. A one-way frame is dropped, never queued, while the link is down or its write queue is full. */
    boolean send(int type, Buffer body) {
        NetSocket socket = linked;
        if (socket == null || socket.writeQueueFull()) {
            counters.dropped.increment();
            return false;
        }
        socket.write(FrameCodec.encode(type, FrameCodec.KIND_ONE_WAY, 0, body));
        counters.sent.increment();
        return true;
    }

    /** Any thread. The stage completes on this link's event loop (reply, drop) or a timer's (timeout). */
    CompletionStage<Buffer> request(int type, Buffer body, Duration timeout) {
        NetSocket socket = linked;
        if (socket == null) {
            return CompletableFuture.failedFuture(new LinkDownException(peer, "not linked"));
        }
        long correlation = correlations.incrementAndGet();
        Pending entry = new Pending();
        pending.put(correlation, entry);
        if (linked != socket) {
            // The link dropped after our read: its clean-up may have missed this entry.
            Pending mine = pending.remove(correlation);
            if (mine != null) {
                mine.future.completeExceptionally(new LinkDownException(peer, "link dropped"));
            }
            return entry.future;
        }
        entry.timer = links.vertx().setTimer(Math.max(1, timeout.toMillis()), id -> {
            Pending expired = pending.remove(correlation);
            if (expired != null) {
                expired.future.completeExceptionally(new TimeoutException("no reply from " + peer + " within " + timeout));
            }
        });
        socket.write(FrameCodec.encode(type, FrameCodec.KIND_REQUEST, correlation, body));
        counters.sent.increment();
        return entry.future;
    }

    private void failPending(String why) {
        for (Long correlation : pending.keySet()) {
            Pending entry = pending.remove(correlation);
            if (entry != null) {
                cancelTimer(entry);
                entry.future.completeExceptionally(new LinkDownException(peer, why));
            }
        }
    }

    private void cancelTimer(Pending entry) {
        long timer = entry.timer;
        if (timer >= 0) {
            links.vertx().cancelTimer(timer);
        }
    }

    // ---- on the context ---------------------------------------------------------------------------------

    private void dial() {
        redialTimer = -1;
        if (stopped) {
            return;
        }
        client.connect(port, host, this::connected);
    }

    private void connected(AsyncResult<NetSocket> result) {
        if (result.failed()) {
            LOG.debugf("dialing peer %s at %s:%d failed: %s", peer, host, port, result.cause().toString());
            redialLater();
            return;
        }
        NetSocket socket = result.result();
        if (stopped) {
            socket.close();
            return;
        }
        current = new Connection(socket);
        current.start();
    }

    private void redialLater() {
        if (stopped || redialTimer >= 0) {
            return;
        }
        long delay = backoffMillis;
        backoffMillis = Math.min(backoffMillis * 2, links.timings().backoffMax().toMillis());
        redialTimer = links.vertx().setTimer(delay, id -> dial());
    }

    private void up(Connection connection) {
        backoffMillis = links.timings().backoffMin().toMillis();
        linked = connection.socket;
        if (stopped) {
            linked = null;
            connection.socket.close();
            return;
        }
        LOG.debugf("link to %s up (incarnation %d)", peer, incarnation);
        links.linkState(peer, true);
    }

    private void down(Connection connection) {
        if (current == connection) {
            current = null;
        }
        if (connection.authenticated) {
            if (linked == connection.socket) {
                linked = null;
            }
            failPending("link dropped");
            links.linkState(peer, false);
        }
        redialLater();
    }

    /** One TCP connection to the peer, from dial to close. All on the context. */
    private final class Connection implements FrameCodec.Sink {
        final NetSocket socket;
        final FrameCodec.Decoder decoder = new FrameCodec.Decoder(links.maxFrameBytes(), this);
        final long openedAt = links.nanoTime();
        long lastReceived = openedAt;
        long ticker = -1;
        byte[] nonceA;
        byte[] nonceD;
        boolean authenticated;
        boolean failed;
        boolean closed;

        Connection(NetSocket socket) {
            this.socket = socket;
        }

        void start() {
            socket.closeHandler(v -> closed());
            if (links.auth().loopbackOnly() && !Links.isLoopback(socket.remoteAddress())) {
                fail("peer address " + socket.remoteAddress().hostAddress()
                        + " is not loopback while tether.cluster.secret is not set");
                return;
            }
            incarnation++;
            socket.setWriteQueueMaxSize(Links.WRITE_QUEUE_BYTES);
            socket.exceptionHandler(e -> LOG.debugf("link to %s: %s", peer, e.toString()));
            socket.handler(decoder::feed);
            ticker = links.vertx().setPeriodic(links.timings().tickMillis(), id -> tick());
        }

        @Override
        public void frame(int type, int kind, long correlation, Buffer body) {
            lastReceived = links.nanoTime();
            if (authenticated) {
                linkedFrame(type, kind, correlation, body);
            } else if (type == FrameCodec.TYPE_CHALLENGE && nonceA == null) {
                challenge(body);
            } else if (type == FrameCodec.TYPE_WELCOME && nonceA != null) {
                welcome(body);
            } else {
                fail("frame type 0x" + Integer.toHexString(type) + " during the handshake");
            }
        }

        @Override
        public void invalid(String reason) {
            LOG.warnf("link to %s closed: %s", peer, reason);
            socket.close();
        }

        private void challenge(Buffer body) {
            Challenge challenge;
            try {
                challenge = Challenge.decode(body);
            } catch (LinkAuth.MalformedException e) {
                fail(e.getMessage());
                return;
            }
            if (challenge.version() != LinkAuth.VERSION) {
                fail("link version " + challenge.version());
                return;
            }
            if (!challenge.acceptorId().equals(peer)) {
                fail("reached " + challenge.acceptorId() + " instead");
                return;
            }
            nonceA = challenge.nonceA();
            nonceD = LinkAuth.nonce();
            byte[] macD = links.auth().dialerMac(nonceA, nonceD, links.selfId(), peer);
            Hello hello = new Hello(LinkAuth.VERSION, links.selfId(), incarnation, nonceD, macD);
            socket.write(FrameCodec.encode(FrameCodec.TYPE_HELLO, FrameCodec.KIND_ONE_WAY, 0, hello.encode()));
        }

        private void welcome(Buffer body) {
            Welcome welcome;
            try {
                welcome = Welcome.decode(body);
            } catch (LinkAuth.MalformedException e) {
                fail(e.getMessage());
                return;
            }
            byte[] expected = links.auth().acceptorMac(nonceD, nonceA, peer, links.selfId());
            if (!LinkAuth.matches(expected, welcome.macA())) {
                fail("WELCOME not authenticated (different tether.cluster.secret?)");
                return;
            }
            authenticated = true;
            up(this);
        }

        private void linkedFrame(int type, int kind, long correlation, Buffer body) {
            if (type == FrameCodec.TYPE_PONG && kind == FrameCodec.KIND_ONE_WAY) {
                return;
            }
            if (kind != FrameCodec.KIND_REPLY && kind != FrameCodec.KIND_ERROR) {
                invalid("frame type 0x" + Integer.toHexString(type) + " kind " + kind + " on an outbound link");
                return;
            }
            counters.received.increment();
            Pending entry = pending.remove(correlation);
            if (entry == null) {
                return; // timed out already
            }
            cancelTimer(entry);
            if (kind == FrameCodec.KIND_REPLY) {
                entry.future.complete(body);
            } else {
                entry.future.completeExceptionally(new RemoteRequestException(peer, body.toString(StandardCharsets.UTF_8)));
            }
        }

        private void tick() {
            long now = links.nanoTime();
            if (!authenticated) {
                if (now - openedAt >= links.timings().handshake().toNanos()) {
                    fail("no handshake within " + links.timings().handshake());
                }
            } else if (now - lastReceived >= links.timings().silence().toNanos()) {
                LOG.infof("link to %s silent for %s: reconnecting", peer, links.timings().silence());
                socket.close();
            } else {
                socket.write(FrameCodec.encode(FrameCodec.TYPE_PING, FrameCodec.KIND_ONE_WAY, 0,
                        Buffer.buffer(8).appendLong(now)));
            }
        }

        private void fail(String reason) {
            failed = true;
            links.metrics().authFailure(peer, "to " + host + ":" + port, reason);
            socket.close();
        }

        private void closed() {
            if (closed) {
                return;
            }
            closed = true;
            if (ticker >= 0) {
                links.vertx().cancelTimer(ticker);
            }
            if (!authenticated && !failed && !stopped) {
                links.metrics().authFailure(peer, "to " + host + ":" + port, "closed by the peer during the handshake");
            }
            down(this);
        }
    }

    private static final class Pending {
        final CompletableFuture<Buffer> future = new CompletableFuture<>();
        volatile long timer = -1;
    }
}
