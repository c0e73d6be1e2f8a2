package dev.tether.testing;

import static dev.tether.testing.MqttPackets.*;
import static dev.tether.testing.MqttPacketsTest.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.testing.MqttProperties.StringPair;
import org.junit.jupiter.api.Test;

/** Decoding of hand-written server packets. */
class ReceivedPacketTest {

    /** MQTT 5 CONNACK carrying one property of every wire type (§2.2.2.2), User Property twice. */
    static final String CONNACK_V5_ALL_TYPES = "202a" + "01" + "00" + "27"
            + "110000003c"        // Session Expiry Interval 60 (four-byte)
            + "210014"            // Receive Maximum 20 (two-byte)
            + "2401"              // Maximum QoS 1 (byte)
            + "0bc801"            // Subscription Identifier 200 (varint; not a CONNACK property, type test only)
            + "120003616263"      // Assigned Client Identifier "abc" (string)
            + "1600020102"        // Authentication Data 01 02 (binary)
            + "2600016b000176"    // User Property k=v (string pair)
            + "2600016b00027632"; // User Property k=v2

    @Test
    void connackV5WithEveryPropertyType() {
        ReceivedPacket p = ReceivedPacket.parse(hex(CONNACK_V5_ALL_TYPES));
        assertThat(p.type()).isEqualTo(CONNACK);
        assertThat(p.typeName()).isEqualTo("CONNACK");
        assertThat(p.connackSessionPresent()).isTrue();
        assertThat(p.connackReasonCode()).isZero();
        MqttProperties props = p.connackProperties();
        assertThat(props.all(SESSION_EXPIRY_INTERVAL)).containsExactly(60L);
        assertThat(props.all(RECEIVE_MAXIMUM)).containsExactly(20);
        assertThat(props.all(MAXIMUM_QOS)).containsExactly(1);
        assertThat(props.all(SUBSCRIPTION_IDENTIFIER)).containsExactly(200);
        assertThat(props.string(ASSIGNED_CLIENT_IDENTIFIER)).contains("abc");
        assertThat(props.binary(AUTHENTICATION_DATA)).hasValueSatisfying(b -> assertThat(b).containsExactly(1, 2));
        assertThat(props.userProperties()).containsExactly(new StringPair("k", "v"), new StringPair("k", "v2"));
        assertThat(props.count(USER_PROPERTY)).isEqualTo(2);
        assertThat(props.has(REASON_STRING)).isFalse();
        assertThat(props.values().keySet()).containsExactly(SESSION_EXPIRY_INTERVAL, RECEIVE_MAXIMUM, MAXIMUM_QOS,
                SUBSCRIPTION_IDENTIFIER, ASSIGNED_CLIENT_IDENTIFIER, AUTHENTICATION_DATA, USER_PROPERTY);
    }

    @Test
    void connackV4AndV5Rejection() {
        ReceivedPacket v4 = ReceivedPacket.parse(hex("20020005"));
        assertThat(v4.connackSessionPresent()).isFalse();
        assertThat(v4.connackReasonCode()).isEqualTo(5); // 3.1.1: not authorized
        assertThat(v4.connackProperties().isEmpty()).isTrue();
        ReceivedPacket v5 = ReceivedPacket.parse(hex("2007" + "0084" + "04" + "1f000178"));
        assertThat(v5.connackReasonCode()).isEqualTo(0x84); // Unsupported Protocol Version
        assertThat(v5.connackProperties().string(REASON_STRING)).contains("x");
    }

    @Test
    void publishV5ByHand() {
        // flags 1011: DUP, QoS 1, RETAIN
        ReceivedPacket p = ReceivedPacket.parse(hex("3b15" + "0003612f62" + "0009" + "0b" + "0101" + "020000000a"
                + "08000172" + "6869"));
        assertThat(p.publishTopic()).isEqualTo("a/b");
        assertThat(p.publishDup()).isTrue();
        assertThat(p.publishQos()).isEqualTo(1);
        assertThat(p.publishRetain()).isTrue();
        assertThat(p.publishPacketId()).isEqualTo(9);
        assertThat(p.publishPayloadUtf8(MQTT_5)).isEqualTo("hi");
        MqttProperties props = p.publishProperties(MQTT_5);
        assertThat(props.number(PAYLOAD_FORMAT_INDICATOR)).contains(1L);
        assertThat(props.number(MESSAGE_EXPIRY_INTERVAL)).contains(10L);
        assertThat(props.string(RESPONSE_TOPIC)).contains("r");
    }

