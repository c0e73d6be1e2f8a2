package dev.tether.cluster.link;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;

/**
 * The link frame, written by hand into one {@link Buffer}:
 * {@code length u32} (bytes after this field) | {@code type u8} | {@code kind u8} | {@code correlation u64} | body.
 *
 * <p>Types 0x01–0x0F are the link's own (handshake, heartbeat); 0x10–0xFF belong to users of {@link Links}.
 * Encoding is stateless and thread-safe. A {@link Decoder} belongs to one socket and runs on its event loop.
 */
final class FrameCodec {
    /** Bytes after the length field that every frame has: type, kind, correlation. */
    static final int HEADER = 1 + 1 + 8;

    static final int KIND_ONE_WAY = 0;
    static final int KIND_REQUEST = 1;
    static final int KIND_REPLY = 2;
    static final int KIND_ERROR = 3;

    static final int TYPE_CHALLENGE = 0x01;
    static final int TYPE_HELLO = 0x02;
    static final int TYPE_WELCOME = 0x03;
    static final int TYPE_PING = 0x04;
    static final int TYPE_PONG = 0x05;
    static final int FIRST_USER_TYPE = 0x10;
    static final int LAST_USER_TYPE = 0xFF;

    private FrameCodec() {
    }

    /** One buffer holding the whole frame; {@code body} is copied once. */
    static Buffer encode(int type, int kind, long correlation, Buffer body) {
        int bodyLength = body == null ? 0 : body.length();
        Buffer frame = Buffer.buffer(4 + HEADER + bodyLength)
                .appendInt(HEADER + bodyLength)
                .appendUnsignedByte((short) type)
                .appendUnsignedByte((short) kind)
                .appendLong(correlation);
        return bodyLength == 0 ? frame : frame.appendBuffer(body);
    }

    static void checkUserType(int type) {
        if (type < FIRST_USER_TYPE || type > LAST_USER_TYPE) {
            throw new IllegalArgumentException("user frame types are 0x10-0xFF, not 0x" + Integer.toHexString(type));
        }
    }

    /** Receives the decoded frames of one socket, on its event loop. */
    interface Sink {
        void frame(int type, int kind, long correlation, Buffer body);

        /** The stream is not a valid frame sequence; the caller closes the link. No more frames follow. */
        void invalid(String reason);
    }

    /**
     * Splits a byte stream into frames with a {@link RecordParser}: fixed 4 bytes for the length, then
     * {@code fixedSizeMode(length)} for the rest. A length above {@code maxFrameBytes} or below the header size
     * is reported to {@link Sink#invalid} and decoding stops. Not thread-safe: one socket's event loop.
     */
    static final class Decoder {
        private final RecordParser parser;
        private final int maxFrameBytes;
        private final Sink sink;
        private boolean expectingLength = true;
        private boolean failed;

        Decoder(int maxFrameBytes, Sink sink) {
            this.maxFrameBytes = maxFrameBytes;
            this.sink = sink;
            this.parser = RecordParser.newFixed(4, this::record);
        }

        /** Feeds bytes read from the socket. */
        void feed(Buffer bytes) {
            if (!failed) {
                parser.handle(bytes);
            }
        }

        private void record(Buffer record) {
            if (failed) {
                return;
            }
            if (expectingLength) {
                long length = record.getUnsignedInt(0);
                if (length > maxFrameBytes || length < HEADER) {
                    failed = true;
                    sink.invalid("frame length " + length + " outside " + HEADER + ".." + maxFrameBytes);
                    return;
                }
                expectingLength = false;
                parser.fixedSizeMode((int) length);
                return;
            }
            expectingLength = true;
            parser.fixedSizeMode(4);
            int type = record.getUnsignedByte(0);
            int kind = record.getUnsignedByte(1);
            long correlation = record.getLong(2);
            if (kind > KIND_ERROR) {
                failed = true;
                sink.invalid("unknown frame kind " + kind);
                return;
            }
            sink.frame(type, kind, correlation, record.slice(HEADER, record.length()));
        }
    }
}
