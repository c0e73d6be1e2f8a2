package dev.tether.cluster.link;

import dev.tether.cluster.link.LinkAuth.Challenge;
import dev.tether.cluster.link.LinkAuth.Hello;
import dev.tether.cluster.link.LinkAuth.Welcome;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import org.jboss.logging.Logger;

/**
 * The acceptor's end of one connection a peer dialed: it sends CHALLENGE, checks HELLO, answers WELCOME, then
 * serves the peer's one-way frames, requests and PINGs, and writes replies back on the same socket.
 *
 * <p>Owned by the socket's event loop: every field except {@link #peer} is read and written there only. Replies
 * whose stage completes elsewhere are written from that thread ({@link NetSocket#write} is thread-safe).
 */
final class InboundLink implements FrameCodec.Sink {
    private static final Logger LOG = Logger.getLogger(InboundLink.class);
    private static final int MAX_ERROR_CHARS = 1000;

    private final Links links;
    private final NetSocket socket;
    private final FrameCodec.Decoder decoder;
    private final byte[] nonceA = LinkAuth.nonce();
    private final long openedAt;
    private long lastReceived;
    private long ticker = -1;
    private boolean closed;
    private volatile UUID peer;
    private LinkMetrics.Counters counters;

    InboundLink(Links links, NetSocket socket) {
        this.links = links;
        this.socket = socket;
        this.decoder = new FrameCodec.Decoder(links.maxFrameBytes(), this);
        this.openedAt = links.nanoTime();
        this.lastReceived = openedAt;
    }

    /** The authenticated peer, or null during the handshake. */
    UUID peer() {
        return peer;
    }

    /** On the socket's event loop, from the server's connect handler. */
    void start() {
        socket.closeHandler(v -> closed());
        if (links.auth().loopbackOnly() && !Links.isLoopback(socket.remoteAddress())) {
            fail(Links.UNKNOWN_PEER, "inbound from non-loopback " + socket.remoteAddress().hostAddress()
                    + " while tether.cluster.secret is not set");
            return;
        }
        socket.setWriteQueueMaxSize(Links.WRITE_QUEUE_BYTES);
        socket.handler(decoder::feed);
        socket.exceptionHandler(e -> LOG.debugf("inbound link from %s: %s", peer, e.toString()));
        ticker = links.vertx().setPeriodic(links.timings().tickMillis(), id -> tick());
        socket.write(FrameCodec.encode(FrameCodec.TYPE_CHALLENGE, FrameCodec.KIND_ONE_WAY, 0,
                new Challenge(LinkAuth.VERSION, links.selfId(), nonceA).encode()));
    }

    /** Any thread. */
    void close() {
        socket.close();
    }

    @Override
    public void frame(int type, int kind, long correlation, Buffer body) {
        lastReceived = links.nanoTime();
        if (peer == null) {
            if (type == FrameCodec.TYPE_HELLO && kind == FrameCodec.KIND_ONE_WAY) {
                hello(body);
            } else {
                fail(Links.UNKNOWN_PEER, "frame type 0x" + Integer.toHexString(type) + " before HELLO");
            }
            return;
        }
        if (type == FrameCodec.TYPE_PING && kind == FrameCodec.KIND_ONE_WAY) {
            socket.write(FrameCodec.encode(FrameCodec.TYPE_PONG, FrameCodec.KIND_ONE_WAY, 0, body));
        } else if (type < FrameCodec.FIRST_USER_TYPE) {
            protocolError("link frame type 0x" + Integer.toHexString(type) + " after the handshake");
        } else if (kind == FrameCodec.KIND_ONE_WAY) {
            counters.received.increment();
            oneWay(type, body);
        } else if (kind == FrameCodec.KIND_REQUEST) {
            counters.received.increment();
            request(type, correlation, body);
        } else {
            protocolError("a reply on an inbound link");
        }
    }

    @Override
    public void invalid(String reason) {
        protocolError(reason);
    }

