package dev.tether.testing;

import static dev.tether.testing.MqttPackets.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * One MQTT control packet as read off the wire: packet type and flags from the fixed header (§2.1.1) and the bytes
 * after the Remaining Length (variable header + payload). Decoding helpers check the packet type and throw
 * {@link IllegalStateException} naming the actual packet when it is not the expected one.
 */
public record ReceivedPacket(int type, int flags, byte[] body) {

    private static final String[] TYPE_NAMES = {"RESERVED0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
            "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT",
            "AUTH"};

    public ReceivedPacket {
        body = body.clone();
    }

    /** A copy of the body (everything after the Remaining Length). */
    @Override
    public byte[] body() {
        return body.clone();
    }

    /** Parses exactly one complete packet; throws if {@code bytes} is truncated or has trailing data. */
    public static ReceivedPacket parse(byte[] bytes) {
        List<ReceivedPacket> packets = parseAll(bytes);
        if (packets.size() != 1) {
            throw new IllegalArgumentException("expected exactly one packet but found " + packets.size());
        }
        return packets.get(0);
    }

    /** Splits a byte stream into complete packets; throws if it ends inside a packet. */
    public static List<ReceivedPacket> parseAll(byte[] bytes) {
        List<ReceivedPacket> out = new ArrayList<>();
        int pos = 0;
        while (pos < bytes.length) {
            Framed framed = tryFrame(bytes, pos, bytes.length);
            if (framed == null) {
                throw new IllegalArgumentException("stream ends inside a packet at offset " + pos);
            }
            out.add(framed.packet());
            pos += framed.length();
        }
        return out;
    }

    /** A packet framed from a buffer and the number of bytes it occupied there. */
    record Framed(ReceivedPacket packet, int length) {
    }

    /**
     * Frames one packet at {@code offset} (§2.1.1, §2.1.4), or returns {@code null} if {@code buf} (up to
     * {@code limit}) does not yet hold all of it. Throws on a Remaining Length longer than 4 bytes.
     */
    static Framed tryFrame(byte[] buf, int offset, int limit) {
        if (offset >= limit) {
            return null;
        }
        DecodedVarInt remaining = decodeVariableByteInteger(buf, offset + 1, limit);
        if (remaining == null) {
            return null;
        }
        int headerLength = 1 + remaining.byteCount();
        if ((long) offset + headerLength + remaining.value() > limit) {
            return null;
        }
        int first = buf[offset] & 0xFF;
        byte[] body = Arrays.copyOfRange(buf, offset + headerLength, offset + headerLength + remaining.value());
        return new Framed(new ReceivedPacket(first >>> 4, first & 0x0F, body), headerLength + remaining.value());
    }

    /** The packet re-encoded: fixed header plus body. */
    public byte[] toBytes() {
        return packet(type, flags, body);
    }

    /** Spec name of the packet type, e.g. "CONNACK". */
    public String typeName() {
        return typeName(type);
    }

    /** Spec name of a packet type number (§2.1.2). */
    public static String typeName(int type) {
        return type >= 0 && type < TYPE_NAMES.length ? TYPE_NAMES[type] : "INVALID" + type;
    }

    // ---- CONNACK, §3.2 ----

    /** Session Present flag (§3.2.2.1.1). */
    public boolean connackSessionPresent() {
        expect(CONNACK);
        return (body[0] & 0x01) != 0;
    }

    /** Connect Reason Code (§3.2.2.2), or the 3.1.1 Connect Return Code (3.1.1 §3.2.2.3). */
    public int connackReasonCode() {
        expect(CONNACK);
        return body[1] & 0xFF;
    }

    /** CONNACK properties (§3.2.2.3); empty for a 3.1.1 CONNACK. */
    public MqttProperties connackProperties() {
        expect(CONNACK);
        return body.length > 2 ? propertiesAt(2) : MqttProperties.EMPTY;
    }

    // ---- DISCONNECT, §3.14 ----

    /** Disconnect Reason Code (§3.14.2.1); 0 (Normal disconnection) when the body is empty. */
    public int disconnectReasonCode() {
        expect(DISCONNECT);
        return body.length == 0 ? 0 : body[0] & 0xFF;
    }

    /** DISCONNECT properties (§3.14.2.2); empty when absent. */
    public MqttProperties disconnectProperties() {
        expect(DISCONNECT);
        return body.length > 1 ? propertiesAt(1) : MqttProperties.EMPTY;
    }

    // ---- SUBACK §3.9 / UNSUBACK §3.11 ----

    /** SUBACK reason codes (§3.9.3), one per topic filter in order. */
    public List<Integer> subackReasonCodes(int protocolLevel) {
        expect(SUBACK);
        return trailingCodes(protocolLevel);
    }

    /** SUBACK properties (§3.9.2.1); empty for level 4. */
    public MqttProperties subackProperties(int protocolLevel) {
        expect(SUBACK);
        return protocolLevel >= MQTT_5 ? propertiesAt(2) : MqttProperties.EMPTY;
    }

    /** UNSUBACK reason codes (§3.11.3); empty for level 4, which has no payload. */
    public List<Integer> unsubackReasonCodes(int protocolLevel) {
        expect(UNSUBACK);
        return trailingCodes(protocolLevel);
    }

