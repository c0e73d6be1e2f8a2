package dev.tether.listener;

import dev.tether.cluster.Change;
import dev.tether.delivery.ClientConnection;
import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.delivery.WillPublisher;
import dev.tether.events.HolderFenced;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvents;
import dev.tether.events.SessionOpened;
import dev.tether.protocol.ConnectReasonCode;
import dev.tether.protocol.DisconnectReasonCode;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.routing.TopicNames;
import dev.tether.session.ConnectDecision;
import dev.tether.session.ConnectRequest;
import dev.tether.session.DisconnectDecision;
import dev.tether.session.ExpiryInterval;
import dev.tether.session.SessionRules;
import dev.tether.session.Will;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttIdentifierRejectedException;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttUnacceptableProtocolVersionException;
import io.netty.handler.codec.mqtt.MqttUnsubscribeMessage;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * One client's MQTT connection: the packet state machine of MQTT 3.1.1 and 5.0 over a transport (TCP socket or, later, WebSocket)
 * that already decodes MQTT packets. Owned by one Vert.x event loop: every method except
 * {@link #deliver}, {@link #takeOver} and {@link #sessionEnded} (which hop onto it) runs on {@link #context}.
 * The connection keeps the CONNECT handshake, the session's hold (takeover, DISCONNECT, close) and keep-alive, and
 * hands the other packets to its parts, which run on the same event loop: {@link InboundPublishes} (PUBLISH and
 * PUBREL from the client), {@link OutboundDelivery} (messages to the client and their acknowledgements) and
 * {@link SubscribeHandler} (SUBSCRIBE and UNSUBSCRIBE).
 */
final class MqttConnection implements ClientConnection {

    private static final Logger LOG = Logger.getLogger(MqttConnection.class);

    /** Packets held while the session opens; beyond this the socket is not read until CONNACK. */
    private static final int MAX_HELD_BEFORE_CONNACK = 64;
    /** How long a server-sent DISCONNECT waits for the client to close before Tether closes. */
    private static final long DISCONNECT_GRACE_MILLIS = 500;
    /** Openings of one CONNECT at most, each after taking over a connection that held the session on another replica. */
    private static final int MAX_OPEN_ATTEMPTS = 5;

    private enum Phase { AWAITING_CONNECT, CONNECTING, CONNECTED, CLOSED }

    private final MqttTransport transport;
    private final Context context;
    private final BrokerServices services;
    private final WillPublisher wills;
    private Phase phase = Phase.AWAITING_CONNECT;
    // Small initial capacity: most connections never hold anything, and idle memory counts per connection.
    private final ArrayDeque<MqttMessage> heldInbound = new ArrayDeque<>(1);
    /** PUBLISH and PUBREL from the client. */
    private final InboundPublishes inbound = new InboundPublishes(this);
    /** Messages to the client and its acknowledgements of them. */
    private final OutboundDelivery outbound = new OutboundDelivery(this);
    /** SUBSCRIBE and UNSUBSCRIBE, created on first use (a client that only publishes never needs it). */
    private SubscribeHandler subscribeHandler;
    private ProtocolVersion version = ProtocolVersion.MQTT_5;
    private String clientId;
    private ExpiryInterval expiry = ExpiryInterval.ZERO;
    private Will will;
    private boolean publishWillOnClose = true;
    private volatile boolean takenOver;
    /** Names this connection in PostgreSQL ({@code sessions.connection_id}), fencing its writes. */
    private final UUID connectionId = UUID.randomUUID();
    /** The session's {@code sessions.epoch} for this connection, once its opening is committed. */
    private volatile long epoch;
    /** This connection's SessionOpening once published, cancelled if the CONNECT is refused. */
    private PendingEvent opening;
    /** The old session's subscriptions removed by Clean Start 1, put back if the CONNECT is refused. */
    private List<Subscription> discardedSubscriptions;
    /** This connection's hold on the session has ended (closed, DISCONNECT, taken over or refused). */
    private boolean ended;
    /**
     * Completes when the connection this one took over has settled (at once when there was none); until then this
     * connection's own session is not yet opened.
     */
    private volatile CompletableFuture<Void> predecessorSettled = CompletableFuture.completedFuture(null);
    private long lastPacketNanos = System.nanoTime();
    private long keepAliveTimer = -1;
    private long connectTimer;
    private boolean paused;
    /** A DISCONNECT was sent: inbound packets are ignored until the connection closes. */
    private boolean disconnecting;
    /** Client's wishes from CONNECT (MQTT 5); its limits are kept by {@link OutboundDelivery}. */
    private boolean keepAliveAnnounced;
    private int keepAliveSeconds;
    private String responseInformation;

    MqttConnection(MqttTransport transport, Context context, BrokerServices services, WillPublisher wills) {
        this.transport = transport;
        this.context = context;
        this.services = services;
        this.wills = wills;
        this.connectTimer = context.owner().setTimer(services.mqtt().connectTimeout().toMillis(), t -> {
            if (phase == Phase.AWAITING_CONNECT) {
                transport.close();
            }
        });
    }

    // ---- what the parts share (all on this connection's event loop) -------------------------------

    boolean mqtt5() {
        return version.isMqtt5();
    }

    Instant now() {
        return services.clock().instant();
    }

    BrokerServices services() {
        return services;
    }

    MqttTransport transport() {
        return transport;
    }

    /** The session expiry as it stands (granted at CONNECT, changed by DISCONNECT or when the session ends). */
    ExpiryInterval expiry() {
        return expiry;
    }

    /** CONNACK has gone out and the connection has not closed. */
    boolean isConnected() {
        return phase == Phase.CONNECTED;
    }

    // ---- inbound ---------------------------------------------------------------------------------

    void onMessage(Object o) {
        if (!(o instanceof MqttMessage m)) {
            ReferenceCountUtil.release(o);
            return;
        }
        try {
            lastPacketNanos = System.nanoTime();
            if (disconnecting) {
                return;
            }
            if (m.decoderResult().isFailure()) {
                onDecodeFailure(m.decoderResult().cause());
                return;
            }
            switch (phase) {
                case AWAITING_CONNECT -> {
                    if (m instanceof MqttConnectMessage c) {
                        onConnect(c);
                    } else {
                        // [MQTT-3.1.0-1] the first packet must be CONNECT.
                        transport.close();
                    }
                }
                // Clients may send before CONNACK (§3.1.4); hold the packets until the session is ready.
                case CONNECTING -> {
                    heldInbound.add(detach(m));
                    if (heldInbound.size() == MAX_HELD_BEFORE_CONNACK) {
                        transport.pause(); // resumed once the session is open
                    }
                }
                case CONNECTED -> dispatch(m);
                case CLOSED -> { }
            }
        } catch (RuntimeException e) {
            LOG.debugf(e, "client %s sent a packet Tether could not handle", clientId);
            disconnect(DisconnectReasonCode.PROTOCOL_ERROR);
        } finally {
            ReferenceCountUtil.release(m);
        }
        applyBackPressure();
    }

    /** A copy of a packet that owns no pooled buffer, to be kept after the original is released. */
    private static MqttMessage detach(MqttMessage m) {
        if (m instanceof MqttPublishMessage p) {
            return p.replace(Unpooled.wrappedBuffer(NettyPackets.bytes(p.payload())));
        }
        return m;
    }

    private void onDecodeFailure(Throwable cause) {
        LOG.debugf("malformed packet from %s: %s", clientId, cause.toString());
        if (phase == Phase.AWAITING_CONNECT) {
            if (cause instanceof MqttUnacceptableProtocolVersionException) {
                refuse(ConnectReasonCode.UNSUPPORTED_PROTOCOL_VERSION);
            } else if (cause instanceof MqttIdentifierRejectedException) {
                refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
            } else if (cause instanceof TooLongFrameException) {
                refuse(ConnectReasonCode.PACKET_TOO_LARGE);
            } else {
                refuse(ConnectReasonCode.MALFORMED_PACKET);
            }
            return;
        }
        boolean tooLarge = cause instanceof TooLongFrameException
                || (cause instanceof DecoderException && String.valueOf(cause.getMessage()).contains("too large"));
        disconnect(tooLarge ? DisconnectReasonCode.PACKET_TOO_LARGE : DisconnectReasonCode.MALFORMED_PACKET);
    }

    private void dispatch(MqttMessage m) {
        MqttMessageType type = m.fixedHeader().messageType();
        switch (type) {
            case PUBLISH -> inbound.onPublish((MqttPublishMessage) m);
            case PUBACK -> outbound.onPubackOrPubcomp(NettyPackets.packetId(m));
            case PUBREC -> outbound.onPubrec(NettyPackets.packetId(m), NettyPackets.reasonCode(m));
            case PUBCOMP -> outbound.onPubackOrPubcomp(NettyPackets.packetId(m));
            case PUBREL -> inbound.onPubrel(NettyPackets.packetId(m));
            case SUBSCRIBE -> subscribeHandler().onSubscribe((MqttSubscribeMessage) m);
            case UNSUBSCRIBE -> subscribeHandler().onUnsubscribe((MqttUnsubscribeMessage) m);
            case PINGREQ -> write(new MqttMessage(new MqttFixedHeader(MqttMessageType.PINGRESP, false,
                    MqttQoS.AT_MOST_ONCE, false, 0)));
            case DISCONNECT -> onDisconnect(m);
            // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error; Tether supports no AUTH method.
            default -> disconnect(DisconnectReasonCode.PROTOCOL_ERROR);
        }
    }

    private SubscribeHandler subscribeHandler() {
        if (subscribeHandler == null) {
            subscribeHandler = new SubscribeHandler(this, outbound);
        }
        return subscribeHandler;
    }

    // ---- CONNECT ---------------------------------------------------------------------------------

    private void onConnect(MqttConnectMessage c) {
        context.owner().cancelTimer(connectTimer);
        var header = c.variableHeader();
        var payload = c.payload();
        if (header.version() != 4 && header.version() != 5) {
            version = ProtocolVersion.MQTT_3_1_1;
            refuse(ConnectReasonCode.UNSUPPORTED_PROTOCOL_VERSION);
            return;
        }
        version = header.version() == 5 ? ProtocolVersion.MQTT_5 : ProtocolVersion.MQTT_3_1_1;
        MqttProperties props = mqtt5() ? header.properties() : MqttProperties.NO_PROPERTIES;
        if (transport.connectHadDuplicateProperty()) {
            refuse(ConnectReasonCode.PROTOCOL_ERROR); // e.g. Session Expiry Interval sent twice
            return;
        }
        boolean cleanStart = header.isCleanSession();
        String id = payload.clientIdentifier() == null ? "" : payload.clientIdentifier();
        boolean assigned = false;
        if (id.isEmpty()) {
            if (!mqtt5() && !cleanStart) {
                refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID); // [MQTT-3.1.3-8]
                return;
            }
            id = "tether-" + UUID.randomUUID(); // [MQTT-3.1.3-6] the server assigns one
            assigned = mqtt5();
        }
        if (id.length() > services.mqtt().maxClientIdLength()) {
            refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
            return;
        }
        if (mqtt5() && props.getProperty(MqttPropertyType.AUTHENTICATION_METHOD.value()) != null) {
            refuse(ConnectReasonCode.BAD_AUTHENTICATION_METHOD);
            return;
        }
        long receiveMaximum = NettyPackets.unsignedInt(props, MqttPropertyType.RECEIVE_MAXIMUM).orElse(65535L);
        if (receiveMaximum == 0) {
            refuse(ConnectReasonCode.PROTOCOL_ERROR);
            return;
        }
        outbound.receiveMaximum((int) receiveMaximum);
        long clientMaxPacketSize = NettyPackets.unsignedInt(props, MqttPropertyType.MAXIMUM_PACKET_SIZE).orElse(Long.MAX_VALUE);
        outbound.clientMaxPacketSize(clientMaxPacketSize);
        if (clientMaxPacketSize == 0) {
            refuse(ConnectReasonCode.PROTOCOL_ERROR);
            return;
        }
        outbound.clientTopicAliasMaximum(
                NettyPackets.unsignedInt(props, MqttPropertyType.TOPIC_ALIAS_MAXIMUM).orElse(0L).intValue());
        // Request Problem Information needs nothing here: Tether sends Reason Strings on CONNACK and DISCONNECT
        // only, which a client asking for none still allows [MQTT-3.1.2-29].
        boolean requestResponseInformation = NettyPackets.unsignedInt(props,
                MqttPropertyType.REQUEST_RESPONSE_INFORMATION).orElse(0L) == 1;
        if (header.isWillFlag()) {
            MqttProperties wp = mqtt5() ? payload.willProperties() : MqttProperties.NO_PROPERTIES;
            will = new Will(payload.willTopic(), payload.willMessageInBytes(), header.willQos(), header.isWillRetain(),
                    NettyPackets.unsignedInt(wp, MqttPropertyType.WILL_DELAY_INTERVAL).orElse(0L),
                    NettyPackets.unsignedInt(wp, MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL).orElse(null),
                    mqtt5() ? NettyPackets.messageProperties(wp) : null);
            if (!TopicNames.isValidTopicName(will.topic())) {
                refuse(ConnectReasonCode.TOPIC_NAME_INVALID);
                return;
            }
        }
        clientId = id;
        ConnectRequest request = new ConnectRequest(version, id, cleanStart,
                NettyPackets.unsignedInt(props, MqttPropertyType.SESSION_EXPIRY_INTERVAL).map(ExpiryInterval::ofSeconds));
        expiry = SessionRules.grantedExpiry(request, services.policy());
        phase = Phase.CONNECTING;
        int keepAlive = header.keepAliveTimeSeconds();
        Optional<Integer> maxKeepAlive = services.mqtt().maxKeepAlive();
        if (mqtt5() && maxKeepAlive.isPresent() && (keepAlive == 0 || keepAlive > maxKeepAlive.get())) {
            keepAlive = maxKeepAlive.get(); // announced as Server Keep Alive, and the client is held to it
            keepAliveAnnounced = true;
        }
        keepAliveSeconds = keepAlive;
        responseInformation = requestResponseInformation ? "tether/response/" + id : null;
        if (cleanStart) {
            // [MQTT-3.1.2-4] the old session ends with this CONNECT: nothing routed from now on reaches it. Its
            // subscriptions are kept aside in case the CONNECT is refused and the old session stays.
            discardedSubscriptions = services.subscriptions().subscriptionsOf(id);
            services.subscriptions().removeAll(id);
        }

        // [MQTT-3.1.4-3] takeover: the previous connection of this Client Identifier is closed, and this one
        // goes on only once that connection has settled (ended or handed over), so that the session's events
        // of the old connection come before this one's in PostgreSQL, and its will is decided exactly once.
        boolean announceAssigned = assigned;
        Optional<ClientConnection> previous = services.clients().register(id, this);
        if (previous.isEmpty()) {
            open(request, announceAssigned);
            return;
        }
        services.events().publishAndForget(new SessionEvent.SessionTakenOver(clientId, services.instanceId(), now()));
        CompletableFuture<Void> predecessorSettled = new CompletableFuture<>();
        this.predecessorSettled = predecessorSettled;
        previous.get().takeOver(cleanStart).whenComplete((v, f) -> context.runOnContext(x -> {
            predecessorSettled.complete(null);
            if (takenOver || ended) {
                return; // refused meanwhile, or taken over in turn
            }
            open(request, announceAssigned);
            if (phase == Phase.CLOSED) {
                end(); // the client left while the old connection settled: its session is closed like any other
            }
        }));
    }

    /** Records the session in PostgreSQL (for a durable one, before CONNACK) and accepts the connection. */
    private void open(ConnectRequest request, boolean announceAssigned) {
        open(request, announceAssigned, Optional.empty(), 1);
    }

    /**
     * @param settled a connection on another replica this one has already taken over
     * @param attempt openings so far: one more each time a connection on another replica is found holding the session
     */
    private void open(ConnectRequest request, boolean announceAssigned, Optional<UUID> settled, int attempt) {
        String id = request.clientId();
        opening = services.events().submit(new SessionEvent.SessionOpening(request, Optional.ofNullable(will),
                services.instanceId(), connectionId, now(), settled));
        Uni<SessionOpened> opened = SessionEvents.committed(opening);
        if (request.cleanStart() && !expiry.isDurable() && !services.sessions().isDurable(id)
                && !services.cluster().hasPeers()) {
            // Nothing to wait for: a new, non-durable session replacing no durable one; it is written without
            // delaying the client. (Discarding a durable session is acknowledged only once committed.)
            services.sessions().put(id, false);
            discardedSubscriptions = null;
            ConnectDecision decision = SessionRules.onConnect(request, Optional.empty(), now(), services.policy());
            onContext(opened, r -> {
                epoch = r.epoch();
                r.willsToPublish().forEach(w -> wills.publishAndForget(clientId, w));
            }, f -> LOG.warnf("session %s not recorded: %s", clientId, f.toString()));
            accept(decision, announceAssigned, keepAliveSeconds, List.of(), List.of());
            return;
        }
        onContext(opened.ifNoItem().after(services.store().connectTimeout()).fail(),
                r -> {
                    if (phase != Phase.CONNECTING || takenOver) {
                        return;
                    }
                    if (r.heldBy().isPresent()) {
                        takeOverElsewhere(request, announceAssigned, r.heldBy().get(), attempt);
                        return;
                    }
                    ConnectDecision d = r.decision();
                    epoch = r.epoch();
                    expiry = d.grantedExpiry();
                    discardedSubscriptions = null;
                    services.sessions().put(clientId, expiry.isDurable());
                    if (d.sessionPresent()) {
                        r.subscriptions().forEach(services.subscriptions()::put);
                    } else {
                        services.subscriptions().removeAll(clientId);
                    }
                    r.willsToPublish().forEach(w -> wills.publishAndForget(clientId, w));
                    inbound.resumeQos2(r.inboundQos2());
                    // Every replica learns that this connection holds the session (and routes to it) before CONNACK.
                    onContext(Uni.createFrom().completionStage(services.cluster().announce(new Change.HolderChanged(
                                    clientId, services.instanceId(), epoch, expiry.isDurable(), !d.sessionPresent()))),
                            v -> {
                                if (phase == Phase.CONNECTING && !takenOver) {
                                    accept(d, announceAssigned, keepAliveSeconds, r.outbound(), r.subscriptions());
                                }
                            },
                            f -> {
                                LOG.warnf("replicas did not learn of %s's connection: %s", clientId, f.toString());
                                if (phase == Phase.CONNECTING) {
                                    refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
                                }
                            });
                },
                f -> {
                    LOG.warnf("session %s could not be opened: %s", clientId, f.toString());
                    if (phase == Phase.CONNECTING) {
                        refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
                    }
                });
    }

    /**
     * A live connection on another replica holds the session [MQTT-3.1.4-3]: that replica closes it as taken over
     * (0x8E, its will decided there, its writes committed), then this connection opens again. PostgreSQL's row lock
     * decides between CONNECTs racing on several replicas: each opening that finds another live holder takes it over
     * in turn, so exactly one connection survives.
     */
    private void takeOverElsewhere(ConnectRequest request, boolean announceAssigned, SessionOpened.Holder holder,
                                   int attempt) {
        if (attempt >= MAX_OPEN_ATTEMPTS) {
            LOG.warnf("session %s still held elsewhere after %d takeovers", clientId, attempt);
            refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
            return;
        }
        onContext(Uni.createFrom().completionStage(services.cluster().takeOver(holder.instanceId(), clientId,
                        holder.connectionId(), request.cleanStart())),
                v -> {
                    if (phase == Phase.CONNECTING && !takenOver) {
                        open(request, announceAssigned, Optional.of(holder.connectionId()), attempt + 1);
                    }
                },
                f -> {
                    LOG.warnf("session %s could not be taken over from replica %s: %s", clientId, holder.instanceId(),
                            f.toString());
                    if (phase == Phase.CONNECTING) {
                        refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
                    }
                });
    }

    private void accept(ConnectDecision d, boolean assigned, int keepAlive, List<StoredOutboundMessage> storedOutbound,
                        List<Subscription> resumed) {
        MqttProperties props = new MqttProperties();
        if (mqtt5()) {
            if (assigned) {
                props.add(new MqttProperties.StringProperty(MqttPropertyType.ASSIGNED_CLIENT_IDENTIFIER.value(), clientId));
            }
            if (d.announceExpiry()) {
                props.add(new MqttProperties.IntegerProperty(MqttPropertyType.SESSION_EXPIRY_INTERVAL.value(),
                        (int) d.grantedExpiry().seconds()));
            }
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.MAXIMUM_PACKET_SIZE.value(),
                    services.mqtt().maxPacketSize()));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.RECEIVE_MAXIMUM.value(),
                    services.mqtt().receiveMaximum()));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.TOPIC_ALIAS_MAXIMUM.value(),
                    services.mqtt().topicAliasMaximum()));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.RETAIN_AVAILABLE.value(), 1));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.WILDCARD_SUBSCRIPTION_AVAILABLE.value(), 1));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.SUBSCRIPTION_IDENTIFIER_AVAILABLE.value(), 1));
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.SHARED_SUBSCRIPTION_AVAILABLE.value(), 1));
            if (keepAliveAnnounced) {
                props.add(new MqttProperties.IntegerProperty(MqttPropertyType.SERVER_KEEP_ALIVE.value(), keepAlive));
            }
            if (responseInformation != null) {
                props.add(new MqttProperties.StringProperty(MqttPropertyType.RESPONSE_INFORMATION.value(),
                        responseInformation));
            }
        }
        MqttConnAckMessage connack = MqttMessageBuilders.connAck()
                .returnCode(MqttConnectReturnCode.CONNECTION_ACCEPTED)
                .sessionPresent(d.sessionPresent())
                .properties(props)
                .build();
        write(connack);
        phase = Phase.CONNECTED;
        startKeepAlive(keepAlive);

        outbound.resume(storedOutbound);
        boolean wasPaused = heldInbound.size() >= MAX_HELD_BEFORE_CONNACK;
        while (!heldInbound.isEmpty() && phase == Phase.CONNECTED) {
            MqttMessage m = heldInbound.poll();
            try {
                dispatch(m);
            } finally {
                ReferenceCountUtil.release(m);
            }
        }
        if (wasPaused && phase == Phase.CONNECTED && !paused) {
            transport.resume();
        }
    }

    /** Refuses the CONNECT: CONNACK with the reason (Session Present 0 [MQTT-3.2.2-6]) and close. */
    private void refuse(ConnectReasonCode reason) {
        MqttProperties props = MqttProperties.NO_PROPERTIES;
        if (mqtt5()) {
            props = new MqttProperties();
            props.add(new MqttProperties.StringProperty(MqttPropertyType.REASON_STRING.value(), reason.description()));
        }
        MqttConnAckMessage connack = MqttMessageBuilders.connAck()
                .returnCode(MqttConnectReturnCode.valueOf((byte) reason.codeFor(version)))
                .sessionPresent(false)
                .properties(props)
                .build();
        if (opening != null && !opening.committed().cancel(false)
                && opening.committed().getNow(null) instanceof SessionOpened committed) {
            // Committed just as the wait ran out: closed like any connection that ended.
            services.events().publishAndForget(new SessionEvent.SessionClosed(clientId, services.instanceId(),
                    connectionId, now(), committed.decision().grantedExpiry(), Optional.empty()));
        }
        // Otherwise cancelled: PostgreSQL must look as if this CONNECT never came. An opening not yet written is
        // skipped; one whose transaction had already started is closed by the store once it commits (Reconciler).
        if (clientId != null && services.clients().unregister(clientId, this) && discardedSubscriptions != null) {
            discardedSubscriptions.forEach(services.subscriptions()::put); // Clean Start refused: the old session stays
        }
        discardedSubscriptions = null;
        ended = true; // nothing of this connection reaches PostgreSQL any more
        if (phase == Phase.AWAITING_CONNECT) {
            phase = Phase.CLOSED;
        }
        publishWillOnClose = false;
        transport.write(connack).onComplete(v -> transport.close());
    }

    private void startKeepAlive(int keepAliveSeconds) {
        if (keepAliveSeconds <= 0) {
            return;
        }
        long limitNanos = keepAliveSeconds * 1_500_000_000L; // [MQTT-3.1.2-22] 1.5 x Keep Alive
        long period = Math.max(100, keepAliveSeconds * 250L);
        keepAliveTimer = context.owner().setPeriodic(period, t -> {
            if (System.nanoTime() - lastPacketNanos > limitNanos) {
                disconnect(DisconnectReasonCode.KEEP_ALIVE_TIMEOUT);
            }
        });
    }

    // ---- DISCONNECT and close -------------------------------------------------------------------

    private void onDisconnect(MqttMessage m) {
        int reason = 0;
        Optional<ExpiryInterval> disconnectExpiry = Optional.empty();
        if (mqtt5() && m.variableHeader() instanceof MqttReasonCodeAndPropertiesVariableHeader h) {
            reason = h.reasonCode() & 0xFF;
            disconnectExpiry = NettyPackets.unsignedInt(h.properties(), MqttPropertyType.SESSION_EXPIRY_INTERVAL)
                    .map(ExpiryInterval::ofSeconds);
        }
        DisconnectDecision d = SessionRules.onDisconnect(expiry, disconnectExpiry, reason, services.policy());
        expiry = d.expiry();
        publishWillOnClose = d.publishWill();
        if (d.protocolError()) {
            disconnect(DisconnectReasonCode.PROTOCOL_ERROR);
        } else {
            // The session's connection ends with the DISCONNECT, not when the socket's close is processed: a
            // CONNECT that follows at once, even in the same event-loop turn, finds the session already ended.
            disconnecting = true;
            end();
            transport.close();
        }
    }

    /** Server-initiated DISCONNECT (MQTT 5 only; a 3.1.1 client just sees the close), then close. */
    void disconnect(DisconnectReasonCode reason) {
        if (phase == Phase.CLOSED) {
            return;
        }
        if (disconnecting) {
            return;
        }
        if (mqtt5() && phase != Phase.AWAITING_CONNECT) {
            // [MQTT-3.14.4-1] close after DISCONNECT; packets the client sent meanwhile are ignored. The client gets a
            // moment to read the DISCONNECT behind the acknowledgements already on their way (a client still writing
            // to a closed socket would see a broken pipe instead of the reason code). The moment runs from now, not
            // from when the DISCONNECT has been written, which a client that does not read its socket delays until TCP
            // gives up: keep-alive and takeover must evict it. The close itself has a deadline (MqttTransport#close).
            disconnecting = true;
            transport.write(NettyPackets.disconnect(reason.code(), reason.description()));
            context.owner().setTimer(DISCONNECT_GRACE_MILLIS, t -> transport.close());
        } else {
            transport.close();
        }
    }

    void onClose() {
        Phase was = phase;
        phase = Phase.CLOSED;
        if (keepAliveTimer >= 0) {
            context.owner().cancelTimer(keepAliveTimer);
        }
        context.owner().cancelTimer(connectTimer);
        heldInbound.forEach(ReferenceCountUtil::release);
        heldInbound.clear();
        if (was == Phase.AWAITING_CONNECT || clientId == null) {
            return;
        }
        end();
    }

    /**
     * Ends this connection's hold on its session, once: on DISCONNECT, or when the connection closes. If this
     * connection still owns the Client Identifier, its close is published (with the will's time, or the will
     * itself when due now) before the Client Identifier is free for a new connection, so that a CONNECT that
     * follows is decided on the ended session. A connection taken over ends nothing: the takeover decides its
     * will and the new connection owns the session ({@link #takeOver}).
     */
    private void end() {
        if (ended || clientId == null || phase == Phase.AWAITING_CONNECT || !predecessorSettled.isDone()) {
            return; // awaiting the predecessor: its settlement opens the session, then ends it
        }
        ended = true;
        Instant now = now();
        Optional<Instant> willAt = Optional.empty();
        Will dueWill = null;
        if (will != null && publishWillOnClose) {
            Instant at = SessionRules.willPublishAt(now, will.delaySeconds(), expiry);
            if (at.isAfter(now)) {
                willAt = Optional.of(at); // the expiry job publishes it unless the client returns first
            } else {
                dueWill = will;
            }
        }
        SessionEvent.SessionClosed closed = new SessionEvent.SessionClosed(clientId, services.instanceId(),
                connectionId, now, expiry, willAt);
        boolean owner = services.clients().unregisterIfOwner(clientId, this, () -> {
            services.events().publishAndForget(closed);
            if (!expiry.isDurable()) {
                services.subscriptions().removeAll(clientId);
                services.sessions().remove(clientId);
            } else {
                services.sessions().put(clientId, true);
            }
            services.cluster().tell(new Change.Released(clientId, epoch, expiry.isDurable()));
        });
        if (!owner) {
            ended = false; // taken over: the takeover settles this connection, its will included
            return;
        }
        if (dueWill != null) {
            wills.publishAndForget(clientId, dueWill);
        }
        will = null;
    }

    // ---- delivery to the client -----------------------------------------------------------------

    /** Names this connection in PostgreSQL: its holder events carry it, and are written only while it holds. */
    @Override
    public UUID connectionId() {
        return connectionId;
    }

    /** The session's epoch for this connection (0 until its opening is committed). */
    long epoch() {
        return epoch;
    }

    @Override
    public void deliver(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
        if (Vertx.currentContext() == context) {
            deliverOnContext(message, qos, subscriptionIds, messageId);
        } else {
            context.runOnContext(v -> deliverOnContext(message, qos, subscriptionIds, messageId));
        }
    }

    @Override
    public void recover(StoredOutboundMessage message) {
        context.runOnContext(v -> {
            if (isSending()) {
                outbound.recover(message);
            }
        });
    }

    private void deliverOnContext(PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
        switch (phase) {
            case CONNECTING -> outbound.holdUntilConnected(message, qos, subscriptionIds, messageId);
            case CONNECTED -> {
                if (isSending()) {
                    outbound.sendOrHold(message, qos, subscriptionIds, messageId);
                } // else: ending; a durable message stays queued in PostgreSQL for the next connection
            }
            default -> { } // a durable message stays queued in PostgreSQL for the next connection
        }
    }

    /** Connected, and neither ending nor taken over: messages may go out. */
    boolean isSending() {
        return phase == Phase.CONNECTED && !disconnecting && !takenOver;
    }

    /**
     * Publishes a fire-and-forget event of this connection's session state. The store retries it while the
     * database is away; if it can never be written the client is closed, so that it resumes from what
     * PostgreSQL holds rather than from a state Tether could not keep.
     */
    void persist(SessionEvent event) {
        services.events().publishAndForget(event, this::stateNotStored);
    }

    /**
     * A write of this connection's session state failed for good. Refused by fencing ({@link HolderFenced}): the
     * session is no longer this connection's, which closes at once ({@link #fenced}). Otherwise the client is closed
     * so that it resumes from what PostgreSQL holds.
     */
    void stateNotStored(Throwable failure) {
        if (HolderFenced.isCause(failure)) {
            fenced();
            return;
        }
        context.runOnContext(v -> {
            LOG.warnf("session state of %s could not be stored (%s); closing the connection", clientId, failure.toString());
            disconnect(DisconnectReasonCode.UNSPECIFIED_ERROR);
        });
    }

    /** The client's write queue has drained (called by the listener): waiting messages go out. */
    void onWritable() {
        outbound.pump();
    }

    /**
     * A new connection took the Client Identifier over. Runs on this connection's event loop, after everything
     * this connection had already read: the will is decided here, once (published unless the client had deleted
     * it with DISCONNECT 0x00, or the new CONNECT resumes the session and the will has a delay [MQTT-3.1.3-9]),
     * then DISCONNECT 0x8E and close. Nothing of this connection reaches the client or PostgreSQL afterwards. The
     * returned stage completes when that is done; only then does the new connection record its session.
     */
    @Override
    public CompletionStage<Void> takeOver(boolean newCleanStart) {
        takenOver = true;
        CompletableFuture<Void> settled = new CompletableFuture<>();
        // A chain of takeovers settles in order: this connection's own predecessor first.
        predecessorSettled.whenComplete((p, f) -> context.runOnContext(v -> {
            try {
                ended = true;
                if (will != null && publishWillOnClose
                        && SessionRules.publishWillOnTakeover(newCleanStart, will.delaySeconds())) {
                    wills.publishAndForget(clientId, will);
                }
                will = null;
                if (phase != Phase.CLOSED) {
                    disconnect(DisconnectReasonCode.SESSION_TAKEN_OVER);
                }
            } finally {
                settled.complete(null);
            }
        }));
        return settled;
    }

    /**
     * PostgreSQL refused a write of this connection ({@link HolderFenced}): the session row names another connection
     * (which took the session over, on this replica or another) or none. The session is not this connection's any
     * more, so it closes at once without touching it: no {@code SessionClosed}, no will (the session's holder or its
     * end decides it). DISCONNECT 0x8E (Session taken over) to an MQTT 5 client, then close. Runs on the connection's
     * event loop; once only.
     */
    void fenced() {
        context.runOnContext(v -> {
            if (ended || phase == Phase.CLOSED) {
                return; // already ending: nothing of it reaches PostgreSQL any more
            }
            LOG.infof("session %s is no longer held by this connection (PostgreSQL refused its write); closing",
                    clientId);
            ended = true;
            takenOver = true; // nothing more goes out
            will = null;
            publishWillOnClose = false;
            services.clients().unregister(clientId, this);
            disconnect(DisconnectReasonCode.SESSION_TAKEN_OVER);
        });
    }

    @Override
    public void sessionEnded() {
        context.runOnContext(v -> {
            if (phase != Phase.CONNECTED) {
                return; // still opening: its CONNECT decides the session; closing: nothing left to do
            }
            // The session, and the will stored with it, are gone: closing ends what is left, and publishes nothing.
            expiry = ExpiryInterval.ZERO;
            will = null;
            disconnect(DisconnectReasonCode.ADMINISTRATIVE_ACTION);
        });
    }

    /** Graceful broker stop: DISCONNECT 0x8B to MQTT 5 clients, then close. */
    void shutdown() {
        context.runOnContext(v -> disconnect(DisconnectReasonCode.SERVER_SHUTTING_DOWN));
    }

    /**
     * This replica lost its lease: the connection ends here and now, as if the process had died. No DISCONNECT (the
     * client must not take it for a shutdown), no {@code SessionClosed} and no will: another replica settles the
     * session from PostgreSQL, at this replica's last heartbeat. Runs on this connection's event loop.
     */
    void abandon() {
        context.runOnContext(v -> {
            ended = true; // nothing of this connection reaches PostgreSQL any more
            disconnecting = true; // and nothing more reaches the client
            will = null;
            publishWillOnClose = false;
            transport.close();
        });
    }

    // ---- plumbing --------------------------------------------------------------------------------

    void write(MqttMessage m) {
        if (phase != Phase.CLOSED && !disconnecting) { // [MQTT-3.14.4-2] nothing after DISCONNECT
            transport.write(m);
        } else {
            ReferenceCountUtil.release(m);
        }
    }

    /** Subscribes to {@code uni} and runs the callbacks on this connection's event loop. */
    <T> void onContext(Uni<T> uni, Consumer<T> onItem, Consumer<Throwable> onFailure) {
        uni.subscribe().with(
                item -> context.runOnContext(v -> onItem.accept(item)),
                failure -> context.runOnContext(v -> onFailure.accept(failure)));
    }

    /** Stops reading the transport while too many events wait for PostgreSQL; resumes when they drain. */
    private void applyBackPressure() {
        int capacity = services.store().queueCapacity();
        if (!paused && services.events().waiting() > capacity) {
            paused = true;
            transport.pause();
            services.events().whenDrainedTo(capacity / 2, () -> context.runOnContext(v -> {
                paused = false;
                transport.resume();
            }));
        }
    }

    String clientId() {
        return clientId;
    }
}
