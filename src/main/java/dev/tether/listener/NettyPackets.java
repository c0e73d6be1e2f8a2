package dev.tether.listener;

import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.PublishedMessage;
import dev.tether.protocol.UserProperty;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageIdVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPubReplyMessageVariableHeader;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttPublishVariableHeader;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Conversions between Netty's MQTT messages and Tether's protocol values. */
final class NettyPackets {

    private NettyPackets() {
    }

    static Optional<Long> unsignedInt(MqttProperties props, MqttPropertyType type) {
        if (props == null) {
            return Optional.empty();
        }
        MqttProperties.MqttProperty<?> p = props.getProperty(type.value());
        if (p == null || p.value() == null) {
            return Optional.empty();
        }
        return Optional.of(Integer.toUnsignedLong((Integer) p.value()));
    }

    static Optional<String> string(MqttProperties props, MqttPropertyType type) {
        MqttProperties.MqttProperty<?> p = props == null ? null : props.getProperty(type.value());
        return p == null ? Optional.empty() : Optional.ofNullable((String) p.value());
    }

    static MessageProperties messageProperties(MqttProperties props) {
        if (props == null || props.isEmpty()) {
            return MessageProperties.NONE;
        }
        Integer pfi = unsignedInt(props, MqttPropertyType.PAYLOAD_FORMAT_INDICATOR).map(Long::intValue).orElse(null);
        MqttProperties.MqttProperty<?> corr = props.getProperty(MqttPropertyType.CORRELATION_DATA.value());
        List<UserProperty> user = new ArrayList<>();
        for (MqttProperties.MqttProperty<?> p : props.getProperties(MqttPropertyType.USER_PROPERTY.value())) {
            if (p instanceof MqttProperties.UserProperty up) {
                user.add(new UserProperty(up.value().key, up.value().value));
            } else if (p instanceof MqttProperties.UserProperties ups) {
                ups.value().forEach(sp -> user.add(new UserProperty(sp.key, sp.value)));
            }
        }
        return new MessageProperties(pfi, string(props, MqttPropertyType.CONTENT_TYPE).orElse(null),
                string(props, MqttPropertyType.RESPONSE_TOPIC).orElse(null),
                corr == null ? null : (byte[]) corr.value(), user);
    }

    static MqttProperties toNetty(MessageProperties p) {
        MqttProperties props = new MqttProperties();
        if (p.payloadFormatIndicator() != null) {
            props.add(new MqttProperties.IntegerProperty(MqttPropertyType.PAYLOAD_FORMAT_INDICATOR.value(),
                    p.payloadFormatIndicator()));
        }
        if (p.contentType() != null) {
            props.add(new MqttProperties.StringProperty(MqttPropertyType.CONTENT_TYPE.value(), p.contentType()));
        }
        if (p.responseTopic() != null) {
            props.add(new MqttProperties.StringProperty(MqttPropertyType.RESPONSE_TOPIC.value(), p.responseTopic()));
        }
        if (p.correlationData() != null) {
            props.add(new MqttProperties.BinaryProperty(MqttPropertyType.CORRELATION_DATA.value(), p.correlationData()));
        }
        for (UserProperty u : p.userProperties()) {
            props.add(new MqttProperties.UserProperty(u.key(), u.value()));
        }
        return props;
    }

    static byte[] bytes(ByteBuf buf) {
        return ByteBufUtil.getBytes(buf);
    }

    /** A PUBLISH from a client as a protocol-neutral message. */
    static PublishedMessage published(MqttPublishMessage m, String topic, String clientId, Instant now, boolean mqtt5) {
        MqttProperties props = mqtt5 ? m.variableHeader().properties() : null;
        Instant expiresAt = unsignedInt(props, MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL)
                .map(now::plusSeconds).orElse(null);
        if (mqtt5 && props.getProperty(MqttPropertyType.TOPIC_ALIAS.value()) != null) {
            MqttProperties withoutAlias = new MqttProperties();
            props.listAll().stream().filter(x -> x.propertyId() != MqttPropertyType.TOPIC_ALIAS.value())
                    .forEach(withoutAlias::add);
            props = withoutAlias;
        }
        return new PublishedMessage(topic, bytes(m.payload()),
                m.fixedHeader().qosLevel().value(), m.fixedHeader().isRetain(),
                mqtt5 ? messageProperties(props) : MessageProperties.NONE, expiresAt, clientId);
    }

