package dev.tether.listener;

import static dev.tether.testing.MqttPackets.concat;
import static dev.tether.testing.MqttPackets.propertiesBlock;
import static dev.tether.testing.MqttPackets.uint16;
import static dev.tether.testing.MqttPackets.userProperty;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.MqttPackets;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageIdAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttPubReplyMessageVariableHeader;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttUnsubscribeMessage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Properties blocks of 128 bytes or more (a Property Length of two bytes and more) that end in a short property, on
 * the broker's inbound pipeline: each packet decodes to exactly the properties and payload written. Before
 * {@link PropertyBlockRepair}, Netty 4.1.137 dropped the last property and read it as the start of the payload.
 */
class PropertyBlockRepairTest {

    private static final byte[] CONNECT = MqttPackets.connect(5, "repair").build();
    /** 131 bytes: Property Length 0x83 0x01. */
    private static final byte[] LONG_USER_PROPERTY = userProperty("k", "v".repeat(125));
    private static final byte[] PAYLOAD_FORMAT_UTF8 = {MqttPackets.PAYLOAD_FORMAT_INDICATOR, 1};
    private static final byte[] BLOCK = concat(LONG_USER_PROPERTY, PAYLOAD_FORMAT_UTF8);

    @Test
    void publish_whenLongBlockEndsInShortProperty_thenPropertiesAndPayloadAsWritten() {
        for (int qos = 0; qos <= 2; qos++) {
            byte[] publish = MqttPackets.publish(5, "t/a", qos, false, false, 7, "AB".getBytes(), BLOCK);
            second(publish, m -> {
                MqttPublishMessage p = (MqttPublishMessage) m;
                assertThat(ByteBufUtil.getBytes(p.payload())).isEqualTo("AB".getBytes());
                assertThat(described(p.variableHeader().properties())).isEqualTo(described(BLOCK));
            });
        }
    }

    @Test
    void publish_whenNoPayloadAfterLongBlock_thenPropertiesWholeAndPayloadEmpty() {
        // Property Length L + 2 would make 4.1.137 wait for two bytes past the packet: the rearranging does not.
        byte[] publish = MqttPackets.publish(5, "t/a", 1, true, false, 7, new byte[0], BLOCK);
        second(publish, m -> {
            MqttPublishMessage p = (MqttPublishMessage) m;
            assertThat(p.payload().readableBytes()).isZero();
            assertThat(described(p.variableHeader().properties())).isEqualTo(described(BLOCK));
        });
    }

    @Test
    void publish_whenShortPropertiesBetweenUserProperties_thenUserPropertiesKeepTheirOrder() {
        // The Payload Format Indicator moves to the front of the block, ahead of the user properties.
        byte[] block = concat(userProperty("first", "1".repeat(70)),
                MqttPackets.propertyFourByteInteger(MqttPackets.MESSAGE_EXPIRY_INTERVAL, 60),
                userProperty("second", "2".repeat(70)), MqttPackets.propertyTwoByteInteger(MqttPackets.TOPIC_ALIAS, 3),
                PAYLOAD_FORMAT_UTF8);
        byte[] publish = MqttPackets.publish(5, "t/a", 0, false, false, 0, "AB".getBytes(), block);
        second(publish, m -> {
            MqttPublishMessage p = (MqttPublishMessage) m;
            assertThat(ByteBufUtil.getBytes(p.payload())).isEqualTo("AB".getBytes());
            assertThat(described(p.variableHeader().properties())).isEqualTo(described(block));
        });
    }

    @Test
    void publish_whenThreeByteLengthBlockEndsInTopicAlias_thenReadWhole() {
        byte[] block = concat(userProperty("k", "v".repeat(20_000)),
                MqttPackets.propertyTwoByteInteger(MqttPackets.TOPIC_ALIAS, 3));
        byte[] publish = MqttPackets.publish(5, "t/a", 0, false, false, 0, "AB".getBytes(), block);
        second(publish, m -> {
            MqttPublishMessage p = (MqttPublishMessage) m;
            assertThat(ByteBufUtil.getBytes(p.payload())).isEqualTo("AB".getBytes());
            assertThat(described(p.variableHeader().properties())).isEqualTo(described(block));
        });
    }

