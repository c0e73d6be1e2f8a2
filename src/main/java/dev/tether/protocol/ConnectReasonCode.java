package dev.tether.protocol;

/**
 * CONNACK reason codes Tether sends (MQTT 5.0 §3.2.2.2), each with the MQTT 3.1.1 return code
 * (§3.2.2.3 of 3.1.1) a 3.1.1 client receives instead.
 */
public enum ConnectReasonCode {
    SUCCESS(0x00, 0x00),
    UNSPECIFIED_ERROR(0x80, 0x03),
    MALFORMED_PACKET(0x81, 0x03),
    PROTOCOL_ERROR(0x82, 0x03),
    UNSUPPORTED_PROTOCOL_VERSION(0x84, 0x01),
    CLIENT_IDENTIFIER_NOT_VALID(0x85, 0x02),
    BAD_USER_NAME_OR_PASSWORD(0x86, 0x04),
    NOT_AUTHORIZED(0x87, 0x05),
    SERVER_UNAVAILABLE(0x88, 0x03),
    SERVER_BUSY(0x89, 0x03),
    BAD_AUTHENTICATION_METHOD(0x8C, 0x05),
    TOPIC_NAME_INVALID(0x90, 0x03),
    PACKET_TOO_LARGE(0x95, 0x03),
    QUOTA_EXCEEDED(0x97, 0x03),
    QOS_NOT_SUPPORTED(0x9B, 0x03);

    private final int mqtt5Code;
    private final int mqtt311Code;

    ConnectReasonCode(int mqtt5Code, int mqtt311Code) {
        this.mqtt5Code = mqtt5Code;
        this.mqtt311Code = mqtt311Code;
    }

    /** The byte sent to a client of the given version. */
    public int codeFor(ProtocolVersion version) {
        return version.isMqtt5() ? mqtt5Code : mqtt311Code;
    }

    /** A Reason String for the client (MQTT 5). */
    public String description() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    }

    public boolean isError() {
        return mqtt5Code >= 0x80;
    }
}