    @Test
    void publishV4QoS0ByHand() {
        ReceivedPacket p = ReceivedPacket.parse(hex("3005" + "000174" + "6869"));
        assertThat(p.publishTopic()).isEqualTo("t");
        assertThat(p.publishQos()).isZero();
        assertThat(p.publishPacketId()).isEqualTo(-1);
        assertThat(p.publishPayload(MQTT_3_1_1)).containsExactly('h', 'i');
        assertThat(p.publishProperties(MQTT_3_1_1).isEmpty()).isTrue();
    }

    @Test
    void subackUnsubackAndPacketId() {
        ReceivedPacket v5 = ReceivedPacket.parse(hex("9005" + "0007" + "00" + "0180"));
        assertThat(v5.packetId()).isEqualTo(7);
        assertThat(v5.subackReasonCodes(MQTT_5)).containsExactly(1, 0x80);
        ReceivedPacket v4 = ReceivedPacket.parse(hex("9004" + "0007" + "0280"));
        assertThat(v4.subackReasonCodes(MQTT_3_1_1)).containsExactly(2, 0x80);
        ReceivedPacket unsuback = ReceivedPacket.parse(hex("b004" + "0003" + "00" + "11"));
        assertThat(unsuback.unsubackReasonCodes(MQTT_5)).containsExactly(0x11);
        assertThat(ReceivedPacket.parse(hex("b0020003")).unsubackReasonCodes(MQTT_3_1_1)).isEmpty();
    }

    @Test
    void publishAckForms() {
        ReceivedPacket shortForm = ReceivedPacket.parse(hex("40020005"));
        assertThat(shortForm.packetId()).isEqualTo(5);
        assertThat(shortForm.pubackReasonCode()).isZero();
        assertThat(shortForm.pubackProperties().isEmpty()).isTrue();
        ReceivedPacket withProps = ReceivedPacket.parse(hex("5008" + "0005" + "10" + "04" + "1f000178"));
        assertThat(withProps.type()).isEqualTo(PUBREC);
        assertThat(withProps.pubackReasonCode()).isEqualTo(0x10);
        assertThat(withProps.pubackProperties().string(REASON_STRING)).contains("x");
        ReceivedPacket pubrel = ReceivedPacket.parse(hex("62020009"));
        assertThat(pubrel.flags()).isEqualTo(0b0010);
        assertThat(pubrel.packetId()).isEqualTo(9);
    }

    @Test
    void disconnectForms() {
        ReceivedPacket empty = ReceivedPacket.parse(hex("e000"));
        assertThat(empty.disconnectReasonCode()).isZero();
        assertThat(empty.disconnectProperties().isEmpty()).isTrue();
        ReceivedPacket takenOver = ReceivedPacket.parse(hex("e009" + "8e" + "07" + "1f000474616b65"));
        assertThat(takenOver.disconnectReasonCode()).isEqualTo(0x8e);
        assertThat(takenOver.disconnectProperties().string(REASON_STRING)).contains("take");
        assertThat(ReceivedPacket.parse(hex("e0018e")).disconnectProperties().isEmpty()).isTrue();
    }

    @Test
    void wrongTypeNamesTheActualPacket() {
        ReceivedPacket disconnect = ReceivedPacket.parse(hex("e0018e"));
        assertThatThrownBy(disconnect::connackReasonCode)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("expected CONNACK but got DISCONNECT");
    }

    @Test
    void parseAllSplitsAStreamAndRejectsTruncation() {
        byte[] stream = concat(hex("20020000"), hex("d000"), hex("3005000174" + "6869"));
        assertThat(ReceivedPacket.parseAll(stream)).extracting(ReceivedPacket::type)
                .containsExactly(CONNACK, PINGRESP, PUBLISH);
        assertThatThrownBy(() -> ReceivedPacket.parseAll(hex("300500017468")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ReceivedPacket.parse(stream)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void malformedPropertiesAreRejected() {
        assertThatThrownBy(() -> ReceivedPacket.parse(hex("2005" + "0000" + "02" + "7f00")).connackProperties())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0x7f");
        assertThatThrownBy(() -> ReceivedPacket.parse(hex("2005" + "0000" + "02" + "1100")).connackProperties())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void bodyIsCopiedInAndOut() {
        byte[] body = {1, 2};
        ReceivedPacket p = new ReceivedPacket(PUBACK, 0, body);
        body[0] = 9;
        p.body()[1] = 9;
        assertThat(p.body()).containsExactly(1, 2);
        assertThat(p).isEqualTo(new ReceivedPacket(PUBACK, 0, new byte[]{1, 2}));
        assertThat(p.toBytes()).containsExactly(0x40, 2, 1, 2);
        assertThat(p.toString()).contains("PUBACK").contains("0102");
    }
}
