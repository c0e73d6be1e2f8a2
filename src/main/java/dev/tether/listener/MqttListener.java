package dev.tether.listener;

import dev.tether.auth.Authenticator;
import dev.tether.auth.LiveUsers;
import dev.tether.config.MqttConfig;
import dev.tether.config.SessionConfig;
import dev.tether.config.StoreConfig;
import dev.tether.delivery.ConnectedClients;
import dev.tether.delivery.MessageRouter;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.delivery.WillPublisher;
import dev.tether.events.SessionEvents;
import dev.tether.limits.Limits;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.session.SessionPolicy;
import dev.tether.store.BrokerInstance;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.impl.NetSocketInternal;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The MQTT over TCP listener (and MQTT over TLS, see {@link MqttTls}): a Vert.x {@link NetServer} whose sockets decode MQTT with Netty's
 * codec, each handled by an {@link MqttConnection} on its own event loop. Owning the connection
 * here (rather than through vertx-mqtt) lets Tether hold packets sent before CONNACK, send
 * CONNACK properties and reason codes it chooses, and later feed WebSocket frames to the same
 * connection handling.
 */
@ApplicationScoped
public class MqttListener {

    private static final Logger LOG = Logger.getLogger(MqttListener.class);

    private final Vertx vertx;
    private final MqttConfig config;
    private final BrokerServices services;
    private final WillPublisher wills;
    private final Set<MqttConnection> connections = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong oversizeDrops = new java.util.concurrent.atomic.AtomicLong();
    private final Authenticator auth;
    private final Limits limits;
    /** The HTTP port's address: MQTT over WebSocket counts as a loopback listener only when this is loopback. */
    private final String httpHost;
    private final MqttTls tls;
    private NetServer server;
    /** The MQTT over TLS listener; null without a TLS configuration. */
    private NetServer tlsServer;
    /** Set when the lease is lost: no connection is accepted any more. */
    private volatile boolean abandoned;

    public MqttListener(Vertx vertx, MqttConfig config, StoreConfig store, SessionPolicy policy, SessionEvents events,
                        MessageRouter router, SubscriptionIndex subscriptions, ConnectedClients clients,
                        SessionDirectory sessions, RetainedMessages retained, BrokerInstance instance, Clock clock,
                        WillPublisher wills, SessionConfig session,
                        dev.tether.cluster.Cluster cluster, dev.tether.cluster.lease.Lease lease,
                        dev.tether.auth.acl.AccessControl acl, Authenticator auth, LiveUsers liveUsers, MqttTls tls,
                        Limits limits,
                        @org.eclipse.microprofile.config.inject.ConfigProperty(name = "quarkus.http.host")
                        String httpHost) {
        this.auth = auth;
        this.tls = tls;
        this.httpHost = httpHost;
        this.vertx = vertx;
        this.config = config;
        this.wills = wills;
        this.services = new BrokerServices(instance.id(), config, store, policy, events, router, subscriptions,
                clients, sessions, retained, clock, oversizeDrops, acl, OutboundLimits.of(session),
                cluster, lease, auth, liveUsers, limits);
        this.limits = limits;
    }

    /**
     * Binds the listener, and the MQTT over TLS listener when a TLS configuration is there (see {@link MqttTls}); the
     * returned {@link Uni} gives the plain port.
     */
    public Uni<Integer> start() {
        if (abandoned) {
            return Uni.createFrom().failure(new IllegalStateException("the lease is lost: not serving"));
        }
        NetServerOptions options = new NetServerOptions()
                .setHost(config.host())
                .setPort(config.port())
                .setTcpNoDelay(true)
                .setAcceptBacklog(1024);
        server = vertx.createNetServer(options);
        server.connectHandler(this::accept);
        Uni<Void> tlsBound = bindTls();
        return Uni.createFrom().completionStage(server.listen().toCompletionStage())
                .map(NetServer::actualPort)
                .invoke(port -> LOG.infof("MQTT listener on %s:%d; %s: here anonymous clients are %s", config.host(),
                        port, auth.anonymousRule(), auth.allowsAnonymous(Loopback.is(config.host())) ? "accepted" : "refused"))
                .call(port -> tlsBound);
    }

