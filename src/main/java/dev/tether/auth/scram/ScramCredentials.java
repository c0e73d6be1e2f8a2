package dev.tether.auth.scram;

import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A user's SCRAM-SHA-256 credentials, as {@code mqtt_users.scram_sha256} holds them in PostgreSQL's own
 * {@code pg_authid} format: {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>} (base64). The
 * password cannot be recovered from them, but StoredKey and ServerKey let whoever reads them pose as the server,
 * so they are secrets: {@link #toString()} shows neither.
 */
public record ScramCredentials(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {

    private static final Pattern FORMAT = Pattern.compile(
            "SCRAM-SHA-256\\$(\\d{1,9}):([A-Za-z0-9+/=]+)\\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)");

    public ScramCredentials {
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be positive");
        }
        if (salt.length == 0 || storedKey.length != ScramSha256.KEY_LENGTH
                || serverKey.length != ScramSha256.KEY_LENGTH) {
            throw new IllegalArgumentException("salt must be non-empty and the keys 32 bytes");
        }
        salt = salt.clone();
        storedKey = storedKey.clone();
        serverKey = serverKey.clone();
    }

    /** The credentials in {@code text}, or empty when it is not in the format above. */
    public static Optional<ScramCredentials> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        Matcher m = FORMAT.matcher(text.strip());
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            Base64.Decoder b64 = Base64.getDecoder();
            return Optional.of(new ScramCredentials(Integer.parseInt(m.group(1)), b64.decode(m.group(2)),
                    b64.decode(m.group(3)), b64.decode(m.group(4))));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The {@code pg_authid} format that {@link #parse} reads. */
    public String format() {
        Base64.Encoder b64 = Base64.getEncoder();
        return "SCRAM-SHA-256$" + iterations + ':' + b64.encodeToString(salt) + '$' + b64.encodeToString(storedKey)
                + ':' + b64.encodeToString(serverKey);
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    @Override
    public byte[] storedKey() {
        return storedKey.clone();
    }

    @Override
    public byte[] serverKey() {
        return serverKey.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScramCredentials c && c.iterations == iterations && java.util.Arrays.equals(c.salt, salt)
                && java.util.Arrays.equals(c.storedKey, storedKey) && java.util.Arrays.equals(c.serverKey, serverKey);
    }

    @Override
    public int hashCode() {
        return 31 * iterations + java.util.Arrays.hashCode(salt);
    }

    @Override
    public String toString() {
        return "ScramCredentials[iterations=" + iterations + ", keys not shown]";
    }
}
