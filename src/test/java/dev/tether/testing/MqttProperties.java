package dev.tether.testing;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decoded MQTT 5 properties (§2.2.2), in wire order per identifier. Values are {@link Integer} for Byte, Two Byte
 * Integer and Variable Byte Integer, {@link Long} for Four Byte Integer, {@link String} for UTF-8 strings,
 * {@code byte[]} for Binary Data and {@link StringPair} for UTF-8 String Pairs. Repeated identifiers keep every value.
 */
public record MqttProperties(Map<Integer, List<Object>> values) {

    /** No properties. */
    public static final MqttProperties EMPTY = new MqttProperties(Map.of());

    /** A UTF-8 String Pair value (§1.5.7), e.g. a User Property. */
    public record StringPair(String name, String value) {
    }

    public MqttProperties {
        Map<Integer, List<Object>> copy = new LinkedHashMap<>();
        values.forEach((id, list) -> copy.put(id, List.copyOf(list)));
        values = Collections.unmodifiableMap(copy);
    }

    /**
     * Parses {@code length} bytes of properties (without the Property Length prefix) starting at {@code offset}.
     * Throws {@link IllegalArgumentException} on unknown identifiers or values running past the block.
     */
    public static MqttProperties parse(byte[] buf, int offset, int length) {
        int end = offset + length;
        if (length < 0 || end > buf.length) {
            throw new IllegalArgumentException("property block of " + length + " bytes at " + offset
                    + " exceeds buffer of " + buf.length);
        }
        Map<Integer, List<Object>> result = new LinkedHashMap<>();
        int pos = offset;
        while (pos < end) {
            MqttPackets.DecodedVarInt id = MqttPackets.decodeVariableByteInteger(buf, pos, end);
            if (id == null) {
                throw new IllegalArgumentException("truncated property identifier at " + pos);
            }
            pos += id.byteCount();
            Object value;
            switch (MqttPackets.propertyType(id.value())) {
                case BYTE -> {
                    need(pos, 1, end);
                    value = buf[pos] & 0xFF;
                    pos += 1;
                }
                case TWO_BYTE_INTEGER -> {
                    need(pos, 2, end);
                    value = readUint16(buf, pos);
                    pos += 2;
                }
                case FOUR_BYTE_INTEGER -> {
                    need(pos, 4, end);
                    value = readUint32(buf, pos);
                    pos += 4;
                }
                case VARIABLE_BYTE_INTEGER -> {
                    MqttPackets.DecodedVarInt v = MqttPackets.decodeVariableByteInteger(buf, pos, end);
                    if (v == null) {
                        throw new IllegalArgumentException("truncated Variable Byte Integer property at " + pos);
                    }
                    value = v.value();
                    pos += v.byteCount();
                }
                case UTF8_STRING -> {
                    byte[] s = readBinary(buf, pos, end);
                    value = new String(s, StandardCharsets.UTF_8);
                    pos += 2 + s.length;
                }
                case BINARY -> {
                    byte[] b = readBinary(buf, pos, end);
                    value = b;
                    pos += 2 + b.length;
                }
                case UTF8_STRING_PAIR -> {
                    byte[] name = readBinary(buf, pos, end);
                    pos += 2 + name.length;
                    byte[] val = readBinary(buf, pos, end);
                    pos += 2 + val.length;
                    value = new StringPair(new String(name, StandardCharsets.UTF_8), new String(val, StandardCharsets.UTF_8));
                }
                default -> throw new AssertionError();
            }
            result.computeIfAbsent(id.value(), k -> new ArrayList<>()).add(value);
        }
        return new MqttProperties(result);
    }

    /** Whether the identifier occurs at least once. */
    public boolean has(int id) {
        return values.containsKey(id);
    }

    /** How many times the identifier occurs. */
    public int count(int id) {
        return all(id).size();
    }

    /** Every value of the identifier, in wire order (empty if absent). */
    public List<Object> all(int id) {
        return values.getOrDefault(id, List.of());
    }

    /** The first value of the identifier. */
    public Optional<Object> first(int id) {
        List<Object> list = all(id);
        return list.isEmpty() ? Optional.empty() : Optional.of(list.get(0));
    }

    /** The first value of an integer-typed identifier, widened to long. */
    public Optional<Long> number(int id) {
        return first(id).map(v -> ((Number) v).longValue());
    }

    /** The first value of a UTF-8 string identifier. */
    public Optional<String> string(int id) {
        return first(id).map(v -> (String) v);
    }

    /** The first value of a binary identifier (a copy). */
    public Optional<byte[]> binary(int id) {
        return first(id).map(v -> ((byte[]) v).clone());
    }

    /** All User Properties (0x26) in wire order. */
    public List<StringPair> userProperties() {
        return all(MqttPackets.USER_PROPERTY).stream().map(v -> (StringPair) v).toList();
    }

    /** Whether there are no properties. */
    public boolean isEmpty() {
        return values.isEmpty();
    }

    static int readUint16(byte[] buf, int pos) {
        return ((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF);
    }

    static long readUint32(byte[] buf, int pos) {
        return ((long) (buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16) | ((buf[pos + 2] & 0xFF) << 8)
                | (buf[pos + 3] & 0xFF);
    }

    /** Reads a two-byte-length-prefixed field (§1.5.4, §1.5.6) and returns its content. */
    static byte[] readBinary(byte[] buf, int pos, int end) {
        need(pos, 2, end);
        int len = readUint16(buf, pos);
        need(pos + 2, len, end);
        byte[] out = new byte[len];
        System.arraycopy(buf, pos + 2, out, 0, len);
        return out;
    }

    private static void need(int pos, int n, int end) {
        if (pos + n > end) {
            throw new IllegalArgumentException("need " + n + " bytes at " + pos + " but data ends at " + end);
        }
    }
}
