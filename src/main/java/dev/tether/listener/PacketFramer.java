package dev.tether.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageFactory;

/**
 * Hands Netty's {@link MqttDecoder} one whole packet at a time, and says so when the decoder cannot finish a packet
 * within its own bytes. The decoder reads the fields of a packet as their lengths say, past the packet's Remaining
 * Length if they say so (a PUBLISH of Remaining Length 3 whose Property Length is 268 MB): it would then hold every
 * later byte, without bound, waiting for a field that never ends. Here such a packet is a Malformed Packet
 * (§1.5.5, §2.1.4): a decoder failure goes to the connection, which answers it and closes; later bytes are dropped.
 *
 * <p>Goes before the decoder; its {@link #outlet()} goes right after it. A fixed header is judged here: a Remaining
 * Length of five bytes is malformed [MQTT-1.5.5], one over the packet size limit is a {@link TooLongFrameException}
 * (the decoder would check the limit only after reading the variable header, which can ask for more than the packet).
 * Properties blocks of MQTT 5 packets are rearranged so that the decoder reads them right
 * ({@link PropertyBlockRepair}). Owned by the channel's event loop.
 */
final class PacketFramer extends ChannelInboundHandlerAdapter {

    private final int maxPacketSize;
    private final Outlet outlet = new Outlet();
    private CompositeByteBuf held;
    /** The connection's CONNECT was MQTT 5: its packets' properties go through {@link PropertyBlockRepair}. */
    private boolean mqtt5;
    /** A packet was reported malformed here: every later byte is dropped. */
    private boolean failed;

    /** @param maxPacketSize the decoder's limit ({@code tether.mqtt.max-packet-size}) */
    PacketFramer(int maxPacketSize) {
        this.maxPacketSize = maxPacketSize;
    }

    /** The handler to place right after the decoder: it counts what the decoder emits. */
    ChannelHandler outlet() {
        return outlet;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (failed) {
            buf.release();
            return;
        }
        if (held == null) {
            held = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
        }
        held.addComponent(true, buf);
        while (held != null && held.isReadable()) {
            int size = packetSize(held);
            if (size == NEED_MORE) {
                break;
            }
            if (size == MALFORMED_LENGTH) {
                fail(new DecoderException("Remaining Length longer than four bytes"));
                return;
            }
            if (size == TOO_LARGE) {
                fail(new TooLongFrameException("packet larger than " + maxPacketSize + " bytes"));
                return;
            }
            if (held.readableBytes() < size) {
                break;
            }
            ByteBuf packet = held.readRetainedSlice(size);
            if (PropertyBlockRepair.isMqtt5Connect(packet)) {
                mqtt5 = true;
            }
            ByteBuf readable = PropertyBlockRepair.repaired(packet, mqtt5);
            if (readable != packet) {
                packet.release();
                if (readable == null) {
                    fail(new DecoderException("Properties made of short properties only"));
                    return;
                }
            }
            long before = outlet.emitted;
            ctx.fireChannelRead(readable);
            if (outlet.sawFailure) {
                failed = true; // the decoder refused the packet itself and discards what follows
                release();
                return;
            }
            if (outlet.emitted == before) {
                fail(new DecoderException("packet fields run past its Remaining Length"));
                return;
            }
        }
        if (held != null) {
            held.discardReadComponents();
        }
    }

    /** Reports the stream malformed to the connection, past the decoder, and drops what is held and what follows. */
    private void fail(DecoderException cause) {
        failed = true;
        release();
        outlet.ctx.fireChannelRead(MqttMessageFactory.newInvalidMessage(cause));
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void release() {
        if (held != null) {
            held.release();
            held = null;
        }
    }

    private static final int NEED_MORE = -1;
    private static final int MALFORMED_LENGTH = -2;
    private static final int TOO_LARGE = -3;

    /** The whole size of the packet at the reader index (fixed header included), or one of the negative verdicts. */
    private int packetSize(ByteBuf b) {
        int i = b.readerIndex() + 1;
        int end = b.writerIndex();
        int remaining = 0;
        int multiplier = 1;
        for (int n = 1; n <= 4; n++, i++) {
            if (i >= end) {
                return NEED_MORE;
            }
            int digit = b.getUnsignedByte(i);
            remaining += (digit & 0x7F) * multiplier;
            if ((digit & 0x80) == 0) {
                return remaining > maxPacketSize ? TOO_LARGE : 1 + n + remaining;
            }
            multiplier *= 128;
        }
        return MALFORMED_LENGTH; // [MQTT-1.5.5] at most four bytes
    }

    /** Counts the decoder's output on its way to the connection. */
    private static final class Outlet extends ChannelInboundHandlerAdapter {
        private long emitted;
        private boolean sawFailure;
        private ChannelHandlerContext ctx;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof MqttMessage m) {
                emitted++;
                sawFailure |= m.decoderResult().isFailure();
            }
            ctx.fireChannelRead(msg);
        }
    }
}
