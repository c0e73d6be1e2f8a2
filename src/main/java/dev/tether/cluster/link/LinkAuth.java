package dev.tether.cluster.link;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.SecretKey;

/**
 * The link handshake of docs/design/replicas.md §3.2: mutual HMAC-SHA256 over both nonces and both ids.
 * <ol>
 *   <li>acceptor → dialer {@code CHALLENGE {version u8, acceptorId, nonceA}};</li>
 *   <li>dialer → acceptor {@code HELLO {version u8, dialerId, incarnation u64, nonceD, macD}},
 *       {@code macD = HMAC(secret, "tether-link-1|D|" + nonceA + nonceD + dialerId + acceptorId)};</li>
 *   <li>acceptor → dialer {@code WELCOME {macA}},
 *       {@code macA = HMAC(secret, "tether-link-1|A|" + nonceD + nonceA + acceptorId + dialerId)}.</li>
 * </ol>
 * UUIDs are 16 bytes (most significant long first), nonces and MACs {@code u32} length + bytes.
 *
 * <p>Immutable and thread-safe; it never hands out the key, and MACs are never logged.
 */
final class LinkAuth {
    static final int VERSION = 1;
    static final int NONCE_BYTES = 32;
    static final int MAC_BYTES = 32;

    private static final byte[] DIALER_LABEL = "tether-link-1|D|".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ACCEPTOR_LABEL = "tether-link-1|A|".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKey key;
    private final boolean loopbackOnly;

    /** An empty or absent secret: MACs keyed with the empty key, and links with loopback addresses only. */
    LinkAuth(Optional<String> secret) {
        byte[] bytes = secret.map(s -> s.getBytes(StandardCharsets.UTF_8)).orElse(new byte[0]);
        this.key = new RawKey(bytes);
        this.loopbackOnly = bytes.length == 0;
    }

    boolean loopbackOnly() {
        return loopbackOnly;
    }

    static byte[] nonce() {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        return nonce;
    }

    byte[] dialerMac(byte[] nonceA, byte[] nonceD, UUID dialerId, UUID acceptorId) {
        return mac(DIALER_LABEL, nonceA, nonceD, dialerId, acceptorId);
    }

    byte[] acceptorMac(byte[] nonceD, byte[] nonceA, UUID acceptorId, UUID dialerId) {
        return mac(ACCEPTOR_LABEL, nonceD, nonceA, acceptorId, dialerId);
    }

    /** Constant-time comparison. */
    static boolean matches(byte[] expected, byte[] actual) {
        return MessageDigest.isEqual(expected, actual);
    }

    private byte[] mac(byte[] label, byte[] first, byte[] second, UUID a, UUID b) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            mac.update(label);
            mac.update(first);
            mac.update(second);
            mac.update(uuidBytes(a));
            mac.update(uuidBytes(b));
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    private static byte[] uuidBytes(UUID id) {
        return Buffer.buffer(16).appendLong(id.getMostSignificantBits()).appendLong(id.getLeastSignificantBits()).getBytes();
    }

    // Handshake bodies: short-lived values on one socket's event loop, so the arrays are not copied.

    record Challenge(int version, UUID acceptorId, byte[] nonceA) {
        Buffer encode() {
            return appendBytes(appendUuid(Buffer.buffer(1 + 16 + 4 + NONCE_BYTES).appendUnsignedByte((short) version), acceptorId), nonceA);
        }

        static Challenge decode(Buffer body) {
            Reader in = new Reader(body);
            Challenge challenge = new Challenge(in.u8(), in.uuid(), in.bytes(NONCE_BYTES));
            in.end();
            return challenge;
        }
    }

    record Hello(int version, UUID dialerId, long incarnation, byte[] nonceD, byte[] macD) {
        Buffer encode() {
            Buffer b = Buffer.buffer(1 + 16 + 8 + 8 + NONCE_BYTES + MAC_BYTES).appendUnsignedByte((short) version);
            appendUuid(b, dialerId).appendLong(incarnation);
            return appendBytes(appendBytes(b, nonceD), macD);
        }

        static Hello decode(Buffer body) {
            Reader in = new Reader(body);
            Hello hello = new Hello(in.u8(), in.uuid(), in.u64(), in.bytes(NONCE_BYTES), in.bytes(MAC_BYTES));
            in.end();
            return hello;
        }
    }

    record Welcome(byte[] macA) {
        Buffer encode() {
            return appendBytes(Buffer.buffer(4 + MAC_BYTES), macA);
        }

        static Welcome decode(Buffer body) {
            Reader in = new Reader(body);
            Welcome welcome = new Welcome(in.bytes(MAC_BYTES));
            in.end();
            return welcome;
        }
    }

    /** A malformed handshake body. */
    static final class MalformedException extends RuntimeException {
        MalformedException(String message) {
            super(message, null, false, false);
        }
    }

    private static Buffer appendUuid(Buffer b, UUID id) {
        return b.appendLong(id.getMostSignificantBits()).appendLong(id.getLeastSignificantBits());
    }

    private static Buffer appendBytes(Buffer b, byte[] bytes) {
        return b.appendInt(bytes.length).appendBytes(bytes);
    }

    /** Bounds-checked reading of a handshake body; any violation is a {@link MalformedException}. */
    private static final class Reader {
        private final Buffer body;
        private int pos;

        Reader(Buffer body) {
            this.body = body;
        }

        private void need(int n) {
            if (body.length() - pos < n) {
                throw new MalformedException("handshake body truncated");
            }
        }

        int u8() {
            need(1);
            return body.getUnsignedByte(pos++);
        }

        long u64() {
            need(8);
            long v = body.getLong(pos);
            pos += 8;
            return v;
        }

        UUID uuid() {
            need(16);
            UUID id = new UUID(body.getLong(pos), body.getLong(pos + 8));
            pos += 16;
            return id;
        }

        byte[] bytes(int expectedLength) {
            need(4);
            long length = body.getUnsignedInt(pos);
            if (length != expectedLength) {
                throw new MalformedException("handshake field of " + length + " bytes, expected " + expectedLength);
            }
            pos += 4;
            need(expectedLength);
            byte[] bytes = body.getBytes(pos, pos + expectedLength);
            pos += expectedLength;
            return bytes;
        }

        void end() {
            if (pos != body.length()) {
                throw new MalformedException("trailing bytes in handshake body");
            }
        }
    }

    /** HMAC key over raw bytes; unlike {@code SecretKeySpec} it allows the empty key (RFC 2104 pads it with zeros). */
    private static final class RawKey implements SecretKey {
        private static final long serialVersionUID = 1L;
        private final byte[] bytes;

        RawKey(byte[] bytes) {
            this.bytes = bytes.clone();
        }

        @Override
        public String getAlgorithm() {
            return "HmacSHA256";
        }

        @Override
        public String getFormat() {
            return "RAW";
        }

        @Override
        public byte[] getEncoded() {
            return bytes.clone();
        }
    }
}
