package dev.tether.listener;

import dev.tether.auth.acl.AclAction;
import dev.tether.events.HolderFenced;
import dev.tether.events.SessionEvent;
import dev.tether.limits.Limit;
import dev.tether.protocol.DisconnectReasonCode;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.TopicNames;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.smallrye.mutiny.Uni;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * PUBLISH and PUBREL from the client of one {@link MqttConnection}: inbound Topic Aliases, the Packet Identifiers of
 * QoS 2 messages received and not yet released, and the acknowledgements, which go out in the order their packets
 * arrived. Owned by the connection's event loop, like the connection.
 */
final class InboundPublishes {

    /** Logged under the connection's category. */
    private static final Logger LOG = Logger.getLogger(MqttConnection.class);

    /** An acknowledgement waiting for its turn: acks go out in the order their packets arrived [MQTT-4.6.0-2]. */
    private static final class PendingAck {
        final MqttMessageType type;
        final int packetId;
        Integer reasonCode;

        PendingAck(MqttMessageType type, int packetId) {
            this.type = type;
            this.packetId = packetId;
        }
    }

    private final MqttConnection connection;
    // Small initial capacity: most connections never hold anything, and idle memory counts per connection.
    private final ArrayDeque<PendingAck> pendingAcks = new ArrayDeque<>(4);
    /** Packet Identifiers of QoS 2 messages received and not yet released, created on first use. */
    private Set<Integer> inboundQos2;
    /** Inbound topic aliases (index = alias), created on first use. */
    private String[] inboundAliases;

    InboundPublishes(MqttConnection connection) {
        this.connection = connection;
    }

    /** The QoS 2 messages received and not yet released by the session resumed (from PostgreSQL). */
    void resumeQos2(Collection<Integer> packetIds) {
        if (!packetIds.isEmpty()) {
            inboundQos2().addAll(packetIds);
        }
    }

    /** The QoS 2 Packet Identifiers, created on first use: most clients never publish with QoS 2. */
    private Set<Integer> inboundQos2() {
        if (inboundQos2 == null) {
            inboundQos2 = new HashSet<>();
        }
        return inboundQos2;
    }

    private boolean isInboundQos2(int packetId) {
        return inboundQos2 != null && inboundQos2.contains(packetId);
    }

    private boolean releaseInboundQos2(int packetId) {
        return inboundQos2 != null && inboundQos2.remove(packetId);
    }

    void onPublish(MqttPublishMessage p) {
        BrokerServices services = connection.services();
        boolean mqtt5 = connection.mqtt5();
        String topic = p.variableHeader().topicName();
        int qos = p.fixedHeader().qosLevel().value();
        int packetId = p.variableHeader().packetId();
        if (mqtt5) {
            Optional<Long> alias = NettyPackets.unsignedInt(p.variableHeader().properties(), MqttPropertyType.TOPIC_ALIAS);
            if (alias.isPresent()) {
                Optional<String> resolved = resolveTopicAlias(alias.get().intValue(), topic);
                if (resolved.isEmpty()) {
                    return; // disconnected
                }
                topic = resolved.get();
            } else if (topic.isEmpty()) {
                connection.disconnect(DisconnectReasonCode.PROTOCOL_ERROR); // empty topic without alias [MQTT-3.3.2-8]
                return;
            }
        }
        if (!TopicNames.isValidTopicName(topic)) {
            connection.disconnect(DisconnectReasonCode.TOPIC_NAME_INVALID);
            return;
        }
        // Receive Maximum is MQTT 5's (§3.2.2.3.3): a 3.1.1 client was never given one.
        if (mqtt5 && qos > 0 && !(qos == 2 && isInboundQos2(packetId))
                && inboundInFlight() >= services.mqtt().receiveMaximum()) {
            connection.disconnect(DisconnectReasonCode.RECEIVE_MAXIMUM_EXCEEDED); // [MQTT-3.3.4-9]
            return;
        }
        if (qos == 2 && isInboundQos2(packetId)) {
            // Duplicate of a QoS 2 message already received: acknowledge again, deliver once.
            acknowledgeAtOnce(2, packetId, 0);
            return;
        }
        Optional<Limit> broken = services.limits().topics().brokenBy(topic);
        if (broken.isPresent()) {
            // tether.limits.max-topic-length / -levels: 0x90 "the Topic Name is correct, but is not accepted by this
            // Server" (§3.4.2.1): in PUBACK / PUBREC for QoS 1/2, so the connection goes on; QoS 0 has no
            // acknowledgement, hence DISCONNECT 0x90. 3.1.1 has no negative acknowledgement: closed.
            services.limits().refused(broken.get());
            if (qos == 0 || !mqtt5) {
                connection.disconnect(DisconnectReasonCode.TOPIC_NAME_INVALID);
            } else {
                acknowledgeAtOnce(qos, packetId, DisconnectReasonCode.TOPIC_NAME_INVALID.code());
            }
            return;
        }
        if (mqtt5 && !PayloadFormat.isValid(p)) {
            // Payload Format Indicator 1 with a payload that is not UTF-8 (§3.3.2.3.2).
            if (qos == 0) {
                connection.disconnect(DisconnectReasonCode.PAYLOAD_FORMAT_INVALID);
            } else {
                acknowledgeAtOnce(qos, packetId, DisconnectReasonCode.PAYLOAD_FORMAT_INVALID.code());
            }
            return;
        }
        String clientId = connection.clientId();
        if (!services.acl().rules().mayPublish(connection.username(), clientId, topic)) {
            services.acl().countDenied(AclAction.PUBLISH);
            LOG.debugf("publish of %s to %s denied by the access rules", clientId, topic);
            if (qos > 0) {
                // 5.0: 0x87 Not authorized. 3.1.1 has no negative acknowledgement: acknowledged and dropped.
                acknowledgeAtOnce(qos, packetId, mqtt5 ? 0x87 : 0x00);
            }
            return;
        }
        PublishedMessage message = NettyPackets.published(p, topic, clientId, connection.now(), mqtt5);
        if (qos == 0) {
            services.router().route(message).subscribe().with(r -> { }, f -> LOG.debugf("QoS 0 message lost: %s", f));
            return;
        }
        PendingAck ack = new PendingAck(qos == 1 ? MqttMessageType.PUBACK : MqttMessageType.PUBREC, packetId);
        pendingAcks.add(ack);
        Optional<SessionEvent.InboundQos2Received> receipt = Optional.empty();
        if (qos == 2) {
            inboundQos2().add(packetId);
            if (connection.expiry().isDurable()) {
                // Stored with the message's routing, in one transaction: after a failure or a crash the client's
                // resend is either a duplicate of a routed message or a new message, never a lost one.
                receipt = Optional.of(new SessionEvent.InboundQos2Received(clientId, connection.connectionId(), packetId));
            }
        }
        // Routed now, in arrival order whatever the QoS (a retained message is replaced in the order published).
        Uni<Integer> reason = services.router().route(message, receipt)
                .map(r -> connection.mqtt5() && r.matchedSessions() == 0 ? 0x10 : 0x00);
        connection.onContext(reason, code -> {
            ack.reasonCode = code;
            flushAcks();
        }, f -> {
            if (HolderFenced.isCause(f)) {
                // The receipt was refused, and the message not queued: the session is another connection's now.
                releaseInboundQos2(packetId);
                connection.fenced();
                return;
            }
            LOG.warnf("message from %s on %s not stored: %s", connection.clientId(), message.topic(), f.toString());
            if (!connection.mqtt5()) {
                connection.transport().close(); // 3.1.1 has no negative acknowledgement: the client resends after reconnecting.
                return;
            }
            releaseInboundQos2(packetId);
            ack.reasonCode = 0x80;
            flushAcks();
        });
    }

