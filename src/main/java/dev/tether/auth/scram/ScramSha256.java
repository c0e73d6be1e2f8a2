package dev.tether.auth.scram;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The server's computations of SCRAM-SHA-256 (RFC 5802 §3, RFC 7677), with the JDK's HMAC-SHA-256 and SHA-256.
 * The costly part, PBKDF2 ({@code Hi()}), is done once per user when its credentials are written
 * ({@code tether_scram_sha256()} in PostgreSQL); a login costs two HMACs and one SHA-256. Pure.
 */
public final class ScramSha256 {

    /** The Authentication Method (MQTT 5 property 0x15) that selects this mechanism. */
    public static final String MECHANISM = "SCRAM-SHA-256";
    /** Iterations of credentials made without a count, and of the mock credentials of unknown users. */
    public static final int DEFAULT_ITERATIONS = 4096;
    /** Length of SHA-256 output: StoredKey, ServerKey, ClientProof and ServerSignature. */
    public static final int KEY_LENGTH = 32;

    private ScramSha256() {
    }

    /**
     * True when {@code clientProof} proves knowledge of the password behind {@code storedKey}:
     * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and H(ClientKey) = StoredKey (compared in constant time).
     */
    public static boolean verifyProof(byte[] storedKey, String authMessage, byte[] clientProof) {
        if (clientProof.length != KEY_LENGTH) {
            return false;
        }
        byte[] clientSignature = hmac(storedKey, authMessage.getBytes(StandardCharsets.UTF_8));
        byte[] clientKey = new byte[KEY_LENGTH];
        for (int i = 0; i < KEY_LENGTH; i++) {
            clientKey[i] = (byte) (clientProof[i] ^ clientSignature[i]);
        }
        return MessageDigest.isEqual(sha256(clientKey), storedKey);
    }

    /** ServerSignature = HMAC(ServerKey, AuthMessage), which the client checks. */
    public static byte[] serverSignature(byte[] serverKey, String authMessage) {
        return hmac(serverKey, authMessage.getBytes(StandardCharsets.UTF_8));
    }

    /** server-first-message: {@code r=<client nonce><server nonce>,s=<salt>,i=<iterations>}. */
    public static String serverFirst(String nonce, byte[] salt, int iterations) {
        return "r=" + nonce + ",s=" + Base64.getEncoder().encodeToString(salt) + ",i=" + iterations;
    }

    /** server-final-message of a successful exchange: {@code v=<ServerSignature>}. */
    public static String serverFinal(byte[] serverSignature) {
        return "v=" + Base64.getEncoder().encodeToString(serverSignature);
    }

    /** AuthMessage = client-first-message-bare "," server-first-message "," client-final-message-without-proof. */
    public static String authMessage(String clientFirstBare, String serverFirst, String clientFinalWithoutProof) {
        return clientFirstBare + ',' + serverFirst + ',' + clientFinalWithoutProof;
    }

    static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }
}
