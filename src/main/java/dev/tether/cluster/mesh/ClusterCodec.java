package dev.tether.cluster.mesh;

import dev.tether.cluster.Change;
import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.PublishedMessage;
import dev.tether.protocol.UserProperty;
import dev.tether.routing.Subscription;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The bodies of the frames replicas exchange: changes, forwarded messages, takeover requests. Hand-written binary
 * (big-endian integers, length-prefixed UTF-8 strings and byte arrays), the same on both ends of a link; no Java
 * serialization. Pure functions, usable from any thread.
 */
final class ClusterCodec {

    private static final int SUBSCRIBED = 1;
    private static final int UNSUBSCRIBED = 2;
    private static final int HOLDER = 3;
    private static final int RELEASED = 4;
    private static final int SESSIONS_REMOVED = 5;
    private static final int RETAINED = 6;

    private ClusterCodec() {
    }

    /** A message copy for a client connected on the receiving replica. */
    record Forward(String clientId, PublishedMessage message, int qos, List<Integer> subscriptionIds, long messageId) {
        Forward {
            subscriptionIds = List.copyOf(subscriptionIds);
        }
    }

    /** A request to close a client's connection as taken over. */
    record TakeoverRequest(String clientId, UUID connectionId, boolean newCleanStart) {
    }

    static Buffer encode(Change change) {
        Buffer b = Buffer.buffer(64);
        if (change instanceof Change.Subscribed s) {
            b.appendByte((byte) SUBSCRIBED);
            string(b, s.clientId());
            b.appendLong(s.epoch());
            b.appendByte((byte) (s.durable() ? 1 : 0));
            b.appendInt(s.subscriptions().size());
            for (Subscription sub : s.subscriptions()) {
                string(b, sub.topicFilter());
                b.appendByte((byte) sub.qos());
                b.appendByte((byte) ((sub.noLocal() ? 1 : 0) | (sub.retainAsPublished() ? 2 : 0)));
                b.appendByte((byte) sub.retainHandling());
                b.appendInt(sub.subscriptionIdentifier());
            }
        } else if (change instanceof Change.Unsubscribed u) {
            b.appendByte((byte) UNSUBSCRIBED);
            string(b, u.clientId());
            b.appendLong(u.epoch());
            strings(b, u.topicFilters());
        } else if (change instanceof Change.HolderChanged h) {
            b.appendByte((byte) HOLDER);
            string(b, h.clientId());
            uuid(b, h.instanceId());
            b.appendLong(h.epoch());
            b.appendByte((byte) ((h.durable() ? 1 : 0) | (h.dropSubscriptions() ? 2 : 0)));
        } else if (change instanceof Change.Released r) {
            b.appendByte((byte) RELEASED);
            string(b, r.clientId());
            b.appendLong(r.epoch());
            b.appendByte((byte) (r.durable() ? 1 : 0));
        } else if (change instanceof Change.SessionsRemoved r) {
            b.appendByte((byte) SESSIONS_REMOVED);
            strings(b, r.clientIds());
        } else if (change instanceof Change.RetainedSet r) {
            b.appendByte((byte) RETAINED);
            message(b, r.message());
        }
        return b;
    }

