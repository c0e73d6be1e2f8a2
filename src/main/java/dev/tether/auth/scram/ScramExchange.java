package dev.tether.auth.scram;

import dev.tether.auth.AuthOutcome;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * One SCRAM-SHA-256 login on the server side, from the client-first-message to the verdict (RFC 5802 §3):
 * the server-first-message is fixed at construction, and {@link #finish} checks the client-final-message once.
 * A user that does not exist, or has no valid SCRAM credentials, is challenged like any other, with its mock salt
 * and {@value ScramSha256#DEFAULT_ITERATIONS} iterations, and its proof is checked against keys that match nothing:
 * neither the challenge nor the work done tells such a user from one with a wrong password. Not thread-safe: owned
 * by one connection.
 */
public final class ScramExchange {

    /**
     * How the login ends: {@code ACCEPTED} with the server-final-message to send, {@code NOT_AUTHORIZED} for a
     * disabled user that proved its password, {@code BAD_CREDENTIALS} for anything else.
     */
    public record Verdict(AuthOutcome outcome, Optional<byte[]> serverFinal) {
        static Verdict refused(AuthOutcome outcome) {
            return new Verdict(outcome, Optional.empty());
        }
    }

    private static final byte[] NO_KEY = new byte[ScramSha256.KEY_LENGTH];

    private final ClientFirstMessage first;
    private final ScramCredentials credentials;
    private final boolean genuine;
    private final boolean enabled;
    private final String nonce;
    private final String serverFirst;
    private boolean finished;

    /** @param serverNonce this server's part of the nonce: fresh random printable characters */
    public ScramExchange(ClientFirstMessage first, ScramLookup lookup, String serverNonce) {
        if (!ScramText.isPrintable(serverNonce)) {
            throw new IllegalArgumentException("a nonce is printable ASCII without commas");
        }
        this.first = first;
        this.genuine = lookup.credentials().isPresent();
        this.credentials = lookup.credentials().orElseGet(() ->
                new ScramCredentials(ScramSha256.DEFAULT_ITERATIONS, lookup.mockSalt(), NO_KEY, NO_KEY));
        this.enabled = genuine && lookup.enabled();
        this.nonce = first.clientNonce() + serverNonce;
        this.serverFirst = ScramSha256.serverFirst(nonce, credentials.salt(), credentials.iterations());
    }

    /** The user the client claims to be. */
    public String username() {
        return first.username();
    }

    /** The server-first-message, the Authentication Data of the server's AUTH 0x18. */
    public byte[] serverFirst() {
        return serverFirst.getBytes(StandardCharsets.UTF_8);
    }

    /** Checks the client-final-message; once only. */
    public Verdict finish(byte[] clientFinal) {
        if (finished) {
            throw new IllegalStateException("this exchange has already been decided");
        }
        finished = true;
        Optional<ClientFinalMessage> parsed = ClientFinalMessage.parse(clientFinal);
        if (parsed.isEmpty()) {
            return Verdict.refused(AuthOutcome.BAD_CREDENTIALS);
        }
        ClientFinalMessage m = parsed.get();
        String binding = Base64.getEncoder().encodeToString(first.gs2Header().getBytes(StandardCharsets.UTF_8));
        if (!m.channelBinding().equals(binding) || !m.nonce().equals(nonce)) {
            return Verdict.refused(AuthOutcome.BAD_CREDENTIALS);
        }
        String authMessage = ScramSha256.authMessage(first.bare(), serverFirst, m.withoutProof());
        boolean proven = ScramSha256.verifyProof(credentials.storedKey(), authMessage, m.proof()) && genuine;
        if (!proven) {
            return Verdict.refused(AuthOutcome.BAD_CREDENTIALS);
        }
        if (!enabled) {
            return Verdict.refused(AuthOutcome.NOT_AUTHORIZED);
        }
        byte[] signature = ScramSha256.serverSignature(credentials.serverKey(), authMessage);
        return new Verdict(AuthOutcome.ACCEPTED,
                Optional.of(ScramSha256.serverFinal(signature).getBytes(StandardCharsets.UTF_8)));
    }
}
