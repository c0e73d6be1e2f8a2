package dev.tether.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.Arrays;

/**
 * Rearranges the Properties blocks of one whole MQTT 5 packet so that Netty 4.1.137's {@code MqttDecoder} reads them
 * whole. Pure: bytes in, bytes out.
 *
 * <p>The decoder counts the bytes of the Property Length itself against the Property Length: with a Property Length of
 * n bytes (n >= 2 from 128 bytes of properties on) it stops reading once fewer than n bytes of the block are left,
 * so a last property of at most n bytes (Payload Format Indicator {@code 01 00}, an empty Content Type, a Topic Alias)
 * is dropped from the properties and read as the start of what follows, a PUBLISH's payload for one (fixed in Netty
 * 4.2 only, netty/netty#17105). Writing Property Length L + n instead does not fit 4.1.137: it looks at the block's
 * last byte before reading it, so it would wait for n bytes past a block that ends the packet (a PUBLISH without
 * payload, a DISCONNECT), and L + n does not always fit in n bytes. So the block keeps its length and its properties:
 * the short ones after its last long property (more than n bytes) move to its front. Only User Properties must keep
 * their order (§3.3.2.3.7), and a User Property is never short (five bytes at least). A block of short properties
 * only (which needs a repeated property, a Protocol Error, to reach 128 bytes) cannot be rearranged: the packet is
 * malformed to Tether.
 *
 * <p>The blocks are those the decoder reads (MQTT 5.0 §3): CONNECT (its properties, and its Will Properties when the
 * Will Flag is set), CONNACK, PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP of Remaining Length over 3, SUBSCRIBE, SUBACK,
 * UNSUBSCRIBE, UNSUBACK, and DISCONNECT/AUTH of Remaining Length over 1. A packet too short for the fields it claims,
 * or whose block holds an unknown property or runs past itself, is left as it is: the decoder refuses it.
 */
final class PropertyBlockRepair {

    private static final int CONNECT = 1;
    private static final int PUBLISH = 3;
    private static final int WILL_FLAG = 0x04;
    /** Offsets in an MQTT 5 CONNECT's variable header: protocol name "MQTT" (6), level (1), flags (1), keep alive (2). */
    private static final int CONNECT_FLAGS = 7;
    private static final int CONNECT_PROPERTIES = 10;

    private PropertyBlockRepair() {
    }

    /** True when {@code packet} is a CONNECT of protocol MQTT level 5 (what makes the decoder read properties). */
    static boolean isMqtt5Connect(ByteBuf packet) {
        int r = packet.readerIndex();
        int end = packet.writerIndex();
        if (end - r < 2 || packet.getUnsignedByte(r) >> 4 != CONNECT) {
            return false;
        }
        long remaining = varInt(packet, r + 1, end);
        if (remaining < 0) {
            return false;
        }
        int v = r + 1 + bytes(remaining);
        return v + 7 <= end && packet.getUnsignedShort(v) == 4 && packet.getByte(v + 2) == 'M'
                && packet.getByte(v + 3) == 'Q' && packet.getByte(v + 4) == 'T' && packet.getByte(v + 5) == 'T'
                && packet.getUnsignedByte(v + 6) == 5;
    }

    /**
     * The packet as the decoder should get it: {@code packet} itself when it reads right as it is, a new buffer with
     * rearranged properties, or {@code null} when a block cannot be read right (see the class comment). Does not
     * consume or release {@code packet}.
     *
     * @param packet one whole packet, fixed header included
     * @param mqtt5 whether the connection speaks MQTT 5 (a CONNECT says so itself)
     */
    static ByteBuf repaired(ByteBuf packet, boolean mqtt5) {
        int r = packet.readerIndex();
        int end = packet.writerIndex();
        if (end - r < 2) {
            return packet;
        }
        int type = packet.getUnsignedByte(r) >> 4;
        if (type == CONNECT ? !isMqtt5Connect(packet) : !mqtt5) {
            return packet;
        }
        long remainingLength = varInt(packet, r + 1, end);
        if (remainingLength < 0) {
            return packet;
        }
        int v = r + 1 + bytes(remainingLength);
        int remaining = value(remainingLength);
        end = Math.min(end, v + remaining);
        Rearranged out = new Rearranged(packet, r);
        int blockEnd = out.block(firstBlock(packet, type, v, remaining, end), end);
        if (type == CONNECT && blockEnd >= 0) {
            out.block(willProperties(packet, v, blockEnd, end), end);
        }
        if (out.unreadable) {
            return null;
        }
        return out.copy == null ? packet : Unpooled.wrappedBuffer(out.copy);
    }

    /** The packet's bytes once a block had to be rearranged. */
    private static final class Rearranged {
        private final ByteBuf packet;
        private final int origin;
        private byte[] copy;
        private boolean unreadable;

        Rearranged(ByteBuf packet, int origin) {
            this.packet = packet;
            this.origin = origin;
        }