    @Test
    void publish_whenLongBlockOfShortPropertiesOnly_thenMalformed() {
        byte[] block = new byte[130]; // 65 Payload Format Indicators: a Protocol Error the decoder would misread
        for (int i = 0; i < block.length; i += 2) {
            block[i] = MqttPackets.PAYLOAD_FORMAT_INDICATOR;
        }
        byte[] publish = MqttPackets.publish(5, "t/a", 0, false, false, 0, "AB".getBytes(), block);
        PacketPipeline.feed(concat(CONNECT, publish), out -> {
            assertThat(out.decoded()).hasSize(1);
            assertThat(out.failed()).isTrue();
        });
    }

    @Test
    void publish_whenMqtt311_thenBytesUntouched() {
        byte[] publish = MqttPackets.publish(4, "t/a", 0, false, false, 0, concat(new byte[]{(byte) 0x80, 1}, BLOCK), null);
        PacketPipeline.feed(concat(MqttPackets.connect(4, "old").build(), publish), out -> {
            MqttPublishMessage p = (MqttPublishMessage) out.decoded().get(1);
            assertThat(ByteBufUtil.getBytes(p.payload())).isEqualTo(concat(new byte[]{(byte) 0x80, 1}, BLOCK));
        });
    }

    @Test
    void connect_whenLongBlocksEndInShortProperties_thenPropertiesAndWillPropertiesAsWritten() {
        byte[] connectBlock = concat(LONG_USER_PROPERTY, new byte[]{MqttPackets.REQUEST_PROBLEM_INFORMATION, 0});
        byte[] connect = MqttPackets.connect(5, "repair").extraProperties(connectBlock)
                .will("w/t", "bye".getBytes(), 1, false).willExtraProperties(BLOCK).username("u").build();
        PacketPipeline.feed(connect, out -> {
            MqttConnectMessage c = (MqttConnectMessage) out.decoded().get(0);
            assertThat(described(c.variableHeader().properties())).isEqualTo(described(connectBlock));
            assertThat(described(c.payload().willProperties())).isEqualTo(described(BLOCK));
            assertThat(c.payload().willTopic()).isEqualTo("w/t");
            assertThat(c.payload().willMessageInBytes()).isEqualTo("bye".getBytes());
            assertThat(c.payload().userName()).isEqualTo("u");
        });
    }

    @Test
    void publishAcks_whenLongBlockEndsInShortProperty_thenPropertiesAsWritten() {
        int[][] typeAndFlags = {{MqttPackets.PUBACK, 0}, {MqttPackets.PUBREC, 0}, {MqttPackets.PUBREL, 2},
                {MqttPackets.PUBCOMP, 0}};
        for (int[] t : typeAndFlags) {
            byte[] ack = MqttPackets.publishAck(t[0], t[1], 9, 5, 0x10, BLOCK);
            second(ack, m -> {
                MqttPubReplyMessageVariableHeader h = (MqttPubReplyMessageVariableHeader) m.variableHeader();
                assertThat(h.messageId()).isEqualTo(9);
                assertThat(h.reasonCode()).isEqualTo((byte) 0x10);
                assertThat(described(h.properties())).as("type %d", t[0]).isEqualTo(described(BLOCK));
            });
        }
    }

    @Test
    void subscribeAndUnsubscribe_whenLongBlockEndsInShortProperty_thenPropertiesAndFiltersAsWritten() {
        byte[] block = concat(LONG_USER_PROPERTY, MqttPackets.propertyVariableByteInteger(MqttPackets.SUBSCRIPTION_IDENTIFIER, 5));
        byte[] subscribe = MqttPackets.subscribe(3, 5, block, new MqttPackets.Subscription("a/#", 1));
        second(subscribe, m -> {
            MqttSubscribeMessage s = (MqttSubscribeMessage) m;
            assertThat(described(s.idAndPropertiesVariableHeader().properties())).isEqualTo(described(block));
            assertThat(s.payload().topicSubscriptions()).singleElement()
                    .satisfies(sub -> assertThat(sub.topicFilter()).isEqualTo("a/#"));
        });

        byte[] unsubscribe = MqttPackets.packet(MqttPackets.UNSUBSCRIBE, 2,
                concat(uint16(4), propertiesBlock(BLOCK), MqttPackets.utf8("a/#")));
        second(unsubscribe, m -> {
            MqttUnsubscribeMessage u = (MqttUnsubscribeMessage) m;
            MqttMessageIdAndPropertiesVariableHeader h = u.idAndPropertiesVariableHeader();
            assertThat(described(h.properties())).isEqualTo(described(BLOCK));
            assertThat(u.payload().topics()).containsExactly("a/#");
        });
    }