    /** Binds the MQTT over TLS listener, if a TLS configuration is there. */
    private Uni<Void> bindTls() {
        Optional<NetServerOptions> tlsOptions = tls.serverOptions();
        if (tlsOptions.isEmpty()) {
            LOG.infof("MQTT over TLS off: no certificate in %s", config.tlsConfigurationName()
                    .map(n -> "TLS configuration '" + n + "' (quarkus.tls." + n + ".key-store.pem.0.cert and .key)")
                    .orElse("the default TLS configuration (quarkus.tls.key-store.pem.0.cert and .key)"));
            return Uni.createFrom().voidItem();
        }
        tlsServer = vertx.createNetServer(tlsOptions.get().setTcpNoDelay(true).setAcceptBacklog(1024));
        tlsServer.connectHandler(this::accept);
        tlsServer.exceptionHandler(tls::handshakeFailed); // errors before connectHandler: the handshake
        return Uni.createFrom().completionStage(tlsServer.listen().toCompletionStage())
                .invoke(bound -> {
                    tls.serving(bound);
                    LOG.infof("MQTT over TLS listener on %s:%d (%s); here anonymous clients are %s",
                            config.host(), bound.actualPort(), tls.describe(),
                            auth.allowsAnonymous(Loopback.is(config.host())) ? "accepted" : "refused");
                })
                .replaceWithVoid();
    }

    /** A socket of either TCP listener (plain or TLS, whose handshake is done): the MQTT codec and a connection. */
    private void accept(NetSocket so) {
        if (!limits.admitConnection(so.remoteAddress().hostAddress())) {
            so.close(); // over its address's connection rate: not one byte of it is read
            return;
        }
        NetSocketInternal socket = (NetSocketInternal) so;
        ChannelPipeline pipeline = socket.channelHandlerContext().pipeline();
        pipeline.addBefore("handler", "mqttEncoder", MqttEncoder.INSTANCE);
        pipeline.addBefore("handler", "mqttDecoder",
                new MqttDecoder(config.maxPacketSize(), config.maxClientIdLength()));
        // One whole packet at a time into the decoder, which would otherwise read a field past its packet's end.
        PacketFramer framer = new PacketFramer(config.maxPacketSize());
        pipeline.addBefore("mqttDecoder", "packetFramer", framer);
        pipeline.addAfter("mqttDecoder", "packetFramerOutlet", framer.outlet());
        pipeline.addBefore("packetFramer", "firstPacketGuard", new FirstPacketGuard());
        // Packets decoded after the connection paused (the rest of the bytes of that read) wait here until it
        // resumes: Vert.x's pause() does not hold messages given to a messageHandler (TcpTransport#pause).
        pipeline.addBefore("handler", "flowControl", new FlowControlHandler());
        // One write syscall per event-loop turn rather than per packet: a fan-out, or a burst of acks
        // written outside this socket's own read, would otherwise flush every packet on its own. Over TLS it sits
        // above the SslHandler, so that one flush is also encrypted as a few records rather than one per packet.
        FlushConsolidationHandler consolidation = new FlushConsolidationHandler(
                FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true);
        ChannelHandlerContext ssl = pipeline.context(SslHandler.class);
        if (ssl == null) {
            pipeline.addFirst("flushConsolidation", consolidation);
        } else {
            pipeline.addAfter(ssl.name(), "flushConsolidation", consolidation);
        }
        MqttConnection connection = new MqttConnection(new TcpTransport(socket, Loopback.is(config.host())), Vertx.currentContext(), services, wills);
        boolean counted = countAgainstQuota(connection);
        connections.add(connection);
        if (abandoned) {
            connection.abandon(); // accepted while the lease was being lost
        }
        socket.messageHandler(connection::onMessage);
        socket.setWriteQueueMaxSize(config.writeQueueMaxSize());
        socket.drainHandler(v -> connection.onWritable());
        socket.exceptionHandler(e -> LOG.debugf("connection error: %s", e.toString()));
        socket.closeHandler(v -> {
            connections.remove(connection);
            if (counted) {
                limits.connections().closed();
            }
            connection.onClose();
        });
    }