        /** Rearranges the block at {@code block} (none when negative) if needed; returns its end or -1. */
        int block(int block, int end) {
            if (block < 0 || block >= end || unreadable) {
                return -1;
            }
            long length = varInt(packet, block, end);
            if (length < 0) {
                return -1;
            }
            int n = bytes(length);
            int start = block + n;
            int blockEnd = start + value(length);
            if (blockEnd > end) {
                return -1;
            }
            if (n >= 2) {
                int split = splitPoint(packet, start, blockEnd, n);
                if (split == UNREADABLE) {
                    unreadable = true;
                    return -1;
                }
                if (split > 0) {
                    if (copy == null) {
                        copy = ByteBufUtil.getBytes(packet, origin, end - origin);
                    }
                    rotate(copy, start - origin, split - origin, blockEnd - origin);
                }
            }
            return blockEnd;
        }
    }

    /** Where the first Properties block of a packet of {@code type} starts, or -1 when the decoder reads none. */
    private static int firstBlock(ByteBuf b, int type, int v, int remaining, int end) {
        switch (type) {
            case CONNECT:
                return v + CONNECT_PROPERTIES;
            case PUBLISH: {
                if (v + 2 > end) {
                    return -1;
                }
                int qos = (b.getUnsignedByte(b.readerIndex()) >> 1) & 3;
                return qos == 3 ? -1 : v + 2 + b.getUnsignedShort(v) + (qos > 0 ? 2 : 0);
            }
            case 2: // CONNACK: acknowledge flags, reason code
            case 8: // SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK: packet identifier
            case 9:
            case 10:
            case 11:
                return v + 2;
            case 4: // PUBACK, PUBREC, PUBREL, PUBCOMP: packet identifier, reason code
            case 5:
            case 6:
            case 7:
                return remaining > 3 ? v + 3 : -1;
            case 14: // DISCONNECT, AUTH: reason code
            case 15:
                return remaining > 1 ? v + 1 : -1;
            default:
                return -1;
        }
    }

    /** The Will Properties, after the Client Identifier, when the CONNECT's Will Flag is set; -1 otherwise. */
    private static int willProperties(ByteBuf b, int v, int propertiesEnd, int end) {
        int flags = b.getUnsignedByte(v + CONNECT_FLAGS);
        if ((flags & WILL_FLAG) == 0 || propertiesEnd + 2 > end) {
            return -1;
        }
        return propertiesEnd + 2 + b.getUnsignedShort(propertiesEnd);
    }

    private static final int UNREADABLE = -2;

    /**
     * Walks the properties in [start, end) as the decoder reads them: 0 when the decoder reads them all as they are
     * (or refuses them anyway), the offset after the last property of more than {@code n} bytes when the properties
     * after it must move to the front, or {@link #UNREADABLE}.
     */
    private static int splitPoint(ByteBuf b, int start, int end, int n) {
        int p = start;
        int lastLongEnd = -1;
        int lastStart = start;
        while (p < end) {
            lastStart = p;
            long id = varInt(b, p, end);
            if (id < 0) {
                return 0;
            }
            int q = p + bytes(id);
            int size = valueSize(b, value(id), q, end);
            if (size < 0 || q + size > end) {
                return 0; // unknown or running past the block: the decoder reads it its own way, or refuses it
            }
            p = q + size;
            if (p - lastStart > n) {
                lastLongEnd = p;
            }
        }
        if (end - lastStart > n) {
            return 0;
        }
        return lastLongEnd < 0 ? UNREADABLE : lastLongEnd;
    }

    /** The size of a property value at q, or -1 for an unknown property or one that does not fit before end. */
    private static int valueSize(ByteBuf b, int id, int q, int end) {
        switch (id) {
            case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
                return 1;
            case 0x13: case 0x21: case 0x22: case 0x23:
                return 2;
            case 0x02: case 0x11: case 0x18: case 0x27:
                return 4;
            case 0x0B: {
                long v = varInt(b, q, end);
                return v < 0 ? -1 : bytes(v);
            }
            case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C: case 0x1F:
                return q + 2 > end ? -1 : 2 + b.getUnsignedShort(q);
            case 0x26: { // User Property: name and value
                if (q + 2 > end) {
                    return -1;
                }
                int name = 2 + b.getUnsignedShort(q);
                if (q + name + 2 > end) {
                    return -1;
                }
                return name + 2 + b.getUnsignedShort(q + name);
            }
            default:
                return -1;
        }
    }

    /** Moves a[split, end) in front of a[start, split). */
    private static void rotate(byte[] a, int start, int split, int end) {
        byte[] tail = Arrays.copyOfRange(a, split, end);
        System.arraycopy(a, start, a, start + tail.length, split - start);
        System.arraycopy(tail, 0, a, start, tail.length);
    }

    /** A Variable Byte Integer at p packed as value << 8 | its byte count, or -1 when malformed or past end. */
    private static long varInt(ByteBuf b, int p, int end) {
        int value = 0;
        int multiplier = 1;
        for (int n = 1; n <= 4; n++, p++) {
            if (p >= end) {
                return -1;
            }
            int digit = b.getUnsignedByte(p);
            value += (digit & 0x7F) * multiplier;
            if ((digit & 0x80) == 0) {
                return (long) value << 8 | n;
            }
            multiplier *= 128;
        }
        return -1;
    }

    private static int value(long varInt) {
        return (int) (varInt >>> 8);
    }

    private static int bytes(long varInt) {
        return (int) (varInt & 0xFF);
    }
}
