package dev.tether.listener;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** The Payload Format Indicator check (MQTT 5.0 §3.3.2.3.2): 1 means the payload is UTF-8. */
final class PayloadFormat {

    private PayloadFormat() {
    }

    /** False when the PUBLISH says its payload is UTF-8 and it is not. */
    static boolean isValid(MqttPublishMessage p) {
        MqttProperties.MqttProperty<?> pfi = p.variableHeader().properties()
                .getProperty(MqttPropertyType.PAYLOAD_FORMAT_INDICATOR.value());
        if (pfi == null || !Integer.valueOf(1).equals(pfi.value())) {
            return true;
        }
        ByteBuf payload = p.payload();
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(payload.nioBuffer(payload.readerIndex(), payload.readableBytes()));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
