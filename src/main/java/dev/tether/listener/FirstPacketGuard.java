package dev.tether.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.util.BitSet;

/**
 * Looks at the raw bytes of a connection's first packet before Netty's decoder does:
 * <ul>
 * <li>[MQTT-3.1.0-1] a first packet that is not CONNECT closes the connection at once. Netty's
 * decoder learns the protocol version only from CONNECT, so another first packet could leave it
 * waiting for bytes that never come.</li>
 * <li>An MQTT 5 CONNECT property other than User Property that appears twice is a Protocol Error
 * (§2.2.2.2); the channel is marked so that the CONNECT is refused with 0x82. Netty's
 * {@code MqttProperties} keeps only the last of a duplicated property, so the decoded packet can
 * no longer tell.</li>
 * <li>A CONNECT Property Identifier of more than one byte closes the connection: no identifier needs two, so it is
 * not minimally encoded [MQTT-1.5.5-1], and Netty's decoder would read it as the one-byte identifier, hiding a
 * duplicate from the check above (found by PacketDecodingFuzzTest).</li>
 * </ul>
 * The bytes pass on unchanged; the handler then removes itself.
 */
final class FirstPacketGuard extends ChannelInboundHandlerAdapter {

    /** Set on the channel when the CONNECT carried a duplicated property. */
    static final AttributeKey<Boolean> DUPLICATE_PROPERTY = AttributeKey.valueOf("tether.connect.duplicateProperty");

    private static final int USER_PROPERTY = 0x26;
    private static final int MAX_HELD = 64 * 1024;
    private CompositeByteBuf held;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (held == null) {
            held = ctx.alloc().compositeBuffer();
        }
        held.addComponent(true, buf);
        if (held.isReadable() && (held.getUnsignedByte(held.readerIndex()) >> 4) != 1) {
            held.release();
            held = null;
            ctx.close();
            return;
        }
        int verdict = inspect(held);
        if (verdict == NEED_MORE && held.readableBytes() < MAX_HELD) {
            return;
        }
        if (verdict == MALFORMED) {
            held.release();
            held = null;
            ctx.close();
            return;
        }
        if (verdict == DUPLICATE) {
            ctx.channel().attr(DUPLICATE_PROPERTY).set(Boolean.TRUE);
        }
        ByteBuf all = held;
        held = null;
        ctx.pipeline().remove(this);
        ctx.fireChannelRead(all);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (held != null) {
            held.release();
            held = null;
        }
    }

    static final int NEED_MORE = 0;
    static final int CLEAN = 1;
    static final int DUPLICATE = 2;
    static final int MALFORMED = 3;

    /** Inspects a buffer starting at a packet boundary without consuming it. */
    static int inspect(ByteBuf b) {
        int i = b.readerIndex();
        int end = b.writerIndex();
        if (end - i < 2) {
            return NEED_MORE;
        }
        int type = (b.getUnsignedByte(i) >> 4);
        if (type != 1) {
            return CLEAN;
        }
        int[] pos = {i + 1};
        int remaining = varInt(b, pos, end);
        if (remaining == -1) {
            return NEED_MORE;
        }
        if (remaining < 0) {
            return CLEAN;
        }
        int packetEnd = pos[0] + remaining;
        if (packetEnd > end) {
            return NEED_MORE;
        }
        try {
            int p = pos[0];
            int nameLength = b.getUnsignedShort(p);
            p += 2 + nameLength;
            int level = b.getUnsignedByte(p);
            if (level != 5) {
                return CLEAN;
            }
            p += 1 + 1 + 2; // level, flags, keep alive
            pos[0] = p;
            int propertiesLength = varInt(b, pos, packetEnd);
            if (propertiesLength < 0) {
                return CLEAN;
            }
            return propertiesVerdict(b, pos[0], Math.min(packetEnd, pos[0] + propertiesLength));
        } catch (IndexOutOfBoundsException e) {
            return CLEAN; // malformed: Netty's decoder will say so
        }
    }

    /** DUPLICATE, MALFORMED (a multi-byte Property Identifier) or CLEAN, whichever the properties show first. */
    private static int propertiesVerdict(ByteBuf b, int p, int end) {
        BitSet seen = new BitSet(256);
        while (p < end) {
            int id = b.getUnsignedByte(p++);
            if (id >= 0x80) {
                return MALFORMED;
            }
            if (id != USER_PROPERTY && seen.get(id)) {
                return DUPLICATE;
            }
            seen.set(id);
            switch (id) {
                case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A -> p += 1;
                case 0x13, 0x21, 0x22, 0x23 -> p += 2;
                case 0x02, 0x11, 0x18, 0x27 -> p += 4;
                case 0x0B -> {
                    int[] q = {p};
                    if (varInt(b, q, end) < 0) {
                        return CLEAN;
                    }
                    p = q[0];
                }
                case 0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F, 0x09, 0x16 -> p += 2 + b.getUnsignedShort(p);
                case USER_PROPERTY -> {
                    p += 2 + b.getUnsignedShort(p);
                    p += 2 + b.getUnsignedShort(p);
                }
                default -> {
                    return CLEAN; // unknown property: the decoder reports the malformed packet
                }
            }
        }
        return CLEAN;
    }

    /** Reads a Variable Byte Integer at pos[0]; -1 when more bytes are needed, -2 when malformed. */
    private static int varInt(ByteBuf b, int[] pos, int end) {
        int value = 0;
        int multiplier = 1;
        for (int n = 0; n < 4; n++) {
            if (pos[0] >= end) {
                return -1;
            }
            int digit = b.getUnsignedByte(pos[0]++);
            value += (digit & 0x7F) * multiplier;
            if ((digit & 0x80) == 0) {
                return value;
            }
            multiplier *= 128;
        }
        return -2;
    }
}
