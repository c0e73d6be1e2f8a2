package dev.tether.auth.scram;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/** The lexical rules of SCRAM messages (RFC 5802 §7). Pure. */
final class ScramText {

    private ScramText() {
    }

    /** Strict UTF-8 (malformed input is refused, not replaced). */
    static Optional<String> utf8(byte[] bytes) {
        try {
            return Optional.of(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString());
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
    }

    /**
     * A {@code saslname} decoded: {@code =2C} is a comma, {@code =3D} an equals sign; any other {@code =}, a comma,
     * a control character or an empty name is refused. No SASLprep normalisation: names are compared exactly, as a
     * CONNECT's User Name is.
     */
    static Optional<String> saslName(String s) {
        if (s.isEmpty()) {
            return Optional.empty();
        }
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '=') {
                if (s.startsWith("=2C", i)) {
                    out.append(',');
                } else if (s.startsWith("=3D", i)) {
                    out.append('=');
                } else {
                    return Optional.empty();
                }
                i += 2;
            } else if (c == ',' || Character.isISOControl(c)) {
                return Optional.empty();
            } else {
                out.append(c);
            }
        }
        return Optional.of(out.toString());
    }

    /** {@code printable}: one or more of %x21-2B / %x2D-7E (visible ASCII but the comma). */
    static boolean isPrintable(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7E || c == ',') {
                return false;
            }
        }
        return true;
    }

    /** The value of an attribute {@code <name>=<value>}, or empty when {@code field} is another attribute. */
    static Optional<String> attribute(String field, char name) {
        if (field.length() >= 2 && field.charAt(0) == name && field.charAt(1) == '=') {
            return Optional.of(field.substring(2));
        }
        return Optional.empty();
    }
}
