package dev.tether.testing;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Feeds well-formed packets from {@link MqttPackets} to Netty's independent MQTT decoder. */
class MqttPacketsNettyCrossCheckTest {

    private static List<MqttMessage> decode(byte[] stream) {
        EmbeddedChannel channel = new EmbeddedChannel(new MqttDecoder());
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(stream));
            List<MqttMessage> messages = new ArrayList<>();
            for (Object m; (m = channel.readInbound()) != null; ) {
                MqttMessage message = (MqttMessage) m;
                assertThat(message.decoderResult().isSuccess())
                        .as("decoder result %s", message.decoderResult()).isTrue();
                messages.add(message);
            }
            return messages;
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void v5SessionDecodesWithNetty() {
        byte[] stream = concat(
                connect(MQTT_5, "cross").cleanStart(false).keepAlive(30).sessionExpiry(120L)
                        .will("will/t", "bye".getBytes(StandardCharsets.UTF_8), 1, true).willDelay(10L)
                        .username("user").password("pw").build(),
                subscribe(1, "a/#", 2 | SUB_NO_LOCAL, MQTT_5, 7),
                publish(MQTT_5, "a/b", 1, true, false, 2, "hello".getBytes(StandardCharsets.UTF_8),
                        concat(property(MESSAGE_EXPIRY_INTERVAL, 60L), userProperty("k", "v"))),
                puback(3, MQTT_5, 0x10),
                pingreq(),
                disconnect(MQTT_5, 0, 300L));
        List<MqttMessage> messages = decode(stream);
        assertThat(messages).extracting(m -> m.fixedHeader().messageType()).containsExactly(
                MqttMessageType.CONNECT, MqttMessageType.SUBSCRIBE, MqttMessageType.PUBLISH, MqttMessageType.PUBACK,
                MqttMessageType.PINGREQ, MqttMessageType.DISCONNECT);

        MqttConnectMessage connect = (MqttConnectMessage) messages.get(0);
        assertThat(connect.variableHeader().version()).isEqualTo(5);
        assertThat(connect.variableHeader().isCleanSession()).isFalse();
        assertThat(connect.variableHeader().keepAliveTimeSeconds()).isEqualTo(30);
        assertThat(connect.variableHeader().willQos()).isEqualTo(1);
        assertThat(connect.variableHeader().isWillRetain()).isTrue();
        assertThat(connect.variableHeader().properties()
                .getProperty(MqttPropertyType.SESSION_EXPIRY_INTERVAL.value()).value()).isEqualTo(120);
        assertThat(connect.payload().clientIdentifier()).isEqualTo("cross");
        assertThat(connect.payload().willTopic()).isEqualTo("will/t");
        assertThat(connect.payload().willMessageInBytes()).isEqualTo("bye".getBytes(StandardCharsets.UTF_8));
        assertThat(connect.payload().willProperties()
                .getProperty(MqttPropertyType.WILL_DELAY_INTERVAL.value()).value()).isEqualTo(10);
        assertThat(connect.payload().userName()).isEqualTo("user");
        assertThat(connect.payload().passwordInBytes()).isEqualTo("pw".getBytes(StandardCharsets.UTF_8));

        MqttSubscribeMessage subscribe = (MqttSubscribeMessage) messages.get(1);
        assertThat(subscribe.idAndPropertiesVariableHeader().messageId()).isEqualTo(1);
        assertThat(subscribe.idAndPropertiesVariableHeader().properties()
                .getProperty(MqttPropertyType.SUBSCRIPTION_IDENTIFIER.value()).value()).isEqualTo(7);
        assertThat(subscribe.payload().topicSubscriptions().get(0).topicName()).isEqualTo("a/#");
        assertThat(subscribe.payload().topicSubscriptions().get(0).option().qos().value()).isEqualTo(2);
        assertThat(subscribe.payload().topicSubscriptions().get(0).option().isNoLocal()).isTrue();

        MqttPublishMessage publish = (MqttPublishMessage) messages.get(2);
        assertThat(publish.variableHeader().topicName()).isEqualTo("a/b");
        assertThat(publish.variableHeader().packetId()).isEqualTo(2);
        assertThat(publish.fixedHeader().isRetain()).isTrue();
        assertThat(publish.variableHeader().properties()
                .getProperty(MqttPropertyType.PUBLICATION_EXPIRY_INTERVAL.value()).value()).isEqualTo(60);
        assertThat(ByteBufUtil.getBytes(publish.payload())).isEqualTo("hello".getBytes(StandardCharsets.UTF_8));

        var disconnect = (MqttReasonCodeAndPropertiesVariableHeader) messages.get(5).variableHeader();
        assertThat(disconnect.reasonCode()).isEqualTo((byte) 0);
        assertThat(disconnect.properties()
                .getProperty(MqttPropertyType.SESSION_EXPIRY_INTERVAL.value()).value()).isEqualTo(300);
    }

    @Test
    void v311SessionDecodesWithNetty() {
        byte[] stream = concat(
                connect(MQTT_3_1_1, "old").username("u").password("p").build(),
                subscribe(1, "x", 1, MQTT_3_1_1, null),
                MqttPackets.unsubscribe(2, MQTT_3_1_1, "x"),
                publish(MQTT_3_1_1, "x", 2, 3, new byte[]{1}),
                pubrel(4, MQTT_3_1_1, 0),
                disconnect(MQTT_3_1_1, 0, null));
        List<MqttMessage> messages = decode(stream);
        assertThat(messages).extracting(m -> m.fixedHeader().messageType()).containsExactly(
                MqttMessageType.CONNECT, MqttMessageType.SUBSCRIBE, MqttMessageType.UNSUBSCRIBE,
                MqttMessageType.PUBLISH, MqttMessageType.PUBREL, MqttMessageType.DISCONNECT);
        assertThat(((MqttConnectMessage) messages.get(0)).variableHeader().version()).isEqualTo(4);
    }
}
