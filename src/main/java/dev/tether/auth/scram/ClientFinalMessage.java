package dev.tether.auth.scram;

import java.util.Base64;
import java.util.Optional;

/**
 * A client-final-message (RFC 5802 §7), the Authentication Data of the client's second AUTH:
 * {@code c=<channel binding>,r=<nonce>[,extensions],p=<ClientProof>}.
 *
 * @param channelBinding  the {@code c=} value: base64 of the gs2-header the client sent first
 * @param nonce           the whole nonce (client's and server's)
 * @param withoutProof    client-final-message-without-proof, part of the AuthMessage
 */
public record ClientFinalMessage(String channelBinding, String nonce, byte[] proof, String withoutProof) {

    public ClientFinalMessage {
        proof = proof.clone();
    }

    @Override
    public byte[] proof() {
        return proof.clone();
    }

    /** The message in {@code data}, or empty when it is malformed or not UTF-8. */
    public static Optional<ClientFinalMessage> parse(byte[] data) {
        return ScramText.utf8(data).flatMap(ClientFinalMessage::parse);
    }

    static Optional<ClientFinalMessage> parse(String text) {
        int last = text.lastIndexOf(',');
        if (last < 0) {
            return Optional.empty();
        }
        String withoutProof = text.substring(0, last);
        String[] f = withoutProof.split(",", -1);
        if (f.length < 2) {
            return Optional.empty();
        }
        Optional<String> binding = ScramText.attribute(f[0], 'c');
        Optional<String> nonce = ScramText.attribute(f[1], 'r').filter(ScramText::isPrintable);
        Optional<String> proof = ScramText.attribute(text.substring(last + 1), 'p');
        if (binding.isEmpty() || nonce.isEmpty() || proof.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ClientFinalMessage(binding.get(), nonce.get(),
                    Base64.getDecoder().decode(proof.get()), withoutProof));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
