package dev.tether.auth.scram;

import java.util.Optional;

/**
 * A client-first-message (RFC 5802 §7), the Authentication Data of the CONNECT:
 * {@code gs2-header client-first-message-bare}, e.g. {@code n,,n=user,r=rOprNGfwEbeRWgbNEkqO}.
 *
 * @param gs2Header    {@code n,,} or {@code y,,} (no channel binding; {@code y}: the client could bind but thinks the
 *                     server cannot), with an authorization identity only when it is the user itself
 * @param username     the user, {@code =2C}/{@code =3D} decoded, compared exactly with {@code mqtt_users.username}
 * @param clientNonce  the client's nonce
 * @param bare         client-first-message-bare as sent, part of the AuthMessage
 */
public record ClientFirstMessage(String gs2Header, String username, String clientNonce, String bare) {

    /**
     * The message in {@code data}, or empty when it is not one Tether accepts: malformed, not UTF-8, asking for
     * channel binding ({@code p=}, which MQTT over Tether's listeners does not offer), an authorization identity
     * other than the user, or a mandatory extension ({@code m=}).
     */
    public static Optional<ClientFirstMessage> parse(byte[] data) {
        return ScramText.utf8(data).flatMap(ClientFirstMessage::parse);
    }

    static Optional<ClientFirstMessage> parse(String text) {
        String[] f = text.split(",", -1);
        if (f.length < 4 || !(f[0].equals("n") || f[0].equals("y"))) {
            return Optional.empty();
        }
        Optional<String> authzid = Optional.empty();
        if (!f[1].isEmpty()) {
            authzid = ScramText.attribute(f[1], 'a').flatMap(ScramText::saslName);
            if (authzid.isEmpty()) {
                return Optional.empty();
            }
        }
        Optional<String> username = ScramText.attribute(f[2], 'n').flatMap(ScramText::saslName);
        Optional<String> nonce = ScramText.attribute(f[3], 'r').filter(ScramText::isPrintable);
        if (username.isEmpty() || nonce.isEmpty()) {
            return Optional.empty();
        }
        if (authzid.isPresent() && !authzid.get().equals(username.get())) {
            return Optional.empty();
        }
        int headerLength = f[0].length() + 1 + f[1].length() + 1;
        return Optional.of(new ClientFirstMessage(text.substring(0, headerLength), username.get(), nonce.get(),
                text.substring(headerLength)));
    }
}