    /** QoS 1/2 messages from the client not yet fully acknowledged (counted against Receive Maximum). */
    private int inboundInFlight() {
        int pubacks = 0;
        for (PendingAck a : pendingAcks) {
            if (a.type == MqttMessageType.PUBACK) {
                pubacks++;
            }
        }
        return pubacks + (inboundQos2 == null ? 0 : inboundQos2.size());
    }

    /**
     * Resolves an inbound Topic Alias (§3.3.2.3.4): a non-empty topic sets the alias, an empty one uses it.
     * Empty when the connection was closed: alias 0 or above the maximum is 0x94, an unknown alias 0x82.
     */
    private Optional<String> resolveTopicAlias(int alias, String topic) {
        int max = connection.services().mqtt().topicAliasMaximum();
        if (alias == 0 || alias > max) {
            connection.disconnect(DisconnectReasonCode.TOPIC_ALIAS_INVALID); // [MQTT-3.3.2-9] [MQTT-3.3.2-10]
            return Optional.empty();
        }
        if (inboundAliases == null) {
            inboundAliases = new String[max + 1];
        }
        if (!topic.isEmpty()) {
            inboundAliases[alias] = topic;
            return Optional.of(topic);
        }
        if (inboundAliases[alias] == null) {
            connection.disconnect(DisconnectReasonCode.PROTOCOL_ERROR);
            return Optional.empty();
        }
        return Optional.of(inboundAliases[alias]);
    }

    void onPubrel(int packetId) {
        boolean known = releaseInboundQos2(packetId);
        PendingAck ack = new PendingAck(MqttMessageType.PUBCOMP, packetId);
        pendingAcks.add(ack);
        Uni<Void> stored = known && connection.expiry().isDurable()
                ? connection.services().events()
                        .publish(new SessionEvent.InboundQos2Released(connection.clientId(), connection.connectionId(),
                                packetId)).replaceWithVoid()
                : Uni.createFrom().voidItem();
        int reason = known || !connection.mqtt5() ? 0x00 : 0x92; // Packet Identifier not found
        connection.onContext(stored, v -> {
            ack.reasonCode = reason;
            flushAcks();
        }, f -> {
            inboundQos2().add(packetId);
            if (HolderFenced.isCause(f)) {
                connection.fenced(); // the session is another connection's now: no PUBCOMP
            } else {
                connection.transport().close();
            }
        });
    }

    /** PUBACK (QoS 1) or PUBREC (QoS 2) with {@code reasonCode} for a message decided on arrival, nothing stored. */
    private void acknowledgeAtOnce(int qos, int packetId, int reasonCode) {
        PendingAck ack = new PendingAck(qos == 1 ? MqttMessageType.PUBACK : MqttMessageType.PUBREC, packetId);
        ack.reasonCode = reasonCode;
        pendingAcks.add(ack);
        flushAcks();
    }

    private void flushAcks() {
        while (!pendingAcks.isEmpty() && pendingAcks.peek().reasonCode != null && connection.isConnected()) {
            PendingAck a = pendingAcks.poll();
            connection.write(NettyPackets.ack(a.type, a.packetId, a.reasonCode, connection.mqtt5()));
        }
    }
}
