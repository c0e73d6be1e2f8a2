package dev.tether.listener;

import dev.tether.auth.acl.AclRules;
import dev.tether.cluster.Change;
import dev.tether.delivery.ClientConnection;
import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.delivery.WillPublisher;
import dev.tether.events.HolderFenced;
import dev.tether.events.SessionEvent;
import dev.tether.protocol.DisconnectReasonCode;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.protocol.PublishedMessage;
import dev.tether.session.DisconnectDecision;
import dev.tether.session.ExpiryInterval;
import dev.tether.session.SessionRules;
import dev.tether.session.Will;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
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
 * The connection keeps its phases, the session's hold (takeover, DISCONNECT, close) and keep-alive, and hands the
 * other packets to its parts, which run on the same event loop: {@link ConnectHandshake} (CONNECT, until CONNACK),
 * {@link InboundPublishes} (PUBLISH and PUBREL from the client), {@link OutboundDelivery} (messages to the
 * client and their acknowledgements) and {@link SubscribeHandler} (SUBSCRIBE and UNSUBSCRIBE).
 */
final class MqttConnection implements ClientConnection {

    private static final Logger LOG = Logger.getLogger(MqttConnection.class);

    /** Packets held while the session opens; beyond this the socket is not read until CONNACK. */
    private static final int MAX_HELD_BEFORE_CONNACK = 64;
    /** How long a server-sent DISCONNECT waits for the client to close before Tether closes. */
    private static final long DISCONNECT_GRACE_MILLIS = 500;

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
    /** CONNECT, until CONNACK. */
    private final ConnectHandshake handshake;
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
    /**
     * The CONNECT's User Name (null: anonymous; taken as given by the access rules while authentication checks it,
     * and the name the client logged in with once it has), and what disconnects it when that user is disabled.
     */
    private String username;
    private Runnable kick;
    /** A DISCONNECT was sent: inbound packets are ignored until the connection closes. */
    private boolean disconnecting;
    /** Accepted beyond {@code tether.limits.max-connections}: its CONNECT is refused (0x97). */
    private boolean overQuota;
    /** The client's publish rates, null when none is configured. */
    private final PublishRateLimiter publishRate;

