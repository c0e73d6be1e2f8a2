package dev.tether.auth;

/** What a CONNECT's credentials come to; the listener maps it to a CONNACK reason code. */
public enum AuthOutcome {
    /** An enabled user with the right password, or an anonymous client where anonymous clients are allowed. */
    ACCEPTED,
    /** Unknown user or wrong password (never said which): 0x86 / 4. */
    BAD_CREDENTIALS,
    /** A disabled user, or an anonymous client where none are allowed: 0x87 / 5. */
    NOT_AUTHORIZED,
    /** PostgreSQL or the verifier could not answer in time: fail closed, 0x88 / 3. */
    UNAVAILABLE
}
