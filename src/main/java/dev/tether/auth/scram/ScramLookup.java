package dev.tether.auth.scram;

import java.util.Optional;

/**
 * What {@code mqtt_users} says about a SCRAM login, read in one query whether or not the user exists.
 *
 * @param credentials the user's {@code scram_sha256}, when the user exists and has valid ones
 * @param enabled     whether the user is enabled (false when it does not exist)
 * @param mockSalt    a salt derived from the user name and a secret of the installation: what an unknown user, or one
 *                    without SCRAM credentials, is challenged with, the same at every attempt and on every replica
 */
public record ScramLookup(Optional<ScramCredentials> credentials, boolean enabled, byte[] mockSalt) {

    public ScramLookup {
        mockSalt = mockSalt.clone();
    }

    @Override
    public byte[] mockSalt() {
        return mockSalt.clone();
    }
}