    /**
     * Takes over an upgraded MQTT over WebSocket connection: binary frames feed the same codec and
     * connection handling as TCP. Runs on the WebSocket's event loop.
     */
    void acceptWebSocket(io.vertx.core.http.ServerWebSocket webSocket, String clientAddress) {
        if (!limits.admitConnection(clientAddress)) {
            webSocket.close(); // over its address's connection rate
            return;
        }
        PacketFramer framer = new PacketFramer(config.maxPacketSize());
        io.netty.channel.embedded.EmbeddedChannel codec = new io.netty.channel.embedded.EmbeddedChannel(
                new FirstPacketGuard(), framer, new MqttDecoder(config.maxPacketSize(), config.maxClientIdLength()),
                framer.outlet(), MqttEncoder.INSTANCE);
        WebSocketTransport transport = new WebSocketTransport(webSocket, clientAddress, codec, Loopback.is(httpHost));
        MqttConnection connection = new MqttConnection(transport, Vertx.currentContext(), services, wills);
        transport.onResume(() -> deliverDecoded(transport, codec, connection));
        boolean counted = countAgainstQuota(connection);
        connections.add(connection);
        if (abandoned) {
            connection.abandon(); // upgraded while the lease was being lost
        }
        webSocket.setWriteQueueMaxSize(config.writeQueueMaxSize());
        webSocket.drainHandler(v -> connection.onWritable());
        webSocket.binaryMessageHandler(frame -> {
            codec.writeInbound(io.netty.buffer.Unpooled.wrappedBuffer(frame.getBytes()));
            deliverDecoded(transport, codec, connection);
            if (!codec.isOpen()) {
                webSocket.close(); // the first packet was not CONNECT
            }
        });
        webSocket.textMessageHandler(text -> webSocket.close()); // MQTT uses binary frames only [MQTT-6.0.0-1]
        webSocket.exceptionHandler(e -> LOG.debugf("WebSocket error: %s", e.toString()));
        webSocket.closeHandler(v -> {
            connections.remove(connection);
            if (counted) {
                limits.connections().closed();
            }
            connection.onClose();
            codec.finishAndReleaseAll();
        });
    }

    /**
     * Counts a new connection against {@code tether.limits.max-connections}; one beyond it is not counted and is
     * refused at its CONNECT (0x97 Quota exceeded).
     */
    private boolean countAgainstQuota(MqttConnection connection) {
        if (limits.connections().tryOpen()) {
            return true;
        }
        limits.refused(dev.tether.limits.Limit.MAX_CONNECTIONS);
        connection.overQuota();
        return false;
    }

    /** Hands the packets decoded from WebSocket frames to the connection, until it pauses (then they wait). */
    private static void deliverDecoded(WebSocketTransport transport, io.netty.channel.embedded.EmbeddedChannel codec,
                                       MqttConnection connection) {
        Object packet;
        while (!transport.isPaused() && (packet = codec.readInbound()) != null) {
            connection.onMessage(packet);
        }
    }

    public int port() {
        return server == null ? -1 : server.actualPort();
    }

    /** The MQTT over TLS port; -1 when no TLS configuration is there. */
    public int tlsPort() {
        return tlsServer == null ? -1 : tlsServer.actualPort();
    }

    /** Messages not sent because they exceeded a client's Maximum Packet Size, since start. */
    public long oversizeDrops() {
        return oversizeDrops.get();
    }

    /** QoS 0 messages not sent because the client was not keeping up (its write queue was full), since start. */
    public long slowConsumerDrops() {
        return services.outboundLimits().slowConsumerDrops();
    }

    /** QoS 1/2 messages of non-durable sessions dropped because the session held its queue limit, since start. */
    public long queueFullDrops() {
        return services.outboundLimits().queueFullDrops();
    }

    public int connectionCount() {
        return connections.size();
    }

    /** Stops accepting, sends DISCONNECT 0x8B to MQTT 5 clients and closes every connection. */
    public Uni<Void> stop() {
        if (server == null) {
            return Uni.createFrom().voidItem();
        }
        connections.forEach(MqttConnection::shutdown);
        Uni<Void> closed = Uni.createFrom().completionStage(server.close().toCompletionStage()).replaceWithVoid();
        if (tlsServer != null) {
            closed = closed.call(() -> Uni.createFrom().completionStage(tlsServer.close().toCompletionStage()));
        }
        return closed;
    }

    /**
     * This replica lost its lease and must not serve: stops accepting (TCP and WebSocket, for good) and closes every
     * connection without DISCONNECT, without recording its close and without its will (another replica settles the
     * sessions from PostgreSQL). Returns at once; the connections close on their event loops.
     */
    public void abandonAll() {
        abandoned = true;
        if (server != null) {
            server.close().onFailure(e -> LOG.warnf("MQTT listener did not close: %s", e.toString()));
        }
        if (tlsServer != null) {
            tlsServer.close().onFailure(e -> LOG.warnf("MQTT over TLS listener did not close: %s", e.toString()));
        }
        connections.forEach(MqttConnection::abandon);
    }
}
