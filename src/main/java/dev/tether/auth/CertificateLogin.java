package dev.tether.auth;

/**
 * What a client certificate's name comes to ({@code tether.auth.certificate-as-username}).
 *
 * @param outcome {@code ACCEPTED}, {@code NOT_AUTHORIZED} (a disabled row) or {@code UNAVAILABLE}
 * @param hasRow  whether {@code mqtt_users} holds a row of that name: only then is the client disconnected once the
 *                row is disabled or deleted (a certificate user without a row has nothing to revoke there)
 */
public record CertificateLogin(AuthOutcome outcome, boolean hasRow) {
}
