package dev.tether.listener;

import static dev.tether.testing.MqttPackets.concat;
import static dev.tether.testing.MqttPackets.propertiesBlock;
import static dev.tether.testing.MqttPackets.uint16;
import static dev.tether.testing.MqttPackets.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tether.auth.acl.AclRules;
import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.Subscription;
import dev.tether.routing.TopicNames;
import dev.tether.testing.MqttPackets;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttTopicSubscription;
import io.netty.handler.codec.mqtt.MqttUnsubscribeMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Hostile bytes through the broker's inbound pipeline ({@link FirstPacketGuard} then Netty's MQTT decoder, as
 * {@link MqttListener} builds it), then through the broker's own reading of the decoded packets. Every input must end
 * in decoded packets or one clean decoder failure (see {@link PacketPipeline#feed}), release its buffers, and agree
 * with a reference reading of the same bytes.
 *
 * <p>Without {@code JAZZER_FUZZ} each method replays its inputs under
 * {@code src/test/resources/dev/tether/listener/PacketDecodingFuzzTestInputs/}; README "Development" says how to fuzz.
 */
class PacketDecodingFuzzTest {

    private static final int LEVEL_3_1_1 = 4;
    private static final int LEVEL_5 = 5;
    /** The guard inspects a CONNECT only while it has held less than this (FirstPacketGuard.MAX_HELD). */
    private static final int GUARD_HOLDS = 64 * 1024;

    /** Property identifiers of MQTT 5 (§2.2.2.2), each with its wire type. */
    private static final int[] PROPERTY_IDS = {0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17,
            0x18, 0x19, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A};

    // ---- fixed header and Remaining Length -------------------------------------------------------------

    /**
     * Any bytes after a valid CONNECT (or instead of one): each packet decoded has the type and Remaining Length a
     * reference reading of the fixed header gives, a Remaining Length over four bytes is a failure, and every complete
     * packet comes out unless a failure came first (no stall).
     */
    @FuzzTest
    void fixedHeaderAndRemainingLength(byte[] data) {
        if (data.length == 0) {
            return;
        }
        int mode = data[0] & 3;
        byte[] rest = java.util.Arrays.copyOfRange(data, 1, data.length);
        byte[] prefix = mode == 0 ? new byte[0]
                : MqttPackets.connect(mode == 1 ? LEVEL_3_1_1 : LEVEL_5, "fuzz").build();
        byte[] bytes = concat(prefix, rest);
        if (bytes.length == 0) {
            return;
        }
        List<Frame> frames = Frame.readAll(bytes);
        PacketPipeline.feed(bytes, out -> {
            if ((bytes[0] & 0xF0) != 0x10) {
                assertThat(out.packets()).as("nothing passes a first packet other than CONNECT").isEmpty();
                assertThat(out.open()).as("[MQTT-3.1.0-1] connection closed").isFalse();
                return;
            }
            List<MqttMessage> decoded = out.decoded();
            for (int i = 0; i < decoded.size(); i++) {
                Frame f = frames.get(i);
                MqttMessage m = decoded.get(i);
                assertThat(f.status()).as("packet %d decoded from complete bytes", i).isEqualTo(Frame.Status.COMPLETE);
                assertThat(m.fixedHeader().messageType().value()).as("type of packet %d", i).isEqualTo(f.type());
                assertThat(m.fixedHeader().remainingLength()).as("Remaining Length of packet %d", i)
                        .isEqualTo(f.remainingLength());
            }
            if (!out.failed()) {
                assertThat(frames).as("a Remaining Length of five bytes is malformed [MQTT-1.5.5]")
                        .noneMatch(f -> f.status() == Frame.Status.MALFORMED);
                assertThat(decoded).as("every complete packet comes out")
                        .hasSize((int) frames.stream().filter(f -> f.status() == Frame.Status.COMPLETE).count());
            }
        });
    }

    /** One fixed header read the simple way (§2.1, §1.5.5). */
    record Frame(int type, int remainingLength, Status status) {
        enum Status { COMPLETE, INCOMPLETE, MALFORMED }

        static List<Frame> readAll(byte[] b) {
            List<Frame> frames = new ArrayList<>();
            int i = 0;
            while (i < b.length) {
                int type = (b[i] & 0xFF) >> 4;
                int j = i + 1;
                int value = 0;
                int multiplier = 1;
                for (int n = 1; ; n++) {
                    if (j >= b.length) {
                        frames.add(new Frame(type, -1, Status.INCOMPLETE));
                        return frames;
                    }
                    int digit = b[j++] & 0xFF;
                    value += (digit & 0x7F) * multiplier;
                    if ((digit & 0x80) == 0) {
                        break;
                    }
                    if (n == 4) {
                        frames.add(new Frame(type, -1, Status.MALFORMED));
                        return frames;
                    }
                    multiplier *= 128;
                }
                if ((long) j + value > b.length) {
                    frames.add(new Frame(type, value, Status.INCOMPLETE));
                    return frames;
                }
                frames.add(new Frame(type, value, Status.COMPLETE));
                i = j + value;
            }
            return frames;
        }
    }

    // ---- CONNECT -----------------------------------------------------------------------------------------

    /**
     * A CONNECT with fuzzed fields, delivered in fuzzed pieces: decoded, it carries the version, Client Identifier and
     * will it was built with; the guard marks a duplicated property exactly when the properties written hold one; and
     * the broker's reading of it (ConnectHandshake's property look-ups, the will's properties) never throws.
     */
    @FuzzTest
    void connect(FuzzedDataProvider d) {
        int level = d.pickValue(new int[] {3, 4, 5, 5, 5, d.consumeInt(0, 255)});
        String name = d.consumeBoolean() ? (level == 3 ? "MQIsdp" : "MQTT") : d.consumeString(8);
        int flags = d.consumeInt(0, 255);
        boolean will = (flags & 0x04) != 0;
        boolean hasUser = (flags & 0x80) != 0;
        boolean hasPassword = (flags & 0x40) != 0;
        byte[] props = level == LEVEL_5 ? properties(d) : new byte[0];
        String clientId = d.consumeString(d.consumeBoolean() ? 300 : 24);
        byte[] willProps = will && level == LEVEL_5 ? properties(d) : new byte[0];
        String willTopic = will ? d.consumeString(40) : null;
        byte[] willPayload = will ? d.consumeBytes(40) : null;
        String user = hasUser ? d.consumeString(24) : null;
        byte[] password = hasPassword ? d.consumeBytes(24) : null;

        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(utf8(name));
        body.write(level);
        body.write(flags);
        body.writeBytes(uint16(d.consumeInt(0, 65535)));
        if (level == LEVEL_5) {
            body.writeBytes(propertiesBlock(props));
        }
        body.writeBytes(utf8(clientId));
        if (will) {
            if (level == LEVEL_5) {
                body.writeBytes(propertiesBlock(willProps));
            }
            body.writeBytes(utf8(willTopic));
            body.writeBytes(MqttPackets.binary(willPayload));
        }
        if (hasUser) {
            body.writeBytes(utf8(user));
        }
        if (hasPassword) {
            body.writeBytes(MqttPackets.binary(password));
        }
        byte[] connect = MqttPackets.packet(MqttPackets.CONNECT, d.consumeBoolean() ? 0 : d.consumeInt(0, 15),
                body.toByteArray());
        byte[] bytes = concat(connect, d.consumeBytes(64));
        int[] cuts = d.consumeInts(4);
        Verdict verdict = level == LEVEL_5 ? verdict(props) : Verdict.CLEAN;
        PacketPipeline.feed(PacketPipeline.split(bytes, cuts), out -> {
            if (verdict == Verdict.MULTI_BYTE_ID && connect.length < GUARD_HOLDS) {
                assertThat(out.packets()).as("[MQTT-1.5.5-1] a two-byte Property Identifier: nothing decoded").isEmpty();
                assertThat(out.open()).as("connection closed").isFalse();
                return;
            }
            if (out.decoded().isEmpty()) {
                return;
            }
            MqttMessage first = out.packets().get(0);
            assertThat(first).isInstanceOf(MqttConnectMessage.class);
            MqttConnectMessage c = (MqttConnectMessage) first;
            int decodedLevel = c.variableHeader().version();
            assertThat(decodedLevel).as("protocol level").isEqualTo(level).isIn(3, 4, 5);
            assertThat(c.payload().clientIdentifier()).as("Client Identifier").isEqualTo(roundTrip(clientId));
            assertThat(c.variableHeader().isWillFlag()).isEqualTo(will);
            if (will) {
                assertThat(c.payload().willTopic()).isEqualTo(roundTrip(willTopic));
                assertThat(c.payload().willMessageInBytes()).isEqualTo(willPayload);
            }
            if (level == LEVEL_5 && connect.length < GUARD_HOLDS) {
                assertThat(out.duplicateProperty()).as("guard's duplicate-property mark for %s",
                        ByteBufUtil.hexDump(props)).isEqualTo(verdict == Verdict.DUPLICATE);
            }
            MqttProperties p = c.variableHeader().properties();
            MqttProperties wp = c.payload().willProperties();
            assertThatCode(() -> {
                for (MqttPropertyType t : List.of(MqttPropertyType.RECEIVE_MAXIMUM, MqttPropertyType.MAXIMUM_PACKET_SIZE,
                        MqttPropertyType.TOPIC_ALIAS_MAXIMUM, MqttPropertyType.REQUEST_RESPONSE_INFORMATION,
                        MqttPropertyType.SESSION_EXPIRY_INTERVAL)) {
                    NettyPackets.unsignedInt(p, t);
                }
                if (will) {
                    NettyPackets.unsignedInt(wp, MqttPropertyType.WILL_DELAY_INTERVAL);
                    NettyPackets.unsignedInt(wp, MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL);
                    NettyPackets.messageProperties(wp);
                    TopicNames.isValidTopicName(c.payload().willTopic());
                }
                AclRules.isUnsafeIdentity(c.payload().clientIdentifier());
                AclRules.isUnsafeIdentity(c.payload().userName());
            }).as("the broker's reading of the CONNECT").doesNotThrowAnyException();
        });
    }

    // ---- PUBLISH -----------------------------------------------------------------------------------------

    /**
     * A PUBLISH with fuzzed flags, topic, Packet Identifier, properties and payload after a valid CONNECT: QoS 3 and
     * Packet Identifier 0 at QoS 1/2 never decode; a decoded PUBLISH carries what was written; the broker's checks
     * and its conversion to a stored message never throw and keep payload, QoS, retain and user properties.
     */
    @FuzzTest
    void publishWithProperties(FuzzedDataProvider d) {
        int level = d.consumeBoolean() ? LEVEL_5 : LEVEL_3_1_1;
        int qos = d.consumeInt(0, 3);
        boolean retain = d.consumeBoolean();
        boolean dup = d.consumeBoolean();
        int packetId = d.consumeInt(0, 65535);
        String topic = d.consumeString(80);
        byte[] props = properties(d);
        byte[] payload = d.consumeBytes(200);
        byte[] publish = MqttPackets.publish(level, topic, qos, retain, dup, packetId, payload, props);
        byte[] bytes = concat(MqttPackets.connect(level, "fuzz").build(), publish, d.consumeRemainingAsBytes());
        PacketPipeline.feed(bytes, out -> {
            List<MqttMessage> decoded = out.decoded();
            if (decoded.size() < 2) {
                return;
            }
            MqttPublishMessage p = (MqttPublishMessage) decoded.get(1);
            assertThat(qos).as("[MQTT-3.3.1-4] QoS 3 is malformed").isLessThan(3);
            assertThat(p.fixedHeader().qosLevel().value()).isEqualTo(qos);
            if (qos > 0) {
                assertThat(packetId).as("[MQTT-2.2.1-3] Packet Identifier 0").isNotZero();
                assertThat(p.variableHeader().packetId()).isEqualTo(packetId);
            }
            // Netty 4.1.137 reads some properties to another length than the block's: misplaced ones (three Server
            // References). Blocks of 128 bytes or more, which it misread too (their last short property became the
            // start of the payload), are rearranged by PropertyBlockRepair and checked like the others.
            boolean wellFormed = level == LEVEL_3_1_1 || (wellFormed(props) && onlyPublishProperties(props));
            if (wellFormed) {
                assertThat(p.variableHeader().topicName()).isEqualTo(roundTrip(topic));
                assertThat(ByteBufUtil.getBytes(p.payload())).as("payload of %s", ByteBufUtil.hexDump(publish)).isEqualTo(payload);
            }
            boolean mqtt5 = level == LEVEL_5;
            PublishedMessage[] stored = new PublishedMessage[1];
            assertThatCode(() -> {
                TopicNames.isValidTopicName(p.variableHeader().topicName());
                if (mqtt5) {
                    NettyPackets.unsignedInt(p.variableHeader().properties(), MqttPropertyType.TOPIC_ALIAS);
                    PayloadFormat.isValid(p);
                }
                stored[0] = NettyPackets.published(p, p.variableHeader().topicName(), "fuzz", Instant.EPOCH, mqtt5);
            }).as("the broker's reading of the PUBLISH").doesNotThrowAnyException();
            assertThat(stored[0].payload()).isEqualTo(ByteBufUtil.getBytes(p.payload()));
            assertThat(stored[0].qos()).isEqualTo(qos);
            assertThat(stored[0].retain()).isEqualTo(retain);
            if (mqtt5) {
                assertThat(stored[0].properties().userProperties())
                        .hasSize(p.variableHeader().properties().getProperties(MqttPropertyType.USER_PROPERTY.value()).size());
            }
        });
    }

    // ---- SUBSCRIBE and UNSUBSCRIBE -----------------------------------------------------------------------

    /**
     * SUBSCRIBE or UNSUBSCRIBE with fuzzed fixed-header flags, properties, filters and options after a valid CONNECT:
     * reserved flags other than 0010 never decode [MQTT-3.8.1-1, MQTT-3.10.1-1]; a decoded packet has the filters
     * written; options decode to QoS 0..2 and Retain Handling 0..2; and every filter the broker's validation accepts
     * makes a {@link Subscription} without an exception, as SubscribeHandler builds it.
     */
    @FuzzTest
    void subscribeAndUnsubscribe(FuzzedDataProvider d) {
        int level = d.consumeBoolean() ? LEVEL_5 : LEVEL_3_1_1;
        boolean subscribe = d.consumeBoolean();
        int flags = d.consumeBoolean() ? 0b0010 : d.consumeInt(0, 15);
        int packetId = d.consumeInt(0, 65535);
        byte[] props = properties(d);
        int count = d.consumeInt(0, 4);
        List<String> filters = new ArrayList<>();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(uint16(packetId));
        if (level == LEVEL_5) {
            body.writeBytes(propertiesBlock(props));
        }
        for (int i = 0; i < count; i++) {
            String filter = d.consumeString(40);
            filters.add(filter);
            body.writeBytes(utf8(filter));
            if (subscribe) {
                body.write(d.consumeInt(0, 255));
            }
        }
        byte[] packet = MqttPackets.packet(subscribe ? MqttPackets.SUBSCRIBE : MqttPackets.UNSUBSCRIBE, flags,
                body.toByteArray());
        byte[] bytes = concat(MqttPackets.connect(level, "fuzz").build(), packet, d.consumeRemainingAsBytes());
        PacketPipeline.feed(bytes, out -> {
            List<MqttMessage> decoded = out.decoded();
            if (decoded.size() < 2) {
                return;
            }
            assertThat(flags).as("reserved flags").isEqualTo(0b0010);
            assertThat(packetId).as("[MQTT-2.2.1-3] Packet Identifier 0").isNotZero();
            boolean mqtt5 = level == LEVEL_5;
            boolean wellFormed = !mqtt5 || wellFormed(props); // else Netty may read another length than the block's
            if (!subscribe) {
                MqttUnsubscribeMessage u = (MqttUnsubscribeMessage) decoded.get(1);
                if (wellFormed) {
                    assertThat(u.payload().topics()).containsExactlyElementsOf(filters.stream().map(f -> roundTrip(f)).toList());
                }
                u.payload().topics().forEach(TopicNames::isValidTopicFilter);
                return;
            }
            MqttSubscribeMessage s = (MqttSubscribeMessage) decoded.get(1);
            List<MqttTopicSubscription> subs = s.payload().topicSubscriptions();
            if (wellFormed) {
                assertThat(subs).extracting(MqttTopicSubscription::topicName)
                        .containsExactlyElementsOf(filters.stream().map(f -> roundTrip(f)).toList());
            }
            long subscriptionId = mqtt5 ? NettyPackets.unsignedInt(s.idAndPropertiesVariableHeader().properties(),
                    MqttPropertyType.SUBSCRIPTION_IDENTIFIER).orElse(0L) : 0;
            for (MqttTopicSubscription t : subs) {
                var o = t.option();
                assertThat(o.qos().value()).as("[MQTT-3.8.3-4] QoS").isBetween(0, 2);
                assertThat(o.retainHandling().value()).as("Retain Handling").isBetween(0, 2);
                if (TopicNames.isValidTopicFilter(t.topicName()) && !(mqtt5 && o.isNoLocal() && TopicNames.isShared(t.topicName()))) {
                    assertThatCode(() -> new Subscription("fuzz", t.topicName(), o.qos().value(), mqtt5 && o.isNoLocal(),
                            mqtt5 && o.isRetainAsPublished(), mqtt5 ? o.retainHandling().value() : 0, (int) subscriptionId))
                            .as("subscription to %s", t.topicName()).doesNotThrowAnyException();
                }
            }
        });
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    /** Raw properties: well-formed ones of any known identifier (repeats likely), or fuzzed bytes. */
    private static byte[] properties(FuzzedDataProvider d) {
        if (d.consumeInt(0, 7) == 0) {
            return d.consumeBytes(d.consumeInt(0, 24));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = d.consumeInt(0, 5);
        for (int i = 0; i < n; i++) {
            int id = d.pickValue(PROPERTY_IDS);
            out.writeBytes(switch (MqttPackets.propertyType(id)) {
                case BYTE -> MqttPackets.propertyByte(id, d.consumeInt(0, 255));
                case TWO_BYTE_INTEGER -> MqttPackets.propertyTwoByteInteger(id, d.consumeInt(0, 65535));
                case FOUR_BYTE_INTEGER -> MqttPackets.propertyFourByteInteger(id, d.consumeLong(0, 0xFFFF_FFFFL));
                case VARIABLE_BYTE_INTEGER -> MqttPackets.propertyVariableByteInteger(id,
                        d.consumeInt(0, MqttPackets.VARIABLE_BYTE_INTEGER_MAX));
                case UTF8_STRING -> MqttPackets.propertyString(id, d.consumeString(16));
                case BINARY -> MqttPackets.propertyBinary(id, d.consumeBytes(16));
                case UTF8_STRING_PAIR -> MqttPackets.property(id, d.consumeString(8), d.consumeString(8));
            });
        }
        return out.toByteArray();
    }

    /** What the first notable thing in raw CONNECT properties is, read one property after another (§2.2.2.2). */
    enum Verdict { CLEAN, DUPLICATE, MULTI_BYTE_ID }

    static Verdict verdict(byte[] raw) {
        BitSet seen = new BitSet(256);
        int p = 0;
        while (p < raw.length) {
            int id = raw[p++] & 0xFF;
            if (id >= 0x80) {
                return Verdict.MULTI_BYTE_ID;
            }
            if (id != MqttPackets.USER_PROPERTY && seen.get(id)) {
                return Verdict.DUPLICATE;
            }
            seen.set(id);
            int size = valueSize(raw, id, p);
            if (size < 0) {
                return Verdict.CLEAN; // unreadable from here: the decoder judges it
            }
            p += size;
        }
        return Verdict.CLEAN;
    }

    /** Whether raw properties read as known properties with one-byte identifiers that end exactly at the block's end. */
    static boolean wellFormed(byte[] raw) {
        int p = 0;
        while (p < raw.length) {
            int id = raw[p++] & 0xFF;
            int size = valueSize(raw, id, p);
            if (size < 0 || p + size > raw.length) {
                return false;
            }
            p += size;
        }
        return true;
    }

    /** Whether well-formed raw properties are all PUBLISH properties (§3.3.2.3), none repeated but User Property. */
    static boolean onlyPublishProperties(byte[] raw) {
        BitSet seen = new BitSet(256);
        int p = 0;
        while (p < raw.length) {
            int id = raw[p++] & 0xFF;
            boolean allowed = id == 0x01 || id == 0x02 || id == 0x03 || id == 0x08 || id == 0x09 || id == 0x23 || id == 0x26;
            if (!allowed || (id != MqttPackets.USER_PROPERTY && seen.get(id))) {
                return false;
            }
            seen.set(id);
            p += valueSize(raw, id, p);
        }
        return true;
    }

    /** The size of a property's value at {@code p}, or -1 for an unknown identifier or a value past the end. */
    private static int valueSize(byte[] raw, int id, int p) {
        boolean known = false;
        for (int k : PROPERTY_IDS) {
            known |= k == id;
        }
        if (!known) {
            return -1;
        }
        try {
            return switch (MqttPackets.propertyType(id)) {
                case BYTE -> 1;
                case TWO_BYTE_INTEGER -> 2;
                case FOUR_BYTE_INTEGER -> 4;
                case VARIABLE_BYTE_INTEGER -> {
                    int n = 0;
                    while (n < 4 && p + n < raw.length && (raw[p + n] & 0x80) != 0) {
                        n++;
                    }
                    yield n < 4 && p + n < raw.length ? n + 1 : -1;
                }
                case UTF8_STRING, BINARY -> 2 + uint16At(raw, p);
                case UTF8_STRING_PAIR -> {
                    int first = 2 + uint16At(raw, p);
                    yield first + 2 + uint16At(raw, p + first);
                }
            };
        } catch (ArrayIndexOutOfBoundsException e) {
            return -1;
        }
    }

    private static int uint16At(byte[] b, int at) {
        return ((b[at] & 0xFF) << 8) | (b[at + 1] & 0xFF);
    }

    /** A Java string as it reads back from UTF-8 (an unpaired surrogate becomes '?'). */
    private static String roundTrip(String s) {
        return new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }
}
