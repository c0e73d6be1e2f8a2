package dev.tether.listener;

import dev.tether.auth.acl.AclAction;
import dev.tether.auth.acl.AclRules;
import dev.tether.cluster.Change;
import dev.tether.events.HolderFenced;
import dev.tether.events.SessionEvent;
import dev.tether.limits.Limit;
import dev.tether.protocol.DisconnectReasonCode;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.routing.TopicFilter;
import dev.tether.routing.TopicNames;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessageIdAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttSubAckMessage;
import io.netty.handler.codec.mqtt.MqttSubAckPayload;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttTopicSubscription;
import io.netty.handler.codec.mqtt.MqttUnsubAckMessage;
import io.netty.handler.codec.mqtt.MqttUnsubAckPayload;
import io.netty.handler.codec.mqtt.MqttUnsubscribeMessage;
import io.smallrye.mutiny.Uni;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * SUBSCRIBE and UNSUBSCRIBE from the client of one {@link MqttConnection}, and the retained messages a new
 * subscription gets. Holds no state of its own; owned by the connection's event loop, like the connection.
 */
final class SubscribeHandler {

    /** Logged under the connection's category. */
    private static final Logger LOG = Logger.getLogger(MqttConnection.class);

    private final MqttConnection connection;
    private final OutboundDelivery outbound;

    SubscribeHandler(MqttConnection connection, OutboundDelivery outbound) {
        this.connection = connection;
        this.outbound = outbound;
    }

