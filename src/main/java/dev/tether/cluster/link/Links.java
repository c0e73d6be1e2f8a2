package dev.tether.cluster.link;

import io.netty.util.NetUtil;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * The replica's end of every link (docs/design/replicas.md §3): a server for peers that dial in, and one
 * outbound connection per peer. This replica sends its one-way frames and requests only on its own outbound
 * connection to a peer, and the peer replies on that connection; inbound connections carry the peer's frames and
 * requests, and this replica's replies. Each ordered pair of replicas thus has one TCP connection per direction.
 *
 * <p>Threads. Thread-safe: every public method may be called from any thread and none blocks.
 * <ul>
 *   <li>Each {@link OutboundLink} owns one event loop (contexts are spread over the loops); its connection state,
 *       timers and reply handling run there. {@link #send} and {@link #request} write from the caller's thread.</li>
 *   <li>Each {@link InboundLink} belongs to its socket's event loop; {@link #onMessage} and {@link #onRequest}
 *       handlers run there, in arrival order, and must not block. {@code isKnownPeer} also runs there.</li>
 *   <li>{@link #onLinkState} listeners run on the outbound link's event loop and must not block.</li>
 * </ul>
 */
public final class Links {
    /** Stats key for failures by a peer id that is not a known peer (or not yet known, during the handshake). */
    public static final UUID UNKNOWN_PEER = new UUID(0, 0);
    static final int WRITE_QUEUE_BYTES = 8 * 1024 * 1024;
    private static final int MIN_FRAME_BYTES = 256;
    private static final Logger LOG = Logger.getLogger(Links.class);

    private final Vertx vertx;
    private final UUID selfId;
    private final LinkAuth auth;
    private final int maxFrameBytes;
    private final Predicate<UUID> isKnownPeer;
    private final LinkTimings timings;
    private final LinkMetrics metrics = new LinkMetrics(System::nanoTime);
    private final NetClient client;
    private final Map<UUID, OutboundLink> outbound = new ConcurrentHashMap<>();
    private final Map<UUID, InboundLink> inboundByPeer = new ConcurrentHashMap<>();
    private final Set<InboundLink> inbound = ConcurrentHashMap.newKeySet();
    private final AtomicReferenceArray<BiConsumer<UUID, Buffer>> messageHandlers = new AtomicReferenceArray<>(256);
    private final AtomicReferenceArray<BiFunction<UUID, Buffer, CompletionStage<Buffer>>> requestHandlers =
            new AtomicReferenceArray<>(256);
    private final List<BiConsumer<UUID, Boolean>> stateListeners = new CopyOnWriteArrayList<>();
    private volatile NetServer server;
    private volatile boolean closed;

    /**
     * @param vertx         the Vert.x instance
     * @param selfId        this replica's instance id
     * @param secret        shared secret (tether.cluster.secret); empty: MACs keyed with an empty key and only
     *                      loopback remote addresses accepted on both sides
     * @param maxFrameBytes frames longer than this (the length field's value) close the link
     * @param isKnownPeer   asked on each inbound HELLO, on an event loop (must not block): may this peer id link?
     */
    public Links(Vertx vertx, UUID selfId, Optional<String> secret, int maxFrameBytes, Predicate<UUID> isKnownPeer) {
        this(vertx, selfId, secret, maxFrameBytes, isKnownPeer, LinkTimings.DEFAULT);
    }

    Links(Vertx vertx, UUID selfId, Optional<String> secret, int maxFrameBytes, Predicate<UUID> isKnownPeer,
          LinkTimings timings) {
        if (maxFrameBytes < MIN_FRAME_BYTES) {
            throw new IllegalArgumentException("maxFrameBytes below " + MIN_FRAME_BYTES + ": " + maxFrameBytes);
        }
        this.vertx = vertx;
        this.selfId = selfId;
        this.auth = new LinkAuth(secret);
        this.maxFrameBytes = maxFrameBytes;
        this.isKnownPeer = isKnownPeer;
        this.timings = timings;
        this.client = vertx.createNetClient(new NetClientOptions()
                .setTcpNoDelay(true)
                .setConnectTimeout((int) timings.handshake().toMillis()));
    }

    /** Binds host:port (port 0 = a free port); completes with the bound port. */
    public Future<Integer> listen(String host, int port) {
        if (auth.loopbackOnly()) {
            LOG.warn("tether.cluster.secret is not set: replica links accepted from loopback only");
        }
        NetServer created = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true))
                .connectHandler(socket -> {
                    InboundLink link = new InboundLink(this, socket);
                    inbound.add(link);
                    link.start();
                });
        server = created;
        return created.listen(port, host).map(NetServer::actualPort);
    }

    /**
     * Keeps an outbound link to this peer: dials now, and re-dials after a drop with back-off 100 ms → 2 s until
     * {@link #forget}. Idempotent for the same address; a new address replaces the old link.
     *
     * @throws IllegalStateException after {@link #close}
     */
    public void connect(UUID peer, String host, int port) {
        OutboundLink replaced;
        OutboundLink created;
        synchronized (outbound) {
            if (closed) {
                throw new IllegalStateException("links closed");
            }
            OutboundLink existing = outbound.get(peer);
            if (existing != null && existing.hasAddress(host, port)) {
                return;
            }
            replaced = existing;
            created = new OutboundLink(this, client, newEventLoopContext(), peer, host, port);
            outbound.put(peer, created);
        }
        if (replaced != null) {
            replaced.stop();
        }
        created.start();
    }

    /** Stops dialing the peer and closes the outbound connection; pending requests to it fail at once. */
    public void forget(UUID peer) {
        OutboundLink removed;
        synchronized (outbound) {
            removed = outbound.remove(peer);
        }
        if (removed != null) {
            removed.stop();
        }
    }

    /** Whether an authenticated outbound connection to the peer is up. */
    public boolean isLinked(UUID peer) {
        OutboundLink link = outbound.get(peer);
        return link != null && link.isUp();
    }

    public Set<UUID> linkedPeers() {
        return outbound.entrySet().stream()
                .filter(e -> e.getValue().isUp())
                .map(Map.Entry::getKey)
                .collect(Collectors.toUnmodifiableSet());
    }

    /**
     * One-way frame on the outbound connection to the peer, in call order per calling thread. False, and counted
     * as dropped, if the link is down or its write queue (8 MiB) is full: the frame is dropped, never queued.
     */
    public boolean send(UUID peer, int type, Buffer body) {
        FrameCodec.checkUserType(type);
        OutboundLink link = outbound.get(peer);
        if (link == null) {
            metrics.of(peer).dropped.increment();
            return false;
        }
        return link.send(type, body);
    }

    /**
     * Request frame, always written. The stage completes with the peer's reply body, on the link's event loop, or
     * fails: {@link LinkDownException} when the link is not up or drops before the reply,
     * {@link java.util.concurrent.TimeoutException} after {@code timeout}, {@link RemoteRequestException} when
     * the peer's handler failed.
     */
    public CompletionStage<Buffer> request(UUID peer, int type, Buffer body, Duration timeout) {
        FrameCodec.checkUserType(type);
        OutboundLink link = outbound.get(peer);
        if (link == null) {
            return CompletableFuture.failedFuture(new LinkDownException(peer, "not connected"));
        }
        return link.request(type, body, timeout);
    }

    /** Handler for one-way frames of this type from inbound connections: (peer id, body), on that connection's event loop, in arrival order. */
    public void onMessage(int type, BiConsumer<UUID, Buffer> handler) {
        FrameCodec.checkUserType(type);
        messageHandlers.set(type, handler);
    }

    /**
     * Handler for requests of this type, on the inbound connection's event loop: returns the reply body's stage;
     * the reply goes back on the same connection. A failed stage (or a thrown exception) sends an error reply.
     */
    public void onRequest(int type, BiFunction<UUID, Buffer, CompletionStage<Buffer>> handler) {
        FrameCodec.checkUserType(type);
        requestHandlers.set(type, handler);
    }

    /** Called when the outbound link to a peer goes down (false) or comes up (true). */
    public void onLinkState(BiConsumer<UUID, Boolean> listener) {
        stateListeners.add(listener);
    }

    /** Counters per peer id (and {@link #UNKNOWN_PEER}); a snapshot. */
    public Map<UUID, LinkStats> stats() {
        return metrics.snapshot();
    }

    public LinkStats stats(UUID peer) {
        return metrics.snapshot(peer);
    }

    /** Forgets every peer, closes inbound connections, the server and the client. */
    public Future<Void> close() {
        List<OutboundLink> links;
        synchronized (outbound) {
            closed = true;
            links = new ArrayList<>(outbound.values());
            outbound.clear();
        }
        links.forEach(OutboundLink::stop);
        inbound.forEach(InboundLink::close);
        NetServer bound = server;
        Future<Void> serverClosed = bound == null ? Future.succeededFuture() : bound.close();
        return Future.join(serverClosed, client.close()).mapEmpty();
    }

    // ---- package-private, for the links -----------------------------------------------------------------

    Vertx vertx() {
        return vertx;
    }

    UUID selfId() {
        return selfId;
    }

    LinkAuth auth() {
        return auth;
    }

    int maxFrameBytes() {
        return maxFrameBytes;
    }

    LinkTimings timings() {
        return timings;
    }

    LinkMetrics metrics() {
        return metrics;
    }

    long nanoTime() {
        return System.nanoTime();
    }

    boolean isKnownPeer(UUID peer) {
        try {
            return isKnownPeer.test(peer);
        } catch (RuntimeException e) {
            LOG.warnf(e, "isKnownPeer(%s) failed: refused", peer);
            return false;
        }
    }

    BiConsumer<UUID, Buffer> messageHandler(int type) {
        return messageHandlers.get(type);
    }

    BiFunction<UUID, Buffer, CompletionStage<Buffer>> requestHandler(int type) {
        return requestHandlers.get(type);
    }

    /** One inbound connection per peer: a newer one replaces the older. */
    void inboundOpened(UUID peer, InboundLink link) {
        InboundLink older = inboundByPeer.put(peer, link);
        if (older != null && older != link) {
            older.close();
        }
    }

    void inboundClosed(UUID peer, InboundLink link) {
        inbound.remove(link);
        if (peer != null) {
            inboundByPeer.remove(peer, link);
        }
    }

    void linkState(UUID peer, boolean up) {
        for (BiConsumer<UUID, Boolean> listener : stateListeners) {
            try {
                listener.accept(peer, up);
            } catch (RuntimeException e) {
                LOG.warnf(e, "link state listener failed for %s", peer);
            }
        }
    }

    /** Without DNS: only an IP literal that is a loopback address counts. */
    static boolean isLoopback(SocketAddress address) {
        String host = address == null ? null : address.hostAddress();
        if (host == null) {
            return false;
        }
        byte[] ip = NetUtil.createByteArrayFromIpAddressString(host);
        if (ip == null) {
            return false;
        }
        try {
            return InetAddress.getByAddress(ip).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** A fresh event-loop context, so that outbound links spread over the loops whatever thread connects them. */
    private Context newEventLoopContext() {
        return ((VertxInternal) vertx).createEventLoopContext();
    }
}
