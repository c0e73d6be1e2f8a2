package dev.tether.listener;

import dev.tether.auth.AuthOutcome;
import dev.tether.auth.Credentials;
import dev.tether.auth.SubjectNames;
import dev.tether.auth.acl.AclAction;
import dev.tether.auth.acl.AclRules;
import dev.tether.cluster.Change;
import dev.tether.delivery.ClientConnection;
import dev.tether.delivery.StoredOutboundMessage;
import dev.tether.delivery.WillPublisher;
import dev.tether.events.PendingEvent;
import dev.tether.events.SessionEvent;
import dev.tether.events.SessionEvents;
import dev.tether.events.SessionOpened;
import dev.tether.limits.Limit;
import dev.tether.protocol.ConnectReasonCode;
import dev.tether.protocol.ProtocolVersion;
import dev.tether.routing.Subscription;
import dev.tether.routing.TopicNames;
import dev.tether.session.ConnectDecision;
import dev.tether.session.ConnectRequest;
import dev.tether.session.ExpiryInterval;
import dev.tether.session.SessionRules;
import dev.tether.session.Will;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttIdentifierRejectedException;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttUnacceptableProtocolVersionException;
import io.smallrye.mutiny.Uni;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import javax.security.auth.x500.X500Principal;
import org.jboss.logging.Logger;

/**
 * The CONNECT handshake of one {@link MqttConnection}: the CONNECT packet checked (will, Client Identifier,
 * keep-alive), the connection that held the Client Identifier on this replica taken over, the session opened in
 * PostgreSQL (taking it over from a connection on another replica when one holds it), and CONNACK, accepting or
 * refusing. What the connection keeps afterwards (Client Identifier, protocol version, expiry, will, epoch) is set on
 * the connection; this class holds only what the handshake alone needs. Owned by the connection's event loop, like
 * the connection.
 */
final class ConnectHandshake {

    /** Logged under the connection's category. */
    private static final Logger LOG = Logger.getLogger(MqttConnection.class);

    /** Openings of one CONNECT at most, each after taking over a connection that held the session on another replica. */
    private static final int MAX_OPEN_ATTEMPTS = 5;

    private final MqttConnection connection;
    private final InboundPublishes inbound;
    private final OutboundDelivery outbound;
    private final WillPublisher wills;
    /** SCRAM-SHA-256, when the CONNECT asks for it. */
    private final EnhancedAuthentication enhancedAuth;
    /** This connection's SessionOpening once published, cancelled if the CONNECT is refused. */
    private PendingEvent opening;
    /** The old session's subscriptions removed by Clean Start 1, put back if the CONNECT is refused. */
    private List<Subscription> discardedSubscriptions;
    /** Client's wishes from CONNECT (MQTT 5); its limits are kept by {@link OutboundDelivery}. */
    private boolean keepAliveAnnounced;
    private int keepAliveSeconds;
    private String responseInformation;
    /** The User Name the client logged in with (or its certificate's CN), null for an anonymous client. */
    private String username;
    /**
     * Whether the login is disconnected once its {@code mqtt_users} row is disabled or deleted: always for a password
     * user, and for a certificate user only when a row of its name existed at CONNECT.
     */
    private boolean revocable = true;

    ConnectHandshake(MqttConnection connection, InboundPublishes inbound, OutboundDelivery outbound,
                     WillPublisher wills) {
        this.connection = connection;
        this.inbound = inbound;
        this.outbound = outbound;
        this.wills = wills;
        this.enhancedAuth = new EnhancedAuthentication(connection, this::refuse);
    }

    EnhancedAuthentication enhancedAuthentication() {
        return enhancedAuth;
    }