    void onSubscribe(MqttSubscribeMessage m) {
        BrokerServices services = connection.services();
        String clientId = connection.clientId();
        boolean mqtt5 = connection.mqtt5();
        MqttMessageIdAndPropertiesVariableHeader h = m.idAndPropertiesVariableHeader();
        int packetId = h.messageId();
        int subscriptionId = mqtt5
                ? NettyPackets.unsignedInt(h.properties(), MqttPropertyType.SUBSCRIPTION_IDENTIFIER).orElse(0L).intValue()
                : 0;
        for (MqttTopicSubscription t : m.payload().topicSubscriptions()) {
            if (mqtt5 && t.option().isNoLocal() && TopicNames.isShared(t.topicName())) {
                connection.disconnect(DisconnectReasonCode.PROTOCOL_ERROR); // [MQTT-3.8.3-4] No Local on a shared subscription
                return;
            }
        }
        List<Integer> codes = new ArrayList<>();
        List<Subscription> accepted = new ArrayList<>();
        List<Boolean> isNew = new ArrayList<>();
        for (MqttTopicSubscription t : m.payload().topicSubscriptions()) {
            String filter = t.topicName();
            var option = t.option();
            Optional<Limit> broken = Optional.empty();
            if (!TopicNames.isValidTopicFilter(filter)) {
                codes.add(mqtt5 ? 0x8F : 0x80); // Topic Filter invalid
            } else if ((broken = services.limits().topics().brokenBy(filter)).isPresent()) {
                services.limits().refused(broken.get());
                codes.add(mqtt5 ? 0x8F : 0x80); // Topic Filter invalid: tether.limits.max-topic-length / -levels
            } else if (!services.acl().rules().maySubscribe(connection.username(), clientId, filter)) {
                services.acl().countDenied(AclAction.SUBSCRIBE);
                codes.add(mqtt5 ? 0x87 : 0x80); // Not authorized (mqtt_acl)
            } else if (!services.subscriptions().has(clientId, filter)
                    && services.subscriptions().countOf(clientId) >= services.limits().maxSubscriptionsPerSession()) {
                // A new filter beyond tether.limits.max-subscriptions-per-session (a resumed session's count too);
                // one the session has is replaced, as [MQTT-3.8.4-3], and takes no more room.
                services.limits().refused(Limit.MAX_SUBSCRIPTIONS);
                codes.add(mqtt5 ? 0x97 : 0x80); // Quota exceeded
            } else {
                int qos = option.qos().value();
                Subscription s = new Subscription(clientId, filter, qos, mqtt5 && option.isNoLocal(),
                        mqtt5 && option.isRetainAsPublished(), mqtt5 ? option.retainHandling().value() : 0,
                        subscriptionId);
                isNew.add(services.subscriptions().put(s).isEmpty());
                accepted.add(s);
                codes.add(qos);
            }
        }
        Uni<Object> stored = accepted.isEmpty() ? Uni.createFrom().nullItem()
                : services.events().publish(new SessionEvent.Subscribed(clientId, connection.connectionId(), accepted));
        // With other replicas, the subscriptions are committed first (a replica starting now loads them), then every
        // live replica applies them, and only then SUBACK: a PUBLISH that reaches any replica after SUBACK matches.
        boolean clustered = services.cluster().hasPeers();
        Uni<Object> waitFor = connection.expiry().isDurable() || clustered ? stored : whenFenced(stored);
        if (!accepted.isEmpty()) {
            Change.Subscribed change = new Change.Subscribed(clientId, connection.epoch(), connection.expiry().isDurable(),
                    accepted);
            waitFor = waitFor.chain(v -> Uni.createFrom().completionStage(services.cluster().announce(change)))
                    .replaceWith((Object) null);
        }
        connection.onContext(waitFor, v -> {
            connection.write(new MqttSubAckMessage(
                    new MqttFixedHeader(MqttMessageType.SUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                    MqttMessageIdAndPropertiesVariableHeader.from(packetId),
                    new MqttSubAckPayload(codes.stream().mapToInt(Integer::intValue).toArray())));
            for (int i = 0; i < accepted.size(); i++) {
                sendRetained(accepted.get(i), isNew.get(i));
            }
        }, f -> {
            accepted.forEach(s -> services.subscriptions().remove(clientId, s.topicFilter()));
            if (HolderFenced.isCause(f)) {
                connection.fenced(); // the session is another connection's now: no SUBACK
                return;
            }
            LOG.warnf("subscription of %s not stored: %s", clientId, f.toString());
            connection.write(new MqttSubAckMessage(
                    new MqttFixedHeader(MqttMessageType.SUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                    MqttMessageIdAndPropertiesVariableHeader.from(packetId),
                    new MqttSubAckPayload(codes.stream().mapToInt(c -> 0x80).toArray())));
        });
    }

    /**
     * Retained messages for a new subscription, by its Retain Handling option (§3.3.1.3). Only a new
     * Non-shared Subscription gets them (§3.3.1.3, §4.8.2): none for {@code $share/...}.
     */
    private void sendRetained(Subscription s, boolean isNew) {
        if (s.isShared() || s.retainHandling() == 2 || (s.retainHandling() == 1 && !isNew)) {
            return;
        }
        AclRules rules = connection.services().acl().rules();
        for (PublishedMessage r : connection.services().retained().matching(new TopicFilter(s.topicFilter()), connection.now())) {
            if (!rules.maySubscribe(connection.username(), connection.clientId(), r.topic())) {
                continue; // a topic the filter's rule allows but a narrower rule denies
            }
            int qos = Math.min(r.qos(), s.qos());
            List<Integer> ids = s.subscriptionIdentifier() == 0 ? List.of() : List.of(s.subscriptionIdentifier());
            outbound.sendOrHold(r.withRetain(true), qos, ids, 0); // [MQTT-3.3.1-9] retain flag set
        }
    }

    void onUnsubscribe(MqttUnsubscribeMessage m) {
        BrokerServices services = connection.services();
        String clientId = connection.clientId();
        int packetId = m.idAndPropertiesVariableHeader().messageId();
        List<Short> codes = new ArrayList<>();
        List<String> removed = new ArrayList<>();
        for (String filter : m.payload().topics()) {
            boolean existed = services.subscriptions().remove(clientId, filter);
            if (existed) {
                removed.add(filter);
            }
            codes.add((short) (existed ? 0x00 : 0x11));
        }
        connection.onContext(removedEverywhere(removed), v -> connection.write(new MqttUnsubAckMessage(
                        new MqttFixedHeader(MqttMessageType.UNSUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                        MqttMessageIdAndPropertiesVariableHeader.from(packetId),
                        connection.mqtt5() ? new MqttUnsubAckPayload(codes) : new MqttUnsubAckPayload())),
                f -> {
                    if (HolderFenced.isCause(f)) {
                        connection.fenced();
                    } else {
                        connection.transport().close();
                    }
                });
    }

    /**
     * Removes from the session the subscriptions that {@code rules} deny now (a rule changed while the client was
     * connected, or its resumed session holds them), as if the client had unsubscribed, without UNSUBACK: they stop
     * receiving on every replica, and the client gets SUBACK 0x87 if it subscribes again.
     */
    void revokeDenied(AclRules rules) {
        if (rules.isEmpty() || !connection.isConnected()) {
            return;
        }
        BrokerServices services = connection.services();
        String clientId = connection.clientId();
        List<String> revoked = new ArrayList<>();
        for (Subscription s : services.subscriptions().subscriptionsOf(clientId)) {
            if (!rules.maySubscribe(connection.username(), clientId, s.topicFilter())
                    && services.subscriptions().remove(clientId, s.topicFilter())) {
                revoked.add(s.topicFilter());
            }
        }
        if (revoked.isEmpty()) {
            return;
        }
        services.acl().countRevoked(revoked.size());
        LOG.infof("subscriptions of %s revoked by the access rules: %s", clientId, revoked);
        connection.onContext(removedEverywhere(revoked), v -> { }, f -> {
            if (HolderFenced.isCause(f)) {
                connection.fenced();
            } else {
                LOG.warnf("revoked subscriptions of %s not stored: %s", clientId, f.toString());
                connection.transport().close();
            }
        });
    }

    /**
     * Stores the removal of {@code removed} (already out of this replica's index) and has every live replica apply
     * it [MQTT-3.10.4-2]: once the {@link Uni} completes, no new message for these filters, from any replica.
     */
    private Uni<Object> removedEverywhere(List<String> removed) {
        BrokerServices services = connection.services();
        String clientId = connection.clientId();
        Uni<Object> stored = removed.isEmpty() ? Uni.createFrom().nullItem()
                : services.events().publish(new SessionEvent.Unsubscribed(clientId, connection.connectionId(), removed));
        boolean clustered = services.cluster().hasPeers();
        Uni<Object> waitFor = connection.expiry().isDurable() || clustered ? stored : whenFenced(stored);
        if (!removed.isEmpty()) {
            Change.Unsubscribed change = new Change.Unsubscribed(clientId, connection.epoch(), removed);
            waitFor = waitFor.chain(v -> Uni.createFrom().completionStage(services.cluster().announce(change)))
                    .replaceWith((Object) null);
        }
        return waitFor;
    }

    /**
     * A session that is not durable acknowledges at once, without waiting for the write; if PostgreSQL refuses it
     * later (the session is another connection's), the connection still closes.
     */
    private Uni<Object> whenFenced(Uni<Object> stored) {
        stored.subscribe().with(v -> { }, f -> {
            if (HolderFenced.isCause(f)) {
                connection.fenced();
            }
        });
        return Uni.createFrom().nullItem();
    }
}
