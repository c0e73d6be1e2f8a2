package dev.tether.listener;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.IntegerProperty;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttProperties.StringProperty;
import io.netty.handler.codec.mqtt.MqttProperties.UserProperty;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttVersion;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;

/**
 * Netty's MQTT codec as Tether's pipeline uses it ({@code new MqttDecoder(1048576, 256)} = Tether's default
 * maximum packet size and client id length, {@link MqttEncoder#INSTANCE}), each on its own
 * {@link EmbeddedChannel} whose MQTT version attribute is 5 (as after an MQTT 5 CONNECT), and the messages the
 * codec benchmarks use.
 */
final class Codec implements AutoCloseable {

    /** Netty's own attribute (MqttCodecUtil.MQTT_VERSION_KEY is package-private); valueOf returns the same key. */
    static final AttributeKey<MqttVersion> MQTT_VERSION_KEY = AttributeKey.valueOf("NETTY_CODEC_MQTT_VERSION");
    static final String TOPIC = "site/17/device/42/temperature";
    static final String CLIENT_ID = "sensor-gateway-0017";

    final EmbeddedChannel decoder = new EmbeddedChannel(new MqttDecoder(1_048_576, 256));
    final EmbeddedChannel encoder = new EmbeddedChannel(MqttEncoder.INSTANCE);

    Codec() {
        decoder.attr(MQTT_VERSION_KEY).set(MqttVersion.MQTT_5);
        encoder.attr(MQTT_VERSION_KEY).set(MqttVersion.MQTT_5);
    }

    /**
     * QoS 1 PUBLISH, packet id 4711, with Payload Format Indicator, Message Expiry Interval, Content Type and one
     * User Property.
     */
    static MqttPublishMessage publish(int payloadSize) {
        MqttProperties props = new MqttProperties();
        props.add(new IntegerProperty(MqttPropertyType.PAYLOAD_FORMAT_INDICATOR.value(), 1));
        props.add(new IntegerProperty(MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL.value(), 3600));
        props.add(new StringProperty(MqttPropertyType.CONTENT_TYPE.value(), "application/json"));
        props.add(new UserProperty("origin", "gateway-17"));
        byte[] payload = new byte[payloadSize];
        Arrays.fill(payload, (byte) 'x');
        return MqttMessageBuilders.publish()
                .topicName(TOPIC)
                .qos(MqttQoS.AT_LEAST_ONCE)
                .messageId(4711)
                .properties(props)
                .payload(Unpooled.wrappedBuffer(payload))
                .build();
    }

    /**
     * MQTT 5 CONNECT, Clean Start 0, keep alive 60, user name and password, with Session Expiry Interval,
     * Receive Maximum, Maximum Packet Size, Topic Alias Maximum and two User Properties.
     */
    static MqttConnectMessage connect() {
        MqttProperties props = new MqttProperties();
        props.add(new IntegerProperty(MqttPropertyType.SESSION_EXPIRY_INTERVAL.value(), 3600));
        props.add(new IntegerProperty(MqttPropertyType.RECEIVE_MAXIMUM.value(), 100));
        props.add(new IntegerProperty(MqttPropertyType.MAXIMUM_PACKET_SIZE.value(), 1_048_576));
        props.add(new IntegerProperty(MqttPropertyType.TOPIC_ALIAS_MAXIMUM.value(), 10));
        props.add(new UserProperty("region", "eu-west"));
        props.add(new UserProperty("firmware", "4.2.1"));
        return MqttMessageBuilders.connect()
                .protocolVersion(MqttVersion.MQTT_5)
                .clientId(CLIENT_ID)
                .cleanSession(false)
                .keepAlive(60)
                .hasUser(true).username("gateway")
                .hasPassword(true).password("secret-password".getBytes(StandardCharsets.UTF_8))
                .properties(props)
                .build();
    }

    /** Encodes without consuming {@code message} (the encoder releases what it is given, so retain first). */
    ByteBuf encode(MqttMessage message) {
        ReferenceCountUtil.retain(message);
        encoder.writeOutbound(message);
        return encoder.readOutbound();
    }

    /** Decodes one packet from the start of {@code bytes} without consuming {@code bytes}. */
    MqttMessage decode(ByteBuf bytes) {
        decoder.writeInbound(bytes.retainedDuplicate());
        MqttMessage m = decoder.readInbound();
        if (m == null || m.decoderResult().isFailure()) {
            throw new IllegalStateException("decode failed: " + (m == null ? "nothing" : m.decoderResult()));
        }
        return m;
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("sanity check failed: " + what);
        }
    }

    @Override
    public void close() {
        decoder.finishAndReleaseAll();
        encoder.finishAndReleaseAll();
    }
}