    @Test
    void disconnectAndAuth_whenLongBlockEndsThePacketWithShortProperty_thenPropertiesAsWritten() {
        for (byte[] packet : List.of(MqttPackets.disconnect(0x04, BLOCK), MqttPackets.auth(0x18, BLOCK))) {
            second(packet, m -> {
                MqttReasonCodeAndPropertiesVariableHeader h = (MqttReasonCodeAndPropertiesVariableHeader) m.variableHeader();
                assertThat(described(h.properties())).isEqualTo(described(BLOCK));
            });
        }
    }

    /** Checks the packet decoded after the MQTT 5 CONNECT, once the decoder succeeded on both. */
    private static void second(byte[] packet, Consumer<MqttMessage> check) {
        PacketPipeline.feed(concat(CONNECT, packet), out -> {
            assertThat(out.failed()).as("decoder failure on %s", ByteBufUtil.hexDump(packet)).isFalse();
            assertThat(out.decoded()).hasSize(2);
            check.accept(out.decoded().get(1));
        });
    }

    /** Properties as "id=value": user properties in order, then the others by identifier. */
    private static List<String> described(MqttProperties properties) {
        List<String> out = new ArrayList<>();
        List<MqttProperties.MqttProperty> others = new ArrayList<>();
        for (MqttProperties.MqttProperty p : properties.listAll()) {
            if (p instanceof MqttProperties.UserProperties users) {
                users.value().forEach(u -> out.add("38=" + u.key + ":" + u.value));
            } else {
                others.add(p);
            }
        }
        others.sort(Comparator.comparingInt(MqttProperties.MqttProperty::propertyId));
        Function<Object, String> text = v -> v instanceof byte[] b ? ByteBufUtil.hexDump(b) : String.valueOf(v);
        others.forEach(p -> out.add(p.propertyId() + "=" + text.apply(p.value())));
        return out;
    }

    /** The same description of raw property bytes, as an MQTT 5 PUBLISH of them decodes without the bug (1 byte). */
    private static List<String> described(byte[] rawProperties) {
        List<String> out = new ArrayList<>();
        MqttProperties others = new MqttProperties();
        int p = 0;
        while (p < rawProperties.length) {
            int id = rawProperties[p++];
            switch (MqttPackets.propertyType(id)) {
                case BYTE -> others.add(new MqttProperties.IntegerProperty(id, rawProperties[p++] & 0xFF));
                case TWO_BYTE_INTEGER -> {
                    others.add(new MqttProperties.IntegerProperty(id, ((rawProperties[p] & 0xFF) << 8) | (rawProperties[p + 1] & 0xFF)));
                    p += 2;
                }
                case FOUR_BYTE_INTEGER -> {
                    others.add(new MqttProperties.IntegerProperty(id, java.nio.ByteBuffer.wrap(rawProperties, p, 4).getInt()));
                    p += 4;
                }
                case VARIABLE_BYTE_INTEGER -> {
                    var v = MqttPackets.decodeVariableByteInteger(rawProperties, p);
                    others.add(new MqttProperties.IntegerProperty(id, v.value()));
                    p += v.byteCount();
                }
                case UTF8_STRING_PAIR -> {
                    int kl = ((rawProperties[p] & 0xFF) << 8) | (rawProperties[p + 1] & 0xFF);
                    String k = new String(rawProperties, p + 2, kl, java.nio.charset.StandardCharsets.UTF_8);
                    p += 2 + kl;
                    int vl = ((rawProperties[p] & 0xFF) << 8) | (rawProperties[p + 1] & 0xFF);
                    String v = new String(rawProperties, p + 2, vl, java.nio.charset.StandardCharsets.UTF_8);
                    p += 2 + vl;
                    out.add("38=" + k + ":" + v);
                }
                default -> throw new IllegalArgumentException("property " + id + " not used here");
            }
        }
        List<String> rest = described(others);
        out.addAll(rest);
        return out;
    }
}