    void onConnect(MqttConnectMessage c) {
        BrokerServices services = connection.services();
        var header = c.variableHeader();
        var payload = c.payload();
        if (header.version() != 4 && header.version() != 5) {
            connection.version(ProtocolVersion.MQTT_3_1_1);
            refuse(ConnectReasonCode.UNSUPPORTED_PROTOCOL_VERSION);
            return;
        }
        connection.version(header.version() == 5 ? ProtocolVersion.MQTT_5 : ProtocolVersion.MQTT_3_1_1);
        boolean mqtt5 = connection.mqtt5();
        if (connection.isOverQuota()) {
            refuse(ConnectReasonCode.QUOTA_EXCEEDED); // tether.limits.max-connections (counted on accept)
            return;
        }
        MqttProperties props = mqtt5 ? header.properties() : MqttProperties.NO_PROPERTIES;
        if (connection.transport().connectHadDuplicateProperty()) {
            refuse(ConnectReasonCode.PROTOCOL_ERROR); // e.g. Session Expiry Interval sent twice
            return;
        }
        boolean cleanStart = header.isCleanSession();
        String id = payload.clientIdentifier() == null ? "" : payload.clientIdentifier();
        boolean assigned = false;
        if (id.isEmpty()) {
            if (!mqtt5 && !cleanStart) {
                refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID); // [MQTT-3.1.3-8]
                return;
            }
            id = "tether-" + UUID.randomUUID(); // [MQTT-3.1.3-6] the server assigns one
            assigned = mqtt5;
        }
        if (id.length() > services.mqtt().maxClientIdLength()) {
            refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
            return;
        }
        Optional<ConnectReasonCode> badAuthentication = enhancedAuth.onConnect(props,
                header.hasUserName() ? payload.userName() : null, header.hasPassword());
        if (badAuthentication.isPresent()) {
            refuse(badAuthentication.get()); // e.g. 0x8C for a method other than SCRAM-SHA-256
            return;
        }
        String username = enhancedAuth.inUse() ? enhancedAuth.username()
                : header.hasUserName() ? payload.userName() : null;
        String certificateUser = null;
        if (services.auth().certificateAsUsername()) {
            Optional<X500Principal> subject = connection.transport().clientCertificateSubject();
            if (subject.isPresent()) {
                // The verified certificate names the user; a CONNECT claiming another name (or a certificate naming
                // nobody) is refused rather than silently renamed.
                Optional<String> cn = SubjectNames.commonName(subject.get());
                if (cn.isEmpty() || (username != null && !username.equals(cn.get()))) {
                    refuse(ConnectReasonCode.BAD_USER_NAME_OR_PASSWORD);
                    return;
                }
                certificateUser = cn.get();
                username = certificateUser;
            }
        }
        connection.username(username);
        AclRules rules = services.acl().rules();
        if (rules.usesSubstitution()) {
            // A '+' or '#' substituted for %c / %u would widen the rule's filter (issue 10).
            if (AclRules.isUnsafeIdentity(id)) {
                refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
                return;
            }
            if (AclRules.isUnsafeIdentity(username)) {
                refuse(ConnectReasonCode.NOT_AUTHORIZED);
                return;
            }
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
            MqttProperties wp = mqtt5 ? payload.willProperties() : MqttProperties.NO_PROPERTIES;
            Will will = new Will(payload.willTopic(), payload.willMessageInBytes(), header.willQos(),
                    header.isWillRetain(),
                    NettyPackets.unsignedInt(wp, MqttPropertyType.WILL_DELAY_INTERVAL).orElse(0L),
                    NettyPackets.unsignedInt(wp, MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL).orElse(null),
                    mqtt5 ? NettyPackets.messageProperties(wp) : null);
            connection.will(will);
            if (!TopicNames.isValidTopicName(will.topic())) {
                refuse(ConnectReasonCode.TOPIC_NAME_INVALID);
                return;
            }
            Optional<Limit> broken = services.limits().topics().brokenBy(will.topic());
            if (broken.isPresent()) {
                services.limits().refused(broken.get());
                refuse(ConnectReasonCode.TOPIC_NAME_INVALID); // tether.limits.max-topic-length / -levels
                return;
            }
            if (!rules.mayPublish(username, id, will.topic())) {
                services.acl().countDenied(AclAction.PUBLISH);
                refuse(ConnectReasonCode.NOT_AUTHORIZED); // the will is a publish of this client's
                return;
            }
        }
        if (!mqtt5 && header.hasPassword() && !header.hasUserName()) {
            connection.transport().close(); // [MQTT-3.1.2-22] a protocol violation in 3.1.1: closed without CONNACK
            return;
        }
        Credentials credentials = new Credentials(connection.transport().remoteHost(),
                connection.transport().onLoopbackListener(), username,
                header.hasPassword() ? payload.passwordInBytes() : null);
        connection.connecting(); // packets the client sends while its credentials are checked are held
        String clientId = id;
        boolean assignedId = assigned;
        String loginName = username;
        Runnable accepted = () -> {
            this.username = loginName;
            proceed(clientId, assignedId, cleanStart, props, header.keepAliveTimeSeconds(), requestResponseInformation);
        };
        if (enhancedAuth.inUse()) {
            // SCRAM proves the password even when a certificate named the same user.
            enhancedAuth.begin(outcome -> onAuthenticated(outcome, accepted)); // AUTH packets, then the outcome
            return;
        }
        if (certificateUser != null) {
            connection.onContext(services.auth().authenticateCertificate(certificateUser), login -> {
                if (!connection.isClosed()) {
                    revocable = login.hasRow();
                    onAuthenticated(login.outcome(), accepted);
                }
            }, f -> {
                if (!connection.isClosed()) {
                    refuse(ConnectReasonCode.SERVER_UNAVAILABLE); // fail closed
                }
            });
            return;
        }
        if (username == null && !header.hasPassword()) {
            onAuthenticated(services.auth().anonymous(credentials.loopback()), accepted); // decided at once
            return;
        }
        connection.onContext(services.auth().authenticate(credentials), outcome -> {
            if (!connection.isClosed()) {
                onAuthenticated(outcome, accepted);
            }
        }, f -> {
            if (!connection.isClosed()) {
                refuse(ConnectReasonCode.SERVER_UNAVAILABLE); // fail closed
            }
        });
    }

    /** Goes on with an accepted CONNECT, or refuses it; the reason never tells whether the user exists. */
    private void onAuthenticated(AuthOutcome outcome, Runnable accepted) {
        switch (outcome) {
            case ACCEPTED -> accepted.run();
            case BAD_CREDENTIALS -> refuse(ConnectReasonCode.BAD_USER_NAME_OR_PASSWORD);
            case NOT_AUTHORIZED -> refuse(ConnectReasonCode.NOT_AUTHORIZED);
            case UNAVAILABLE -> refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
        }
    }

    /** The credentials were accepted: the session opens (taking over the connection that held it). */
    private void proceed(String id, boolean assigned, boolean cleanStart, MqttProperties props, int keepAlive,
                         boolean requestResponseInformation) {
        BrokerServices services = connection.services();
        boolean mqtt5 = connection.mqtt5();
        connection.clientId(id);
        ConnectRequest request = new ConnectRequest(connection.version(), id, cleanStart,
                NettyPackets.unsignedInt(props, MqttPropertyType.SESSION_EXPIRY_INTERVAL).map(ExpiryInterval::ofSeconds));
        connection.expiry(SessionRules.grantedExpiry(request, services.policy()));
        connection.connecting();
        Optional<Integer> maxKeepAlive = services.mqtt().maxKeepAlive();
        if (mqtt5 && maxKeepAlive.isPresent() && (keepAlive == 0 || keepAlive > maxKeepAlive.get())) {
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
        Optional<ClientConnection> previous = services.clients().register(id, connection);
        if (previous.isEmpty()) {
            open(request, announceAssigned);
            return;
        }
        services.events().publishAndForget(
                new SessionEvent.SessionTakenOver(id, services.instanceId(), connection.now()));
        CompletableFuture<Void> predecessorSettled = new CompletableFuture<>();
        connection.predecessorSettled(predecessorSettled);
        previous.get().takeOver(cleanStart).whenComplete((v, f) -> connection.context().runOnContext(x -> {
            predecessorSettled.complete(null);
            if (connection.isTakenOver() || connection.hasEnded()) {
                return; // refused meanwhile, or taken over in turn
            }
            open(request, announceAssigned);
            if (connection.isClosed()) {
                // The client left while the old connection settled: its session is closed like any other.
                connection.end();
            }
        }));
    }

    /** The first packet could not be decoded: the CONNECT is refused with the reason the decoder's failure names. */
    void onUndecodableConnect(Throwable cause) {
        if (cause instanceof MqttUnacceptableProtocolVersionException) {
            refuse(ConnectReasonCode.UNSUPPORTED_PROTOCOL_VERSION);
        } else if (cause instanceof MqttIdentifierRejectedException) {
            refuse(ConnectReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
        } else if (cause instanceof TooLongFrameException) {
            refuse(ConnectReasonCode.PACKET_TOO_LARGE);
        } else {
            refuse(ConnectReasonCode.MALFORMED_PACKET);
        }
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
        BrokerServices services = connection.services();
        String id = request.clientId();
        opening = services.events().submit(new SessionEvent.SessionOpening(request,
                Optional.ofNullable(connection.will()), services.instanceId(), connection.connectionId(),
                connection.now(), settled));
        Uni<SessionOpened> opened = SessionEvents.committed(opening);
        if (request.cleanStart() && !connection.expiry().isDurable() && !services.sessions().isDurable(id)
                && !services.cluster().hasPeers()) {
            // Nothing to wait for: a new, non-durable session replacing no durable one; it is written without
            // delaying the client. (Discarding a durable session is acknowledged only once committed.)
            services.sessions().put(id, false);
            discardedSubscriptions = null;
            ConnectDecision decision = SessionRules.onConnect(request, Optional.empty(), connection.now(),
                    services.policy());
            connection.onContext(opened, r -> {
                connection.epoch(r.epoch());
                r.willsToPublish().forEach(w -> wills.publishAndForget(connection.clientId(), w));
            }, f -> LOG.warnf("session %s not recorded: %s", connection.clientId(), f.toString()));
            accept(decision, announceAssigned, keepAliveSeconds, List.of(), List.of());
            return;
        }
        connection.onContext(opened.ifNoItem().after(services.store().connectTimeout()).fail(),
                r -> {
                    if (!connection.isConnecting() || connection.isTakenOver()) {
                        return;
                    }
                    if (r.heldBy().isPresent()) {
                        takeOverElsewhere(request, announceAssigned, r.heldBy().get(), attempt);
                        return;
                    }
                    String clientId = connection.clientId();
                    ConnectDecision d = r.decision();
                    connection.epoch(r.epoch());
                    connection.expiry(d.grantedExpiry());
                    discardedSubscriptions = null;
                    services.sessions().put(clientId, connection.expiry().isDurable());
                    if (d.sessionPresent()) {
                        r.subscriptions().forEach(services.subscriptions()::put);
                    } else {
                        services.subscriptions().removeAll(clientId);
                    }
                    r.willsToPublish().forEach(w -> wills.publishAndForget(clientId, w));
                    inbound.resumeQos2(r.inboundQos2());
                    // Every replica learns that this connection holds the session (and routes to it) before CONNACK.
                    Change.HolderChanged holder = new Change.HolderChanged(clientId, services.instanceId(),
                            connection.epoch(), connection.expiry().isDurable(), !d.sessionPresent());
                    connection.onContext(Uni.createFrom().completionStage(services.cluster().announce(holder)),
                            v -> {
                                if (connection.isConnecting() && !connection.isTakenOver()) {
                                    accept(d, announceAssigned, keepAliveSeconds, r.outbound(), r.subscriptions());
                                }
                            },
                            f -> {
                                LOG.warnf("replicas did not learn of %s's connection: %s", connection.clientId(),
                                        f.toString());
                                if (connection.isConnecting()) {
                                    refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
                                }
                            });
                },
                f -> {
                    LOG.warnf("session %s could not be opened: %s", connection.clientId(), f.toString());
                    if (connection.isConnecting()) {
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
        String clientId = connection.clientId();
        if (attempt >= MAX_OPEN_ATTEMPTS) {
            LOG.warnf("session %s still held elsewhere after %d takeovers", clientId, attempt);
            refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
            return;
        }
        connection.onContext(Uni.createFrom().completionStage(connection.services().cluster().takeOver(
                        holder.instanceId(), clientId, holder.connectionId(), request.cleanStart())),
                v -> {
                    if (connection.isConnecting() && !connection.isTakenOver()) {
                        open(request, announceAssigned, Optional.of(holder.connectionId()), attempt + 1);
                    }
                },
                f -> {
                    LOG.warnf("session %s could not be taken over from replica %s: %s", connection.clientId(),
                            holder.instanceId(), f.toString());
                    if (connection.isConnecting()) {
                        refuse(ConnectReasonCode.SERVER_UNAVAILABLE);
                    }
                });
    }

    private void accept(ConnectDecision d, boolean assigned, int keepAlive, List<StoredOutboundMessage> storedOutbound,
                        List<Subscription> resumed) {
        BrokerServices services = connection.services();
        MqttProperties props = new MqttProperties();
        if (connection.mqtt5()) {
            if (assigned) {
                props.add(new MqttProperties.StringProperty(MqttPropertyType.ASSIGNED_CLIENT_IDENTIFIER.value(),
                        connection.clientId()));
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
            enhancedAuth.addTo(props); // the server-final-message of SCRAM-SHA-256
        }
        MqttConnAckMessage connack = MqttMessageBuilders.connAck()
                .returnCode(MqttConnectReturnCode.CONNECTION_ACCEPTED)
                .sessionPresent(d.sessionPresent())
                .properties(props)
                .build();
        if (username != null && revocable) {
            connection.loggedIn(username); // disconnected (0x98) once the user is disabled
        }
        connection.connected(connack, keepAlive, storedOutbound);
    }

    /** Refuses the CONNECT: CONNACK with the reason (Session Present 0 [MQTT-3.2.2-6]) and close. */
    void refuse(ConnectReasonCode reason) {
        BrokerServices services = connection.services();
        String clientId = connection.clientId();
        MqttProperties props = MqttProperties.NO_PROPERTIES;
        if (connection.mqtt5()) {
            props = new MqttProperties();
            props.add(new MqttProperties.StringProperty(MqttPropertyType.REASON_STRING.value(), reason.description()));
        }
        MqttConnAckMessage connack = MqttMessageBuilders.connAck()
                .returnCode(MqttConnectReturnCode.valueOf((byte) reason.codeFor(connection.version())))
                .sessionPresent(false)
                .properties(props)
                .build();
        if (opening != null && !opening.committed().cancel(false)
                && opening.committed().getNow(null) instanceof SessionOpened committed) {
            // Committed just as the wait ran out: closed like any connection that ended.
            services.events().publishAndForget(new SessionEvent.SessionClosed(clientId, services.instanceId(),
                    connection.connectionId(), connection.now(), committed.decision().grantedExpiry(),
                    Optional.empty()));
        }
        // Otherwise cancelled: PostgreSQL must look as if this CONNECT never came. An opening not yet written is
        // skipped; one whose transaction had already started is closed by the store once it commits (Reconciler).
        if (clientId != null && services.clients().unregister(clientId, connection) && discardedSubscriptions != null) {
            discardedSubscriptions.forEach(services.subscriptions()::put); // Clean Start refused: the old session stays
        }
        discardedSubscriptions = null;
        connection.refused(connack);
    }
}
