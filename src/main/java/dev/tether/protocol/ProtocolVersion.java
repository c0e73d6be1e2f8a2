package dev.tether.protocol;

/** The MQTT protocol versions Tether speaks, with the Protocol Level byte of CONNECT. */
public enum ProtocolVersion {
    MQTT_3_1_1(4, "3.1.1"),
    MQTT_5(5, "5.0");

    private final int level;
    private final String label;

    ProtocolVersion(int level, String label) {
        this.level = level;
        this.label = label;
    }

    /** The Protocol Level byte of CONNECT. */
    public int level() {
        return level;
    }

    /** The version as users write it ("3.1.1", "5.0"); stored in {@code sessions.protocol_version}. */
    public String label() {
        return label;
    }

    public boolean isMqtt5() {
        return this == MQTT_5;
    }

    public static ProtocolVersion fromLabel(String label) {
        for (ProtocolVersion v : values()) {
            if (v.label.equals(label)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown protocol version " + label);
    }
}
