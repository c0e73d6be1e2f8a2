package dev.tether.auth;

/** One row of {@code mqtt_users}, as far as authentication needs it. */
public record UserRow(String username, String passwordHash, boolean enabled) {
}
