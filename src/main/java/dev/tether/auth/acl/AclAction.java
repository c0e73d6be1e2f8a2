package dev.tether.auth.acl;

import java.util.Locale;

/** What a rule of {@code mqtt_acl} is about ({@code action} column); a request is {@link #PUBLISH} or {@link #SUBSCRIBE}. */
public enum AclAction {
    PUBLISH, SUBSCRIBE, ALL;

    /** Whether a rule with this action applies to a request for {@code requested}. */
    boolean appliesTo(AclAction requested) {
        return this == ALL || this == requested;
    }

    /** The lower-case name used in SQL and in metrics tags. */
    public String sqlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException for anything but {@code publish}, {@code subscribe}, {@code all} */
    public static AclAction fromSql(String value) {
        return switch (value) {
            case "publish" -> PUBLISH;
            case "subscribe" -> SUBSCRIBE;
            case "all" -> ALL;
            default -> throw new IllegalArgumentException("unknown action: " + value);
        };
    }
}