    static Change decodeChange(Buffer b) {
        Reader r = new Reader(b);
        int kind = r.u8();
        return switch (kind) {
            case SUBSCRIBED -> {
                String clientId = r.string();
                long epoch = r.i64();
                boolean durable = r.u8() == 1;
                int n = r.i32();
                List<Subscription> subs = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    String filter = r.string();
                    int qos = r.u8();
                    int flags = r.u8();
                    int retainHandling = r.u8();
                    int id = r.i32();
                    subs.add(new Subscription(clientId, filter, qos, (flags & 1) != 0, (flags & 2) != 0, retainHandling, id));
                }
                yield new Change.Subscribed(clientId, epoch, durable, subs);
            }
            case UNSUBSCRIBED -> new Change.Unsubscribed(r.string(), r.i64(), r.strings());
            case HOLDER -> {
                String clientId = r.string();
                UUID instance = r.uuid();
                long epoch = r.i64();
                int flags = r.u8();
                yield new Change.HolderChanged(clientId, instance, epoch, (flags & 1) != 0, (flags & 2) != 0);
            }
            case RELEASED -> new Change.Released(r.string(), r.i64(), r.u8() == 1);
            case SESSIONS_REMOVED -> new Change.SessionsRemoved(r.strings());
            case RETAINED -> new Change.RetainedSet(r.message());
            default -> throw new IllegalArgumentException("unknown change kind " + kind);
        };
    }

    static Buffer encode(Forward f) {
        Buffer b = Buffer.buffer(64 + f.message().payloadSize());
        string(b, f.clientId());
        b.appendLong(f.messageId());
        b.appendByte((byte) f.qos());
        b.appendInt(f.subscriptionIds().size());
        f.subscriptionIds().forEach(b::appendInt);
        message(b, f.message());
        return b;
    }

    static Forward decodeForward(Buffer b) {
        Reader r = new Reader(b);
        String clientId = r.string();
        long messageId = r.i64();
        int qos = r.u8();
        int n = r.i32();
        List<Integer> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ids.add(r.i32());
        }
        return new Forward(clientId, r.message(), qos, ids, messageId);
    }

    static Buffer encode(TakeoverRequest t) {
        Buffer b = Buffer.buffer(32);
        string(b, t.clientId());
        uuid(b, t.connectionId());
        b.appendByte((byte) (t.newCleanStart() ? 1 : 0));
        return b;
    }

    static TakeoverRequest decodeTakeover(Buffer b) {
        Reader r = new Reader(b);
        return new TakeoverRequest(r.string(), r.uuid(), r.u8() == 1);
    }

    // ---- primitives ------------------------------------------------------------------------------

    private static void message(Buffer b, PublishedMessage m) {
        string(b, m.topic());
        bytes(b, m.payload());
        b.appendByte((byte) m.qos());
        b.appendByte((byte) (m.retain() ? 1 : 0));
        MessageProperties p = m.properties();
        b.appendInt(p.payloadFormatIndicator() == null ? -1 : p.payloadFormatIndicator());
        nullableString(b, p.contentType());
        nullableString(b, p.responseTopic());
        byte[] correlation = p.correlationData();
        b.appendInt(correlation == null ? -1 : correlation.length);
        if (correlation != null) {
            b.appendBytes(correlation);
        }
        b.appendInt(p.userProperties().size());
        for (UserProperty u : p.userProperties()) {
            string(b, u.key());
            string(b, u.value());
        }
        b.appendLong(m.expiresAt() == null ? Long.MIN_VALUE : m.expiresAt().getEpochSecond());
        b.appendInt(m.expiresAt() == null ? 0 : m.expiresAt().getNano());
        nullableString(b, m.publisherClientId());
    }

    private static void string(Buffer b, String s) {
        bytes(b, s.getBytes(StandardCharsets.UTF_8));
    }

    private static void nullableString(Buffer b, String s) {
        if (s == null) {
            b.appendInt(-1);
        } else {
            string(b, s);
        }
    }

    private static void strings(Buffer b, List<String> list) {
        b.appendInt(list.size());
        list.forEach(s -> string(b, s));
    }

    private static void bytes(Buffer b, byte[] bytes) {
        b.appendInt(bytes.length);
        b.appendBytes(bytes);
    }

    private static void uuid(Buffer b, UUID id) {
        b.appendLong(id.getMostSignificantBits());
        b.appendLong(id.getLeastSignificantBits());
    }

    /** Reads a body front to back; a truncated body throws (the link is then closed by the caller). */
    private static final class Reader {
        private final Buffer b;
        private int pos;

        Reader(Buffer b) {
            this.b = b;
        }

        int u8() {
            return b.getUnsignedByte(pos++);
        }

        int i32() {
            int v = b.getInt(pos);
            pos += 4;
            return v;
        }

        long i64() {
            long v = b.getLong(pos);
            pos += 8;
            return v;
        }

        UUID uuid() {
            return new UUID(i64(), i64());
        }

        byte[] bytesOrNull() {
            int n = i32();
            if (n < 0) {
                return null;
            }
            byte[] out = b.getBytes(pos, pos + n);
            pos += n;
            return out;
        }

        String string() {
            byte[] raw = bytesOrNull();
            if (raw == null) {
                throw new IllegalArgumentException("string expected");
            }
            return new String(raw, StandardCharsets.UTF_8);
        }

        String nullableString() {
            byte[] raw = bytesOrNull();
            return raw == null ? null : new String(raw, StandardCharsets.UTF_8);
        }

        List<String> strings() {
            int n = i32();
            List<String> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(string());
            }
            return out;
        }

        PublishedMessage message() {
            String topic = string();
            byte[] payload = bytesOrNull();
            int qos = u8();
            boolean retain = u8() == 1;
            int pfi = i32();
            String contentType = nullableString();
            String responseTopic = nullableString();
            byte[] correlation = bytesOrNull();
            int n = i32();
            List<UserProperty> users = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                users.add(new UserProperty(string(), string()));
            }
            long seconds = i64();
            int nanos = i32();
            String publisher = nullableString();
            return new PublishedMessage(topic, payload, qos, retain,
                    new MessageProperties(pfi < 0 ? null : pfi, contentType, responseTopic, correlation, users),
                    seconds == Long.MIN_VALUE ? null : Instant.ofEpochSecond(seconds, nanos), publisher);
        }
    }
}