    MqttConnection(MqttTransport transport, Context context, BrokerServices services, WillPublisher wills) {
        this.transport = transport;
        this.context = context;
        this.services = services;
        this.wills = wills;
        this.handshake = new ConnectHandshake(this, inbound, outbound, wills);
        this.publishRate = PublishRateLimiter.of(this, services.limits());
        this.connectTimer = context.owner().setTimer(services.mqtt().connectTimeout().toMillis(), t -> {
            if (phase == Phase.AWAITING_CONNECT || handshake.enhancedAuthentication().isRunning()) {
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

    Context context() {
        return context;
    }

    ProtocolVersion version() {
        return version;
    }

    Will will() {
        return will;
    }

    /** The CONNECT was valid and CONNACK has not gone out; the connection has not closed. */
    boolean isConnecting() {
        return phase == Phase.CONNECTING;
    }

    boolean isClosed() {
        return phase == Phase.CLOSED;
    }

    /** A newer connection took the session over (or PostgreSQL fenced this one): nothing more goes out. */
    boolean isTakenOver() {
        return takenOver;
    }

    /** This connection's hold on the session has ended. */
    boolean hasEnded() {
        return ended;
    }

    /** Marks a connection accepted beyond {@code tether.limits.max-connections}: its CONNECT is refused. */
    void overQuota() {
        overQuota = true;
    }

    boolean isOverQuota() {
        return overQuota;
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
                        handshake.onConnect(c);
                        if (!handshake.enhancedAuthentication().isRunning()) {
                            context.owner().cancelTimer(connectTimer); // else it bounds the AUTH exchange too
                        }
                    } else {
                        // [MQTT-3.1.0-1] the first packet must be CONNECT.
                        transport.close();
                    }
                }
                // Clients may send before CONNACK (§3.1.4); hold the packets until the session is ready.
                case CONNECTING -> {
                    if (handshake.enhancedAuthentication().isRunning()) {
                        handshake.enhancedAuthentication().onPacket(m); // AUTH or DISCONNECT only [MQTT-3.1.2-30]
                        return;
                    }
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
            handshake.onUndecodableConnect(cause);
            return;
        }
        boolean tooLarge = cause instanceof TooLongFrameException
                || (cause instanceof DecoderException && String.valueOf(cause.getMessage()).contains("too large"));
        disconnect(tooLarge ? DisconnectReasonCode.PACKET_TOO_LARGE : DisconnectReasonCode.MALFORMED_PACKET);
    }

    private void dispatch(MqttMessage m) {
        MqttMessageType type = m.fixedHeader().messageType();
        switch (type) {
            case PUBLISH -> {
                inbound.onPublish((MqttPublishMessage) m);
                if (publishRate != null && phase == Phase.CONNECTED) {
                    publishRate.onPublish(m.fixedHeader().remainingLength());
                }
            }
            case PUBACK -> outbound.onPubackOrPubcomp(NettyPackets.packetId(m));
            case PUBREC -> outbound.onPubrec(NettyPackets.packetId(m), NettyPackets.reasonCode(m));
            case PUBCOMP -> outbound.onPubackOrPubcomp(NettyPackets.packetId(m));
            case PUBREL -> inbound.onPubrel(NettyPackets.packetId(m));
            case SUBSCRIBE -> subscribeHandler().onSubscribe((MqttSubscribeMessage) m);
            case UNSUBSCRIBE -> subscribeHandler().onUnsubscribe((MqttUnsubscribeMessage) m);
            case PINGREQ -> write(new MqttMessage(new MqttFixedHeader(MqttMessageType.PINGRESP, false,
                    MqttQoS.AT_MOST_ONCE, false, 0)));
            case DISCONNECT -> onDisconnect(m);
            // Re-authentication is not offered: 0x8C to a client that authenticated with SCRAM-SHA-256, and AUTH
            // from any other is a Protocol Error [MQTT-4.12.0-7].
            case AUTH -> disconnect(handshake.enhancedAuthentication().inUse()
                    ? DisconnectReasonCode.BAD_AUTHENTICATION_METHOD : DisconnectReasonCode.PROTOCOL_ERROR);
            // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error.
            default -> disconnect(DisconnectReasonCode.PROTOCOL_ERROR);
        }
    }

    /** The access rules changed: subscriptions they deny now leave the session (on this connection's context). */
    void accessRulesChanged(AclRules rules) {
        context.runOnContext(v -> subscribeHandler().revokeDenied(rules));
    }

    private SubscribeHandler subscribeHandler() {
        if (subscribeHandler == null) {
            subscribeHandler = new SubscribeHandler(this, outbound);
        }
        return subscribeHandler;
    }

    // ---- CONNECT (the handshake itself is ConnectHandshake's) ---------------------------------------

    void version(ProtocolVersion version) {
        this.version = version;
    }

    void clientId(String clientId) {
        this.clientId = clientId;
    }

    /** The CONNECT's User Name; null when it had none. */
    String username() {
        return username;
    }

    void username(String username) {
        this.username = username;
    }

    void expiry(ExpiryInterval expiry) {
        this.expiry = expiry;
    }

    void will(Will will) {
        this.will = will;
    }

    void epoch(long epoch) {
        this.epoch = epoch;
    }

    /**
     * The client logged in as {@code username}: listed among this replica's {@link dev.tether.auth.LiveUsers}, so
     * that it is disconnected (0x98) once the user is disabled.
     */
    void loggedIn(String username) {
        this.username = username;
        this.kick = () -> context.runOnContext(v -> disconnect(DisconnectReasonCode.ADMINISTRATIVE_ACTION));
        services.liveUsers().add(username, kick);
    }

    /** The CONNECT was valid: the session opens, and packets the client sends meanwhile are held. */
    void connecting() {
        phase = Phase.CONNECTING;
    }

    /** The connection this one takes over on this replica: this one's session opens once {@code settled} completes. */
    void predecessorSettled(CompletableFuture<Void> settled) {
        this.predecessorSettled = settled;
    }

    /** Accepts the connection with {@code connack}, then handles what was held while the session opened. */
    void connected(MqttConnAckMessage connack, int keepAlive, List<StoredOutboundMessage> storedOutbound) {
        write(connack);
        phase = Phase.CONNECTED;
        startKeepAlive(keepAlive);

        outbound.resume(storedOutbound);
        subscribeHandler().revokeDenied(services.acl().rules()); // a resumed session's subscriptions a rule now denies
        boolean wasPaused = heldInbound.size() >= MAX_HELD_BEFORE_CONNACK;
        while (!heldInbound.isEmpty() && phase == Phase.CONNECTED) {
            MqttMessage m = heldInbound.poll();
            try {
                dispatch(m);
            } finally {
                ReferenceCountUtil.release(m);
            }
        }
        if (wasPaused && phase == Phase.CONNECTED) {
            resumeReading();
        }
    }

    /** The CONNECT was refused ({@link ConnectHandshake#refuse}): {@code connack}, then close. */
    void refused(MqttConnAckMessage connack) {
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
            // Not while Tether itself does not read the client (its publish rate): the client is not silent.
            if (System.nanoTime() - lastPacketNanos > limitNanos && (publishRate == null || !publishRate.isThrottled())) {
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
        if (publishRate != null) {
            publishRate.close();
        }
        if (keepAliveTimer >= 0) {
            context.owner().cancelTimer(keepAliveTimer);
        }
        context.owner().cancelTimer(connectTimer);
        handshake.enhancedAuthentication().onClose();
        if (username != null) {
            services.liveUsers().remove(username, kick);
        }
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
    void end() {
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
        if (phase == Phase.CLOSED || disconnecting) { // [MQTT-3.14.4-2] nothing after DISCONNECT
            ReferenceCountUtil.release(m);
        } else if (isAcknowledgement(m) && services.lease().forbidsAcknowledging()) {
            // This replica's lease has run out: what it would acknowledge may already belong to another replica.
            // Nothing is acknowledged; the connection closes (the lease keeper closes the others), and the client
            // resumes elsewhere from what PostgreSQL holds.
            ReferenceCountUtil.release(m);
            transport.close();
        } else {
            transport.write(m);
        }
    }

    private static boolean isAcknowledgement(MqttMessage m) {
        return switch (m.fixedHeader().messageType()) {
            case CONNACK, SUBACK, UNSUBACK, PUBACK, PUBREC, PUBCOMP -> true;
            default -> false;
        };
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
                resumeReading();
            }));
        }
    }

    /**
     * Reads the transport again, unless something else still holds it: events waiting for PostgreSQL, packets held
     * until CONNACK, or the client's publish rate. The client was not silent meanwhile (keep-alive starts afresh).
     */
    void resumeReading() {
        if (phase == Phase.CLOSED || paused || heldInbound.size() >= MAX_HELD_BEFORE_CONNACK
                || (publishRate != null && publishRate.isThrottled())) {
            return;
        }
        lastPacketNanos = System.nanoTime();
        transport.resume();
    }

    String clientId() {
        return clientId;
    }
}