    // ---- PUBLISH, §3.3 ----

    /** Topic Name (§3.3.2.1). */
    public String publishTopic() {
        expect(PUBLISH);
        return new String(MqttProperties.readBinary(body, 0, body.length), StandardCharsets.UTF_8);
    }

    /** QoS from the fixed header flags (§3.3.1.2). */
    public int publishQos() {
        expect(PUBLISH);
        return (flags >>> 1) & 0b11;
    }

    /** DUP flag (§3.3.1.1). */
    public boolean publishDup() {
        expect(PUBLISH);
        return (flags & 0b1000) != 0;
    }

    /** RETAIN flag (§3.3.1.3). */
    public boolean publishRetain() {
        expect(PUBLISH);
        return (flags & 0b0001) != 0;
    }

    /** Packet Identifier (§3.3.2.2), or -1 for QoS 0 which has none. */
    public int publishPacketId() {
        if (publishQos() == 0) {
            return -1;
        }
        return MqttProperties.readUint16(body, afterTopic());
    }

    /** PUBLISH properties (§3.3.2.3); empty for level 4. */
    public MqttProperties publishProperties(int protocolLevel) {
        expect(PUBLISH);
        return protocolLevel >= MQTT_5 ? propertiesAt(afterPacketId()) : MqttProperties.EMPTY;
    }

    /** Application Message payload (§3.3.3), a copy. */
    public byte[] publishPayload(int protocolLevel) {
        expect(PUBLISH);
        int pos = afterPacketId();
        if (protocolLevel >= MQTT_5) {
            pos = afterProperties(pos);
        }
        return Arrays.copyOfRange(body, pos, body.length);
    }

    /** Payload decoded as UTF-8. */
    public String publishPayloadUtf8(int protocolLevel) {
        return new String(publishPayload(protocolLevel), StandardCharsets.UTF_8);
    }

    // ---- PUBACK/PUBREC/PUBREL/PUBCOMP §3.4-§3.7, SUBACK, UNSUBACK ----

    /** Packet Identifier of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK (or SUBSCRIBE/UNSUBSCRIBE). */
    public int packetId() {
        expect(PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK);
        return MqttProperties.readUint16(body, 0);
    }

    /** Reason code of PUBACK/PUBREC/PUBREL/PUBCOMP; 0 when omitted (§3.4.2.1) and always 0 for 3.1.1. */
    public int pubackReasonCode() {
        expect(PUBACK, PUBREC, PUBREL, PUBCOMP);
        return body.length > 2 ? body[2] & 0xFF : 0;
    }

    /** Properties of PUBACK/PUBREC/PUBREL/PUBCOMP (§3.4.2.2); empty when absent. */
    public MqttProperties pubackProperties() {
        expect(PUBACK, PUBREC, PUBREL, PUBCOMP);
        return body.length > 3 ? propertiesAt(3) : MqttProperties.EMPTY;
    }

    // ---- AUTH, §3.15 ----

    /** Authenticate Reason Code (§3.15.2.1); 0 when the body is empty. */
    public int authReasonCode() {
        expect(AUTH);
        return body.length == 0 ? 0 : body[0] & 0xFF;
    }

    /** AUTH properties (§3.15.2.2); empty when absent. */
    public MqttProperties authProperties() {
        expect(AUTH);
        return body.length > 1 ? propertiesAt(1) : MqttProperties.EMPTY;
    }

    // ---- internals ----

    private List<Integer> trailingCodes(int protocolLevel) {
        int pos = protocolLevel >= MQTT_5 ? afterProperties(2) : 2;
        List<Integer> codes = new ArrayList<>();
        for (int i = pos; i < body.length; i++) {
            codes.add(body[i] & 0xFF);
        }
        return codes;
    }

    private int afterTopic() {
        return 2 + MqttProperties.readUint16(body, 0);
    }

    private int afterPacketId() {
        return afterTopic() + (publishQos() > 0 ? 2 : 0);
    }

    /** Properties whose Property Length (§2.2.2.1) starts at {@code pos}. */
    private MqttProperties propertiesAt(int pos) {
        DecodedVarInt len = decodeVariableByteInteger(body, pos);
        return MqttProperties.parse(body, pos + len.byteCount(), len.value());
    }

    private int afterProperties(int pos) {
        DecodedVarInt len = decodeVariableByteInteger(body, pos);
        return pos + len.byteCount() + len.value();
    }

    private void expect(int... allowed) {
        for (int t : allowed) {
            if (t == type) {
                return;
            }
        }
        String want = Arrays.stream(allowed).mapToObj(ReceivedPacket::typeName).reduce((a, b) -> a + "/" + b).orElse("");
        throw new IllegalStateException("expected " + want + " but got " + this);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReceivedPacket p && p.type == type && p.flags == flags && Arrays.equals(p.body, body);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * type + flags) + Arrays.hashCode(body);
    }

    @Override
    public String toString() {
        String hex = HexFormat.of().formatHex(body, 0, Math.min(body.length, 64));
        return typeName() + "(flags=" + Integer.toBinaryString(flags) + ", body[" + body.length + "]=" + hex
                + (body.length > 64 ? "..." : "") + ")";
    }
}
