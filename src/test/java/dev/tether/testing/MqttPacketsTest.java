package dev.tether.testing;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MqttPacketsTest {

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    static byte[] utf8Bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** §1.5.5 table: boundaries of 1-, 2-, 3- and 4-byte encodings. */
    @ParameterizedTest
    @CsvSource({
            "0,         00",
            "127,       7f",
            "128,       8001",
            "16383,     ff7f",
            "16384,     808001",
            "2097151,   ffff7f",
            "2097152,   80808001",
            "268435455, ffffff7f"})
    void variableByteIntegerBoundaries(int value, String encoded) {
        assertThat(hex(variableByteInteger(value))).isEqualTo(encoded);
        DecodedVarInt decoded = decodeVariableByteInteger(hex(encoded), 0);
        assertThat(decoded.value()).isEqualTo(value);
        assertThat(decoded.byteCount()).isEqualTo(encoded.length() / 2);
    }

    @Test
    void variableByteIntegerRejectsOutOfRangeAndMalformed() {
        assertThatThrownBy(() -> variableByteInteger(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> variableByteInteger(268_435_456)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> decodeVariableByteInteger(hex("ffffffff01"), 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(decodeVariableByteInteger(hex("ff80"), 0, 2)).isNull(); // truncated: needs more bytes
    }

    @Test
    void connectV5WithSessionExpiry() {
        byte[] bytes = connect(MQTT_5, "c1").sessionExpiry(30L).build();
        assertThat(hex(bytes)).isEqualTo("1014" + "00044d515454" + "05" + "02" + "003c" + "05110000001e" + "00026331");
    }

    @Test
    void connectV4WithWillUsernamePassword() {
        byte[] bytes = connect(MQTT_3_1_1, "c").cleanStart(false).keepAlive(10)
                .will("w", utf8Bytes("x"), 1, true).username("u").password("p").build();
        // flags: user 0x80 | password 0x40 | will retain 0x20 | will QoS 1 0x08 | will 0x04 = 0xec (3.1.1 §3.1.2.3)
        assertThat(hex(bytes)).isEqualTo("1019" + "00044d515454" + "04" + "ec" + "000a"
                + "000163" + "000177" + "000178" + "000175" + "000170");
    }

    @Test
    void connectV5WillDelayAndDuplicatedExtraProperty() {
        byte[] bytes = connect(MQTT_5, "c").sessionExpiry(30L)
                .extraProperties(property(SESSION_EXPIRY_INTERVAL, 10))
                .will("w", new byte[0], 0, false).willDelay(5L)
                .reservedFlag(true).build();
        assertThat(hex(bytes)).isEqualTo("1023" + "00044d515454" + "05" + "07" + "003c"
                + "0a" + "110000001e" + "110000000a" + "000163" + "05" + "1800000005" + "000177" + "0000");
        ReceivedPacket parsed = ReceivedPacket.parse(bytes);
        MqttProperties props = MqttProperties.parse(parsed.body(), 11, 10);
        assertThat(props.all(SESSION_EXPIRY_INTERVAL)).containsExactly(30L, 10L);
    }

    @Test
    void subscribeWithSubscriptionIdentifier() {
        byte[] bytes = subscribe(7, "a/b", 1 | SUB_NO_LOCAL, MQTT_5, 42);
        assertThat(hex(bytes)).isEqualTo("820b" + "0007" + "020b2a" + "0003612f62" + "05");
        assertThat(hex(subscribe(7, "a/b", 1, MQTT_3_1_1, null))).isEqualTo("8208" + "0007" + "0003612f62" + "01");
    }

    @Test
    void subscribeSeveralFilters() {
        byte[] bytes = subscribe(1, MQTT_5, null, new Subscription("a", 0), new Subscription("b", 2 | SUB_RETAIN_HANDLING_NEVER));
        assertThat(hex(bytes)).isEqualTo("820b" + "0001" + "00" + "00016100" + "00016222");
    }

    @Test
    void unsubscribe() {
        assertThat(hex(MqttPackets.unsubscribe(3, MQTT_5, "a"))).isEqualTo("a206" + "0003" + "00" + "000161");
        assertThat(hex(MqttPackets.unsubscribe(3, MQTT_3_1_1, "a", "b"))).isEqualTo("a208" + "0003" + "000161" + "000162");
    }

    @Test
    void publishEncodings() {
        assertThat(hex(publish(MQTT_3_1_1, "t", 0, false, false, 0, utf8Bytes("hi"), null)))
                .isEqualTo("3005" + "000174" + "6869");
        assertThat(hex(publish(MQTT_5, "t", 1, true, true, 9, utf8Bytes("hi"), property(MESSAGE_EXPIRY_INTERVAL, 10))))
                .isEqualTo("3b0d" + "000174" + "0009" + "05020000000a" + "6869");
        // QoS 3 is malformed (§3.3.1.2) but must still be encodable.
        assertThat(hex(publish(MQTT_5, "t", 3, 1, new byte[0]))).isEqualTo("3606" + "000174" + "0001" + "00");
    }

    @Test
    void publishRoundTripsThroughReceivedPacket() {
        byte[] props = concat(property(PAYLOAD_FORMAT_INDICATOR, 1), property(CONTENT_TYPE, "text/plain"),
                property(CORRELATION_DATA, new byte[]{1, 2}), userProperty("k", "v"), property(TOPIC_ALIAS, 3),
                property(SUBSCRIPTION_IDENTIFIER, 16384));
        ReceivedPacket p = ReceivedPacket.parse(publish(MQTT_5, "a/b", 2, true, false, 65535, utf8Bytes("payload"), props));
        assertThat(p.type()).isEqualTo(PUBLISH);
        assertThat(p.publishTopic()).isEqualTo("a/b");
        assertThat(p.publishQos()).isEqualTo(2);
        assertThat(p.publishRetain()).isTrue();
        assertThat(p.publishDup()).isFalse();
        assertThat(p.publishPacketId()).isEqualTo(65535);
        assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("payload");
        MqttProperties decoded = p.publishProperties(MQTT_5);
        assertThat(decoded.number(PAYLOAD_FORMAT_INDICATOR)).contains(1L);
        assertThat(decoded.string(CONTENT_TYPE)).contains("text/plain");
        assertThat(decoded.binary(CORRELATION_DATA)).hasValueSatisfying(b -> assertThat(b).containsExactly(1, 2));
        assertThat(decoded.userProperties()).containsExactly(new MqttProperties.StringPair("k", "v"));
        assertThat(decoded.number(TOPIC_ALIAS)).contains(3L);
        assertThat(decoded.number(SUBSCRIPTION_IDENTIFIER)).contains(16384L);
    }

    @Test
    void publishAcks() {
        assertThat(hex(puback(5, MQTT_5, 0))).isEqualTo("40020005");
        assertThat(hex(puback(5, MQTT_5, 0x10))).isEqualTo("4003000510");
        assertThat(hex(puback(5, MQTT_3_1_1, 0))).isEqualTo("40020005");
        assertThat(hex(pubrec(5, MQTT_5, 0x80))).isEqualTo("5003000580");
        assertThat(hex(pubrel(5, MQTT_5, 0))).isEqualTo("62020005");
        assertThat(hex(pubcomp(5, MQTT_5, 0x92))).isEqualTo("7003000592");
        assertThat(hex(publishAck(PUBACK, 0, 5, MQTT_5, 0, userProperty("a", "b"))))
                .isEqualTo("400b" + "0005" + "00" + "07" + "260001610001" + "62");
    }

    @Test
    void pingreqAndDisconnect() {
        assertThat(hex(pingreq())).isEqualTo("c000");
        assertThat(hex(disconnect(MQTT_3_1_1, 0, null))).isEqualTo("e000");
        assertThat(hex(disconnect(MQTT_5, 0, null))).isEqualTo("e000");
        assertThat(hex(disconnect(MQTT_5, 0x04, null))).isEqualTo("e0020400");
        assertThat(hex(disconnect(MQTT_5, 0, 0L))).isEqualTo("e007" + "00" + "05" + "1100000000");
        assertThat(hex(disconnect(MQTT_5, 0, 0xFFFFFFFFL))).isEqualTo("e007" + "00" + "05" + "11ffffffff");
        assertThatThrownBy(() -> disconnect(MQTT_3_1_1, 0, 5L)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void propertyEncodingFollowsTheSpecTypeOfTheIdentifier() {
        assertThat(hex(property(MAXIMUM_QOS, 1))).isEqualTo("2401");
        assertThat(hex(property(RECEIVE_MAXIMUM, 10))).isEqualTo("21000a");
        assertThat(hex(property(SESSION_EXPIRY_INTERVAL, 10L))).isEqualTo("110000000a");
        assertThat(hex(property(SUBSCRIPTION_IDENTIFIER, 128))).isEqualTo("0b8001");
        assertThat(hex(property(REASON_STRING, "x"))).isEqualTo("1f000178");
        assertThat(hex(property(AUTHENTICATION_DATA, new byte[]{7}))).isEqualTo("16000107");
        assertThat(hex(userProperty("a", "b"))).isEqualTo("26000161000162");
        // deliberately wrong type for a negative test
        assertThat(hex(propertyByte(SESSION_EXPIRY_INTERVAL, 1))).isEqualTo("1101");
        assertThatThrownBy(() -> property(0x7F, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(hex(propertiesBlock(null))).isEqualTo("00");
    }

    @Test
    void concatAndRawPacket() {
        assertThat(hex(concat(hex("01"), null, hex("0203")))).isEqualTo("010203");
        assertThat(hex(packet(PUBREL, 0, hex("0001")))).isEqualTo("60020001"); // wrong reserved flags on purpose
        assertThat(hex(packet(PUBLISH, 0, new byte[200])).substring(0, 6)).isEqualTo("30c801");
    }
}
