package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The instance id kept in the state directory, and who may read the previous one. */
class InstanceIdentityTest {

    @TempDir
    Path dir;

    @Test
    void claim_whenDirectoryNew_thenFreshIdAndNoPreviousLife() {
        try (InstanceIdentity first = InstanceIdentity.claim(dir.resolve("state"))) {
            assertThat(first.previousLife()).isEmpty();
            assertThat(first.id()).isNotNull();
        }
    }

    @Test
    void claim_whenPreviousProcessReleased_thenItsIdIsThePreviousLife() {
        InstanceIdentity first = InstanceIdentity.claim(dir);
        first.close();
        try (InstanceIdentity second = InstanceIdentity.claim(dir)) {
            assertThat(second.previousLife()).contains(first.id());
            assertThat(second.id()).isNotEqualTo(first.id());
        }
    }

    @Test
    void claim_whenDirectoryHeldByLiveOwner_thenNoPreviousLifeAndOwnerKeepsIt() {
        InstanceIdentity owner = InstanceIdentity.claim(dir);
        try (owner) {
            try (InstanceIdentity other = InstanceIdentity.claim(dir)) {
                // A live broker's sessions are never settled by another process.
                assertThat(other.previousLife()).isEmpty();
                assertThat(other.id()).isNotEqualTo(owner.id());
            }
            // The other claim neither took the directory nor wrote its id there.
            try (InstanceIdentity third = InstanceIdentity.claim(dir)) {
                assertThat(third.previousLife()).isEmpty();
            }
        }
        try (InstanceIdentity next = InstanceIdentity.claim(dir)) {
            assertThat(next.previousLife()).contains(owner.id());
        }
    }

    @Test
    void claim_whenIdFileGarbled_thenNoPreviousLife() throws Exception {
        Files.writeString(dir.resolve(InstanceIdentity.ID_FILE), "not an id\n");
        try (InstanceIdentity identity = InstanceIdentity.claim(dir)) {
            assertThat(identity.previousLife()).isEmpty();
        }
    }

    @Test
    void claim_whenStateDirectoryUnusable_thenFreshIdAndNoPreviousLife() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        try (InstanceIdentity identity = InstanceIdentity.claim(file.resolve("state"))) {
            assertThat(identity.previousLife()).isEmpty();
            assertThat(identity.id()).isNotNull();
        }
    }
}
