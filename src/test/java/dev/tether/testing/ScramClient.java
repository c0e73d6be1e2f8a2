package dev.tether.testing;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The client side of one SCRAM-SHA-256 login (RFC 5802, RFC 7677), written straight from the RFC with the JDK's
 * PBKDF2, HMAC and SHA-256 and sharing no code with the broker's implementation: what a test sends in CONNECT and
 * AUTH, and its check of the server's signature.
 */
public final class ScramClient {

    private final String username;
    private final String password;
    private final String clientNonce;
    private String clientFirstBare;
    private byte[] expectedServerSignature;

    public ScramClient(String username, String password, String clientNonce) {
        this.username = username;
        this.password = password;
        this.clientNonce = clientNonce;
    }

    /** client-first-message: {@code n,,n=<user, "," and "=" escaped>,r=<nonce>}. */
    public byte[] clientFirst() {
        clientFirstBare = "n=" + username.replace("=", "=3D").replace(",", "=2C") + ",r=" + clientNonce;
        return ("n,," + clientFirstBare).getBytes(StandardCharsets.UTF_8);
    }

    /** The attributes of a server-first-message, in order ({@code r}, {@code s}, {@code i}). */
    public static Map<String, String> attributes(byte[] message) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String field : new String(message, StandardCharsets.UTF_8).split(",")) {
            out.put(field.substring(0, 1), field.substring(2));
        }
        return out;
    }

    /** client-final-message answering {@code serverFirst}, with this client's password. */
    public byte[] clientFinal(byte[] serverFirst) {
        return clientFinal(serverFirst, password);
    }

    /** client-final-message answering {@code serverFirst} with {@code password} (a wrong one for negative tests). */
    public byte[] clientFinal(byte[] serverFirst, String password) {
        Map<String, String> a = attributes(serverFirst);
        String nonce = a.get("r");
        if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()) {
            throw new IllegalStateException("the server's nonce does not extend the client's: " + nonce);
        }
        byte[] salted = saltedPassword(password, Base64.getDecoder().decode(a.get("s")), Integer.parseInt(a.get("i")));
        String withoutProof = "c=biws,r=" + nonce;
        String authMessage = clientFirstBare + "," + new String(serverFirst, StandardCharsets.UTF_8) + "," + withoutProof;
        byte[] clientKey = hmac(salted, "Client Key");
        byte[] signature = hmac(sha256(clientKey), authMessage);
        byte[] proof = new byte[clientKey.length];
        for (int i = 0; i < proof.length; i++) {
            proof[i] = (byte) (clientKey[i] ^ signature[i]);
        }
        expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage);
        return (withoutProof + ",p=" + Base64.getEncoder().encodeToString(proof)).getBytes(StandardCharsets.UTF_8);
    }

    /** True when {@code serverFinal} is {@code v=<the ServerSignature this client expects>}. */
    public boolean verifiesServerFinal(byte[] serverFinal) {
        String text = new String(serverFinal, StandardCharsets.UTF_8);
        return text.startsWith("v=") && expectedServerSignature != null
                && MessageDigest.isEqual(Base64.getDecoder().decode(text.substring(2)), expectedServerSignature);
    }

    /** SCRAM credentials in PostgreSQL's pg_authid format, computed in Java (to compare with the SQL function). */
    public static String storedCredentials(String password, byte[] salt, int iterations) {
        byte[] salted = saltedPassword(password, salt, iterations);
        Base64.Encoder b64 = Base64.getEncoder();
        return "SCRAM-SHA-256$" + iterations + ":" + b64.encodeToString(salt) + "$"
                + b64.encodeToString(sha256(hmac(salted, "Client Key"))) + ":"
                + b64.encodeToString(hmac(salted, "Server Key"));
    }

    private static byte[] saltedPassword(String password, byte[] salt, int iterations) {
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                    .generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256)).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        return hmac(key, data.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