    private void hello(Buffer body) {
        Hello hello;
        try {
            hello = Hello.decode(body);
        } catch (LinkAuth.MalformedException e) {
            fail(Links.UNKNOWN_PEER, e.getMessage());
            return;
        }
        UUID dialer = hello.dialerId();
        boolean known = links.isKnownPeer(dialer);
        UUID key = known ? dialer : Links.UNKNOWN_PEER;
        if (hello.version() != LinkAuth.VERSION) {
            fail(key, "link version " + hello.version());
            return;
        }
        byte[] expected = links.auth().dialerMac(nonceA, hello.nonceD(), dialer, links.selfId());
        if (!LinkAuth.matches(expected, hello.macD())) {
            fail(key, "HELLO not authenticated (different tether.cluster.secret?)");
            return;
        }
        if (!known) {
            fail(key, "peer id " + dialer + " is not a live replica");
            return;
        }
        byte[] macA = links.auth().acceptorMac(hello.nonceD(), nonceA, links.selfId(), dialer);
        socket.write(FrameCodec.encode(FrameCodec.TYPE_WELCOME, FrameCodec.KIND_ONE_WAY, 0, new Welcome(macA).encode()));
        counters = links.metrics().of(dialer);
        peer = dialer;
        links.inboundOpened(dialer, this);
        LOG.debugf("inbound link from %s (incarnation %d) up", dialer, hello.incarnation());
    }

    private void oneWay(int type, Buffer body) {
        BiConsumer<UUID, Buffer> handler = links.messageHandler(type);
        if (handler == null) {
            LOG.debugf("no handler for one-way frame type 0x%x from %s", type, peer);
            return;
        }
        try {
            handler.accept(peer, body);
        } catch (RuntimeException e) {
            LOG.warnf(e, "handler of frame type 0x%x from %s failed", type, peer);
        }
    }

    private void request(int type, long correlation, Buffer body) {
        BiFunction<UUID, Buffer, CompletionStage<Buffer>> handler = links.requestHandler(type);
        if (handler == null) {
            replyError(type, correlation, "no handler for request type 0x" + Integer.toHexString(type));
            return;
        }
        CompletionStage<Buffer> reply;
        try {
            reply = handler.apply(peer, body);
        } catch (RuntimeException e) {
            replyError(type, correlation, describe(e));
            return;
        }
        if (reply == null) {
            replyError(type, correlation, "the handler returned no stage");
            return;
        }
        reply.whenComplete((result, failure) -> {
            if (failure != null) {
                replyError(type, correlation, describe(failure));
            } else {
                write(FrameCodec.encode(type, FrameCodec.KIND_REPLY, correlation, result));
            }
        });
    }

    private void replyError(int type, long correlation, String message) {
        String bounded = message.length() > MAX_ERROR_CHARS ? message.substring(0, MAX_ERROR_CHARS) : message;
        write(FrameCodec.encode(type, FrameCodec.KIND_ERROR, correlation, Buffer.buffer(bounded, StandardCharsets.UTF_8.name())));
    }

    /** Replies are always written, whatever the write queue holds. Any thread. */
    private void write(Buffer frame) {
        counters.sent.increment();
        socket.write(frame);
    }

    private static String describe(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        return cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
    }

    private void tick() {
        long now = links.nanoTime();
        if (peer == null && now - openedAt >= links.timings().handshake().toNanos()) {
            fail(Links.UNKNOWN_PEER, "no handshake within " + links.timings().handshake());
        } else if (peer != null && now - lastReceived >= links.timings().silence().toNanos()) {
            LOG.infof("inbound link from %s silent for %s: closed", peer, links.timings().silence());
            close();
        }
    }

    private void fail(UUID key, String reason) {
        links.metrics().authFailure(key, "from " + socket.remoteAddress(), reason);
        close();
    }

    private void protocolError(String reason) {
        LOG.warnf("inbound link from %s closed: %s", peer, reason);
        close();
    }

    private void closed() {
        if (closed) {
            return;
        }
        closed = true;
        if (ticker >= 0) {
            links.vertx().cancelTimer(ticker);
        }
        links.inboundClosed(peer, this);
    }
}