    static MqttPublishMessage publish(PublishedMessage m, int qos, int packetId, boolean dup,
                                      List<Integer> subscriptionIds, Instant now, boolean mqtt5) {
        MqttProperties props = mqtt5 ? toNetty(m.properties()) : MqttProperties.NO_PROPERTIES;
        if (mqtt5) {
            m.remainingExpirySeconds(now).ifPresent(s -> props.add(new MqttProperties.IntegerProperty(
                    MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL.value(), (int) (long) s)));
            for (Integer id : subscriptionIds) {
                props.add(new MqttProperties.IntegerProperty(MqttPropertyType.SUBSCRIPTION_IDENTIFIER.value(), id));
            }
        }
        MqttFixedHeader fixed = new MqttFixedHeader(MqttMessageType.PUBLISH, dup, MqttQoS.valueOf(qos), m.retain(), 0);
        return new MqttPublishMessage(fixed, new MqttPublishVariableHeader(m.topic(), qos == 0 ? -1 : packetId, props),
                Unpooled.wrappedBuffer(m.payload()));
    }

    static MqttMessage ack(MqttMessageType type, int packetId, int reasonCode, boolean mqtt5) {
        MqttQoS qos = type == MqttMessageType.PUBREL ? MqttQoS.AT_LEAST_ONCE : MqttQoS.AT_MOST_ONCE;
        MqttFixedHeader fixed = new MqttFixedHeader(type, false, qos, false, 0);
        Object header = mqtt5 ? new MqttPubReplyMessageVariableHeader(packetId, (byte) reasonCode, MqttProperties.NO_PROPERTIES)
                : MqttMessageIdVariableHeader.from(packetId);
        return new MqttMessage(fixed, header);
    }

    static MqttMessage disconnect(int reasonCode, String reasonString) {
        MqttProperties props = new MqttProperties();
        if (reasonString != null) {
            props.add(new MqttProperties.StringProperty(MqttPropertyType.REASON_STRING.value(), reasonString));
        }
        return new MqttMessage(new MqttFixedHeader(MqttMessageType.DISCONNECT, false, MqttQoS.AT_MOST_ONCE, false, 0),
                new MqttReasonCodeAndPropertiesVariableHeader((byte) reasonCode, props));
    }

    /** The same PUBLISH with a Topic Alias; the topic itself is left out once the client knows the alias. */
    static MqttPublishMessage withTopicAlias(MqttPublishMessage p, int alias, boolean known) {
        MqttProperties props = new MqttProperties();
        p.variableHeader().properties().listAll().forEach(props::add);
        props.add(new MqttProperties.IntegerProperty(MqttPropertyType.TOPIC_ALIAS.value(), alias));
        String topic = known ? "" : p.variableHeader().topicName();
        return new MqttPublishMessage(p.fixedHeader(),
                new MqttPublishVariableHeader(topic, p.variableHeader().packetId(), props), p.payload());
    }

    /** The encoded size of the PUBLISH Tether would send, to compare with the client's Maximum Packet Size. */
    static long publishSize(PublishedMessage m, int qos, List<Integer> subscriptionIds, Instant now, boolean mqtt5) {
        return publishSize(m, qos, subscriptionIds, now, mqtt5, false);
    }

    /** As above, with a Topic Alias property (3 bytes) added when {@code withAlias}. */
    static long publishSize(PublishedMessage m, int qos, List<Integer> subscriptionIds, Instant now, boolean mqtt5,
                            boolean withAlias) {
        long body = 2L + utf8Length(m.topic()) + (qos > 0 ? 2 : 0) + m.payloadSize();
        if (mqtt5) {
            MessageProperties p = m.properties();
            long props = 0;
            if (p.payloadFormatIndicator() != null) {
                props += 2;
            }
            if (m.expiresAt() != null) {
                props += 5;
            }
            if (p.contentType() != null) {
                props += 3 + utf8Length(p.contentType());
            }
            if (p.responseTopic() != null) {
                props += 3 + utf8Length(p.responseTopic());
            }
            if (p.correlationData() != null) {
                props += 3 + p.correlationData().length;
            }
            for (UserProperty u : p.userProperties()) {
                props += 5 + utf8Length(u.key()) + utf8Length(u.value());
            }
            for (Integer id : subscriptionIds) {
                props += 1 + varIntLength(id);
            }
            if (withAlias) {
                props += 3;
            }
            body += varIntLength(props) + props;
        }
        return 1 + varIntLength(body) + body;
    }

    private static int varIntLength(long n) {
        return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Reason code of a PUBACK/PUBREC/PUBREL/PUBCOMP; 0 when absent. */
    static int reasonCode(MqttMessage m) {
        return m.variableHeader() instanceof MqttPubReplyMessageVariableHeader h ? h.reasonCode() & 0xFF : 0;
    }

    static int packetId(MqttMessage m) {
        Object h = m.variableHeader();
        return h instanceof MqttMessageIdVariableHeader id ? id.messageId() : 0;
    }
}
