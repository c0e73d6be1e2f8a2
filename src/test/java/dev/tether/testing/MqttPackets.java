package dev.tether.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Byte-exact builders for MQTT 3.1.1 (protocol level 4) and MQTT 5.0 (protocol level 5) control packets.
 *
 * <p>Builders encode exactly what they are told and validate only what is needed to produce bytes at all, so tests can
 * send packets a client library would refuse to (QoS 3, duplicated properties, reserved flags, ...). Section numbers
 * ("§x.y") refer to the MQTT 5.0 OASIS standard unless marked 3.1.1.
 *
 * <p>"Raw properties" parameters are the concatenated property bytes <em>without</em> the Property Length prefix
 * (build them with {@link #property(int, Object)} and friends); builders add the prefix. {@code null} means none.
 */
public final class MqttPackets {

    /** Protocol level (§3.1.2.2) of MQTT 3.1.1. */
    public static final int MQTT_3_1_1 = 4;
    /** Protocol level (§3.1.2.2) of MQTT 5.0. */
    public static final int MQTT_5 = 5;

    // Control packet types, §2.1.2.
    public static final int CONNECT = 1;
    public static final int CONNACK = 2;
    public static final int PUBLISH = 3;
    public static final int PUBACK = 4;
    public static final int PUBREC = 5;
    public static final int PUBREL = 6;
    public static final int PUBCOMP = 7;
    public static final int SUBSCRIBE = 8;
    public static final int SUBACK = 9;
    public static final int UNSUBSCRIBE = 10;
    public static final int UNSUBACK = 11;
    public static final int PINGREQ = 12;
    public static final int PINGRESP = 13;
    public static final int DISCONNECT = 14;
    public static final int AUTH = 15;

    // Property identifiers, §2.2.2.2.
    public static final int PAYLOAD_FORMAT_INDICATOR = 0x01;
    public static final int MESSAGE_EXPIRY_INTERVAL = 0x02;
    public static final int CONTENT_TYPE = 0x03;
    public static final int RESPONSE_TOPIC = 0x08;
    public static final int CORRELATION_DATA = 0x09;
    public static final int SUBSCRIPTION_IDENTIFIER = 0x0B;
    public static final int SESSION_EXPIRY_INTERVAL = 0x11;
    public static final int ASSIGNED_CLIENT_IDENTIFIER = 0x12;
    public static final int SERVER_KEEP_ALIVE = 0x13;
    public static final int AUTHENTICATION_METHOD = 0x15;
    public static final int AUTHENTICATION_DATA = 0x16;
    public static final int REQUEST_PROBLEM_INFORMATION = 0x17;
    public static final int WILL_DELAY_INTERVAL = 0x18;
    public static final int REQUEST_RESPONSE_INFORMATION = 0x19;
    public static final int RESPONSE_INFORMATION = 0x1A;
    public static final int SERVER_REFERENCE = 0x1C;
    public static final int REASON_STRING = 0x1F;
    public static final int RECEIVE_MAXIMUM = 0x21;
    public static final int TOPIC_ALIAS_MAXIMUM = 0x22;
    public static final int TOPIC_ALIAS = 0x23;
    public static final int MAXIMUM_QOS = 0x24;
    public static final int RETAIN_AVAILABLE = 0x25;
    public static final int USER_PROPERTY = 0x26;
    public static final int MAXIMUM_PACKET_SIZE = 0x27;
    public static final int WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28;
    public static final int SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29;
    public static final int SHARED_SUBSCRIPTION_AVAILABLE = 0x2A;

    // Subscription Options bits, §3.8.3.1 (bits 0-1 are the maximum QoS).
    public static final int SUB_NO_LOCAL = 0x04;
    public static final int SUB_RETAIN_AS_PUBLISHED = 0x08;
    /** Retain Handling 1: send retained messages only if the subscription is new. */
    public static final int SUB_RETAIN_HANDLING_IF_NEW = 0x10;
    /** Retain Handling 2: do not send retained messages. */
    public static final int SUB_RETAIN_HANDLING_NEVER = 0x20;

    /** Largest value a Variable Byte Integer can hold, §1.5.5. */
    public static final int VARIABLE_BYTE_INTEGER_MAX = 268_435_455;

    /** Wire encoding of a property value, §2.2.2.2. */
    public enum PropertyType { BYTE, TWO_BYTE_INTEGER, FOUR_BYTE_INTEGER, VARIABLE_BYTE_INTEGER, UTF8_STRING, BINARY, UTF8_STRING_PAIR }

    private MqttPackets() {
    }

    /** A CONNECT builder (§3.1) with protocol level 5, clean start, keep alive 60 and the given client id. */
    public static ConnectBuilder connect(String clientId) {
        return new ConnectBuilder().clientId(clientId);
    }

    /** A CONNECT builder (§3.1) with the given protocol level and client id, clean start, keep alive 60. */
    public static ConnectBuilder connect(int protocolLevel, String clientId) {
        return new ConnectBuilder().protocolLevel(protocolLevel).clientId(clientId);
    }

    /** SUBSCRIBE (§3.8) with one topic filter; {@code options} is the Subscription Options byte (QoS | SUB_* bits). */
    public static byte[] subscribe(int packetId, String filter, int options, int protocolLevel, Integer subscriptionIdentifier) {
        byte[] props = subscriptionIdentifier == null ? null : property(SUBSCRIPTION_IDENTIFIER, subscriptionIdentifier);
        return subscribe(packetId, protocolLevel, props, new Subscription(filter, options));
    }

    /** SUBSCRIBE (§3.8) with several topic filters and raw properties (ignored for level 4). */
    public static byte[] subscribe(int packetId, int protocolLevel, byte[] rawProperties, Subscription... subscriptions) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(uint16(packetId));
        if (protocolLevel >= MQTT_5) {
            body.writeBytes(propertiesBlock(rawProperties));
        }
        for (Subscription s : subscriptions) {
            body.writeBytes(utf8(s.filter()));
            body.write(s.options());
        }
        return packet(SUBSCRIBE, 0b0010, body.toByteArray()); // reserved flags 0010, §3.8.1
    }

    /** One topic filter plus its Subscription Options byte (§3.8.3.1). */
    public record Subscription(String filter, int options) {
    }

    /** UNSUBSCRIBE (§3.10) for the given filters. */
    public static byte[] unsubscribe(int packetId, int protocolLevel, String... filters) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(uint16(packetId));
        if (protocolLevel >= MQTT_5) {
            body.writeBytes(propertiesBlock(null));
        }
        for (String f : filters) {
            body.writeBytes(utf8(f));
        }
        return packet(UNSUBSCRIBE, 0b0010, body.toByteArray()); // reserved flags 0010, §3.10.1
    }

    /**
     * PUBLISH (§3.3). The Packet Identifier is written only when {@code qos > 0}; {@code qos} is not range-checked
     * (3 gives a malformed packet, §3.3.1.2). {@code rawProperties} is ignored for level 4.
     */
    public static byte[] publish(int protocolLevel, String topic, int qos, boolean retain, boolean dup, int packetId,
                                 byte[] payload, byte[] rawProperties) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(utf8(topic));
        if (qos > 0) {
            body.writeBytes(uint16(packetId));
        }
        if (protocolLevel >= MQTT_5) {
            body.writeBytes(propertiesBlock(rawProperties));
        }
        body.writeBytes(payload == null ? new byte[0] : payload);
        int flags = (dup ? 0b1000 : 0) | ((qos & 0b11) << 1) | (retain ? 1 : 0);
        return packet(PUBLISH, flags, body.toByteArray());
    }

    /** PUBLISH (§3.3) without retain, dup or properties. */
    public static byte[] publish(int protocolLevel, String topic, int qos, int packetId, byte[] payload) {
        return publish(protocolLevel, topic, qos, false, false, packetId, payload, null);
    }

    /** PUBACK (§3.4). Level 5 with reason code 0 uses the short form without reason code (§3.4.2.1). */
    public static byte[] puback(int packetId, int protocolLevel, int reasonCode) {
        return publishAck(PUBACK, 0, packetId, protocolLevel, reasonCode, null);
    }

    /** PUBREC (§3.5), short form for reason code 0 like {@link #puback}. */
    public static byte[] pubrec(int packetId, int protocolLevel, int reasonCode) {
        return publishAck(PUBREC, 0, packetId, protocolLevel, reasonCode, null);
    }

    /** PUBREL (§3.6, fixed header flags 0010), short form for reason code 0 like {@link #puback}. */
    public static byte[] pubrel(int packetId, int protocolLevel, int reasonCode) {
        return publishAck(PUBREL, 0b0010, packetId, protocolLevel, reasonCode, null);
    }

    /** PUBCOMP (§3.7), short form for reason code 0 like {@link #puback}. */
    public static byte[] pubcomp(int packetId, int protocolLevel, int reasonCode) {
        return publishAck(PUBCOMP, 0, packetId, protocolLevel, reasonCode, null);
    }

    /**
     * PUBACK/PUBREC/PUBREL/PUBCOMP (§3.4-§3.7) of the given type. Level 4 is always the 2-byte form. Level 5 writes
     * the reason code when it is non-zero or {@code rawProperties} is non-null, and the property block when
     * {@code rawProperties} is non-null.
     */
    public static byte[] publishAck(int type, int flags, int packetId, int protocolLevel, int reasonCode, byte[] rawProperties) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(uint16(packetId));
        if (protocolLevel >= MQTT_5 && (reasonCode != 0 || rawProperties != null)) {
            body.write(reasonCode);
            if (rawProperties != null) {
                body.writeBytes(propertiesBlock(rawProperties));
            }
        }
        return packet(type, flags, body.toByteArray());
    }

    /** PINGREQ (§3.12). */
    public static byte[] pingreq() {
        return packet(PINGREQ, 0, new byte[0]);
    }

    /**
     * DISCONNECT (§3.14). Level 5 with reason 0 and no session expiry is the 2-byte form (§3.14.2.1); otherwise the
     * reason code and, when {@code sessionExpiry} is set, a Session Expiry Interval property (§3.14.2.2.2) follow.
     * Level 4 has no variable header: use {@link #packet} to send a non-empty 3.1.1 DISCONNECT.
     */
    public static byte[] disconnect(int protocolLevel, int reasonCode, Long sessionExpiry) {
        if (protocolLevel < MQTT_5) {
            if (reasonCode != 0 || sessionExpiry != null) {
                throw new IllegalArgumentException("MQTT 3.1.1 DISCONNECT has no reason code or properties; use packet(...)");
            }
            return packet(DISCONNECT, 0, new byte[0]);
        }
        if (reasonCode == 0 && sessionExpiry == null) {
            return packet(DISCONNECT, 0, new byte[0]);
        }
        byte[] props = sessionExpiry == null ? null : property(SESSION_EXPIRY_INTERVAL, sessionExpiry);
        return disconnect(reasonCode, props);
    }

    /** MQTT 5 DISCONNECT (§3.14) with a reason code and raw properties. */
    public static byte[] disconnect(int reasonCode, byte[] rawProperties) {
        return packet(DISCONNECT, 0, concat(new byte[]{(byte) reasonCode}, propertiesBlock(rawProperties)));
    }

    /**
     * AUTH (§3.15): the reason code (0x00 Success, 0x18 Continue authentication, 0x19 Re-authenticate) and raw
     * properties, e.g. Authentication Method and Authentication Data (see {@link #authProperties}).
     */
    public static byte[] auth(int reasonCode, byte[] rawProperties) {
        return packet(AUTH, 0, concat(new byte[]{(byte) reasonCode}, propertiesBlock(rawProperties)));
    }

    /** Authentication Method (§3.1.2.11.9) and, unless {@code null}, Authentication Data (§3.1.2.11.10) properties. */
    public static byte[] authProperties(String method, byte[] data) {
        return concat(property(AUTHENTICATION_METHOD, method), data == null ? null : property(AUTHENTICATION_DATA, data));
    }

    /** Any control packet: fixed header (§2.1.1) with type, the 4 flag bits as given, and the correct Remaining Length. */
    public static byte[] packet(int type, int flags, byte[] body) {
        return concat(new byte[]{(byte) ((type << 4) | (flags & 0x0F))}, variableByteInteger(body.length), body);
    }

    /** Concatenation of the arrays in order; {@code null} elements are skipped. */
    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            if (part != null) {
                out.writeBytes(part);
            }
        }
        return out.toByteArray();
    }

    // ---- Data representation helpers, §1.5 ----

    /** Variable Byte Integer (§1.5.5), 1-4 bytes, for 0..268,435,455. */
    public static byte[] variableByteInteger(int value) {
        if (value < 0 || value > VARIABLE_BYTE_INTEGER_MAX) {
            throw new IllegalArgumentException("Variable Byte Integer out of range: " + value);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(4);
        do {
            int digit = value % 128;
            value /= 128;
            out.write(value > 0 ? digit | 0x80 : digit);
        } while (value > 0);
        return out.toByteArray();
    }

    /** A decoded Variable Byte Integer and how many bytes it took. */
    public record DecodedVarInt(int value, int byteCount) {
    }

    /**
     * Decodes a Variable Byte Integer (§1.5.5) at {@code offset}. Returns {@code null} if {@code buf} ends (at
     * {@code limit}) before the integer does; throws if it is longer than 4 bytes.
     */
    public static DecodedVarInt decodeVariableByteInteger(byte[] buf, int offset, int limit) {
        int value = 0;
        int multiplier = 1;
        for (int i = 0; i < 4; i++) {
            if (offset + i >= limit) {
                return null;
            }
            int b = buf[offset + i] & 0xFF;
            value += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0) {
                return new DecodedVarInt(value, i + 1);
            }
            multiplier *= 128;
        }
        throw new IllegalArgumentException("malformed Variable Byte Integer (more than 4 bytes) at offset " + offset);
    }

    /** Decodes a complete Variable Byte Integer at {@code offset}, throwing if it is truncated. */
    public static DecodedVarInt decodeVariableByteInteger(byte[] buf, int offset) {
        DecodedVarInt v = decodeVariableByteInteger(buf, offset, buf.length);
        if (v == null) {
            throw new IllegalArgumentException("truncated Variable Byte Integer at offset " + offset);
        }
        return v;
    }

    /** Two Byte Integer, big-endian (§1.5.2). */
    public static byte[] uint16(int value) {
        return new byte[]{(byte) (value >>> 8), (byte) value};
    }

    /** Four Byte Integer, big-endian (§1.5.3). */
    public static byte[] uint32(long value) {
        return new byte[]{(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    }

    /** UTF-8 Encoded String (§1.5.4): two-byte length then the bytes. */
    public static byte[] utf8(String s) {
        return binary(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Binary Data (§1.5.6): two-byte length then the bytes. */
    public static byte[] binary(byte[] data) {
        return concat(uint16(data.length), data);
    }

    // ---- Properties, §2.2.2 ----

    /** The wire type of a known property identifier (§2.2.2.2); throws for unknown identifiers. */
    public static PropertyType propertyType(int id) {
        return switch (id) {
            case PAYLOAD_FORMAT_INDICATOR, REQUEST_PROBLEM_INFORMATION, REQUEST_RESPONSE_INFORMATION, MAXIMUM_QOS,
                    RETAIN_AVAILABLE, WILDCARD_SUBSCRIPTION_AVAILABLE, SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                    SHARED_SUBSCRIPTION_AVAILABLE -> PropertyType.BYTE;
            case SERVER_KEEP_ALIVE, RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS -> PropertyType.TWO_BYTE_INTEGER;
            case MESSAGE_EXPIRY_INTERVAL, SESSION_EXPIRY_INTERVAL, WILL_DELAY_INTERVAL, MAXIMUM_PACKET_SIZE ->
                    PropertyType.FOUR_BYTE_INTEGER;
            case SUBSCRIPTION_IDENTIFIER -> PropertyType.VARIABLE_BYTE_INTEGER;
            case CONTENT_TYPE, RESPONSE_TOPIC, ASSIGNED_CLIENT_IDENTIFIER, AUTHENTICATION_METHOD, RESPONSE_INFORMATION,
                    SERVER_REFERENCE, REASON_STRING -> PropertyType.UTF8_STRING;
            case CORRELATION_DATA, AUTHENTICATION_DATA -> PropertyType.BINARY;
            case USER_PROPERTY -> PropertyType.UTF8_STRING_PAIR;
            default -> throw new IllegalArgumentException("unknown MQTT 5 property identifier 0x" + Integer.toHexString(id));
        };
    }

    /**
     * One property (identifier + value) encoded with the type the spec gives {@code id} (§2.2.2.2). {@code value} is a
     * {@link Number} for integer types, a {@link String} for UTF-8 strings, a {@code byte[]} for binary data.
     * Use {@link #property(int, String, String)} for User Property and the typed helpers to encode a wrong type.
     */
    public static byte[] property(int id, Object value) {
        return switch (propertyType(id)) {
            case BYTE -> propertyByte(id, ((Number) value).intValue());
            case TWO_BYTE_INTEGER -> propertyTwoByteInteger(id, ((Number) value).intValue());
            case FOUR_BYTE_INTEGER -> propertyFourByteInteger(id, ((Number) value).longValue());
            case VARIABLE_BYTE_INTEGER -> propertyVariableByteInteger(id, ((Number) value).intValue());
            case UTF8_STRING -> propertyString(id, (String) value);
            case BINARY -> propertyBinary(id, (byte[]) value);
            case UTF8_STRING_PAIR -> throw new IllegalArgumentException("use property(id, name, value) for a string pair");
        };
    }

    /** A UTF-8 String Pair property (§1.5.7), normally User Property (0x26). */
    public static byte[] property(int id, String name, String value) {
        return concat(variableByteInteger(id), utf8(name), utf8(value));
    }

    /** A User Property (0x26, §3.1.2.11.8 and others). */
    public static byte[] userProperty(String name, String value) {
        return property(USER_PROPERTY, name, value);
    }

    /** Property with a one-byte value, whatever the identifier. */
    public static byte[] propertyByte(int id, int value) {
        return concat(variableByteInteger(id), new byte[]{(byte) value});
    }

    /** Property with a Two Byte Integer value, whatever the identifier. */
    public static byte[] propertyTwoByteInteger(int id, int value) {
        return concat(variableByteInteger(id), uint16(value));
    }

    /** Property with a Four Byte Integer value, whatever the identifier. */
    public static byte[] propertyFourByteInteger(int id, long value) {
        return concat(variableByteInteger(id), uint32(value));
    }

    /** Property with a Variable Byte Integer value, whatever the identifier. */
    public static byte[] propertyVariableByteInteger(int id, int value) {
        return concat(variableByteInteger(id), variableByteInteger(value));
    }

    /** Property with a UTF-8 Encoded String value, whatever the identifier. */
    public static byte[] propertyString(int id, String value) {
        return concat(variableByteInteger(id), utf8(value));
    }

    /** Property with a Binary Data value, whatever the identifier. */
    public static byte[] propertyBinary(int id, byte[] value) {
        return concat(variableByteInteger(id), binary(value));
    }

    /** Property Length (§2.2.2.1) followed by the given raw properties; {@code null} gives the empty block {@code 00}. */
    public static byte[] propertiesBlock(byte[] rawProperties) {
        byte[] raw = rawProperties == null ? new byte[0] : rawProperties;
        return concat(variableByteInteger(raw.length), raw);
    }

    /** Builder for CONNECT (§3.1). Defaults: level 5, protocol name "MQTT", clean start, keep alive 60, no will. */
    public static final class ConnectBuilder {
        private int protocolLevel = MQTT_5;
        private String protocolName = "MQTT";
        private String clientId = "";
        private boolean cleanStart = true;
        private boolean reservedFlag;
        private int keepAlive = 60;
        private Long sessionExpiry;
        private String willTopic;
        private byte[] willPayload;
        private int willQos;
        private boolean willRetain;
        private Long willDelay;
        private byte[] willExtraProperties;
        private String username;
        private byte[] password;
        private byte[] extraProperties;
        private byte[] authentication;

        /** Protocol Level (§3.1.2.2): 4 or 5, or anything else for a negative test. */
        public ConnectBuilder protocolLevel(int level) {
            this.protocolLevel = level;
            return this;
        }

        /** Protocol Name (§3.1.2.1), "MQTT" unless overridden for a negative test. */
        public ConnectBuilder protocolName(String name) {
            this.protocolName = Objects.requireNonNull(name);
            return this;
        }

        /** Client Identifier (§3.1.3.1); "" asks the server to assign one. */
        public ConnectBuilder clientId(String id) {
            this.clientId = Objects.requireNonNull(id);
            return this;
        }

        /** Clean Start (§3.1.2.4), Clean Session in 3.1.1. */
        public ConnectBuilder cleanStart(boolean cleanStart) {
            this.cleanStart = cleanStart;
            return this;
        }

        /** Sets the reserved Connect Flags bit 0, which must be 0 (§3.1.2.3), for a negative test. */
        public ConnectBuilder reservedFlag(boolean set) {
            this.reservedFlag = set;
            return this;
        }

        /** Keep Alive in seconds (§3.1.2.10). */
        public ConnectBuilder keepAlive(int seconds) {
            this.keepAlive = seconds;
            return this;
        }

        /** Session Expiry Interval property (§3.1.2.11.2), level 5 only; {@code null} omits it. */
        public ConnectBuilder sessionExpiry(Long seconds) {
            this.sessionExpiry = seconds;
            return this;
        }

        /** Will Message (§3.1.2.5-§3.1.2.7, §3.1.3.2-§3.1.3.4); a {@code null} topic removes the will. */
        public ConnectBuilder will(String topic, byte[] payload, int qos, boolean retain) {
            this.willTopic = topic;
            this.willPayload = payload == null ? new byte[0] : payload.clone();
            this.willQos = qos;
            this.willRetain = retain;
            return this;
        }

        /** Will Delay Interval will property (§3.1.3.2.2), level 5 only; {@code null} omits it. */
        public ConnectBuilder willDelay(Long seconds) {
            this.willDelay = seconds;
            return this;
        }

        /** Raw will properties appended after Will Delay Interval (level 5 only). */
        public ConnectBuilder willExtraProperties(byte[] rawProperties) {
            this.willExtraProperties = rawProperties == null ? null : rawProperties.clone();
            return this;
        }

        /** User Name (§3.1.3.5); {@code null} clears the flag. */
        public ConnectBuilder username(String username) {
            this.username = username;
            return this;
        }

        /** Password (§3.1.3.6); {@code null} clears the flag. */
        public ConnectBuilder password(byte[] password) {
            this.password = password == null ? null : password.clone();
            return this;
        }

        /** Password as UTF-8 bytes. */
        public ConnectBuilder password(String password) {
            return password(password == null ? null : password.getBytes(StandardCharsets.UTF_8));
        }

        /**
         * Enhanced authentication (§4.12): Authentication Method and, unless {@code null}, Authentication Data,
         * level 5 only; written after {@link #extraProperties}.
         */
        public ConnectBuilder authentication(String method, byte[] data) {
            this.authentication = method == null ? null : authProperties(method, data);
            return this;
        }

        /**
         * Raw CONNECT properties appended after Session Expiry Interval (level 5 only), e.g. a second
         * {@code property(SESSION_EXPIRY_INTERVAL, 10)} to make a duplicated-property Protocol Error (§3.1.2.11.2).
         */
        public ConnectBuilder extraProperties(byte[] rawProperties) {
            this.extraProperties = rawProperties == null ? null : rawProperties.clone();
            return this;
        }

        /** The encoded CONNECT packet. */
        public byte[] build() {
            boolean v5 = protocolLevel >= MQTT_5;
            int flags = (username != null ? 0x80 : 0)
                    | (password != null ? 0x40 : 0)
                    | (willTopic != null && willRetain ? 0x20 : 0)
                    | (willTopic != null ? (willQos & 0b11) << 3 : 0)
                    | (willTopic != null ? 0x04 : 0)
                    | (cleanStart ? 0x02 : 0)
                    | (reservedFlag ? 0x01 : 0);
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            // Variable header, §3.1.2.
            body.writeBytes(utf8(protocolName));
            body.write(protocolLevel);
            body.write(flags);
            body.writeBytes(uint16(keepAlive));
            if (v5) {
                byte[] expiry = sessionExpiry == null ? null : property(SESSION_EXPIRY_INTERVAL, sessionExpiry);
                body.writeBytes(propertiesBlock(concat(expiry, extraProperties, authentication)));
            }
            // Payload, §3.1.3: client id, will properties, will topic, will payload, user name, password.
            body.writeBytes(utf8(clientId));
            if (willTopic != null) {
                if (v5) {
                    byte[] delay = willDelay == null ? null : property(WILL_DELAY_INTERVAL, willDelay);
                    body.writeBytes(propertiesBlock(concat(delay, willExtraProperties)));
                }
                body.writeBytes(utf8(willTopic));
                body.writeBytes(binary(willPayload));
            }
            if (username != null) {
                body.writeBytes(utf8(username));
            }
            if (password != null) {
                body.writeBytes(binary(password));
            }
            return packet(CONNECT, 0, body.toByteArray());
        }
    }
}
