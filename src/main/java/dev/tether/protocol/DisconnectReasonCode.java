package dev.tether.protocol;

/** DISCONNECT reason codes (MQTT 5.0 §3.14.2.1) that Tether sends or interprets. */
public enum DisconnectReasonCode {
    NORMAL_DISCONNECTION(0x00),
    DISCONNECT_WITH_WILL_MESSAGE(0x04),
    UNSPECIFIED_ERROR(0x80),
    MALFORMED_PACKET(0x81),
    PROTOCOL_ERROR(0x82),
    NOT_AUTHORIZED(0x87),
    SERVER_BUSY(0x89),
    SERVER_SHUTTING_DOWN(0x8B),
    BAD_AUTHENTICATION_METHOD(0x8C),
    KEEP_ALIVE_TIMEOUT(0x8D),
    SESSION_TAKEN_OVER(0x8E),
    TOPIC_NAME_INVALID(0x90),
    RECEIVE_MAXIMUM_EXCEEDED(0x93),
    TOPIC_ALIAS_INVALID(0x94),
    PACKET_TOO_LARGE(0x95),
    ADMINISTRATIVE_ACTION(0x98),
    QOS_NOT_SUPPORTED(0x9B),
    PAYLOAD_FORMAT_INVALID(0x99);

    private static final DisconnectReasonCode[] BY_CODE = new DisconnectReasonCode[256];

    static {
        for (DisconnectReasonCode c : values()) {
            BY_CODE[c.code] = c;
        }
    }

    private final int code;

    DisconnectReasonCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** A Reason String for the client (MQTT 5). */
    public String description() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    }

    /** The reason code for a byte, or {@link #UNSPECIFIED_ERROR} for one Tether does not name. */
    public static DisconnectReasonCode of(int code) {
        DisconnectReasonCode c = (code >= 0 && code < 256) ? BY_CODE[code] : null;
        return c == null ? UNSPECIFIED_ERROR : c;
    }
}
