package dev.tether.cluster.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class RemoteHoldersTest {

    private final UUID self = UUID.randomUUID();
    private final UUID a = UUID.randomUUID();
    private final UUID b = UUID.randomUUID();
    private final RemoteHolders holders = new RemoteHolders(self);

    @Test
    void release_whenOlderThanTheKnownHolder_thenIgnored() {
        holders.hold("c", b, 5);
        assertThat(holders.release("c", 4)).isFalse(); // the taken-over connection on A ends after B opened
        assertThat(holders.remoteHolderOf("c")).contains(b);
        assertThat(holders.isCurrent("c", 4)).isFalse();
    }

    @Test
    void hold_whenOlderThanTheKnownHolder_thenIgnored() {
        holders.hold("c", b, 5);
        holders.hold("c", a, 4);
        assertThat(holders.remoteHolderOf("c")).contains(b);
    }

    @Test
    void remoteHolderOf_whenHeldHere_thenEmpty() {
        holders.hold("c", self, 1);
        assertThat(holders.remoteHolderOf("c")).isEmpty();
        assertThat(holders.isCurrent("c", 0)).isFalse();
    }

    @Test
    void dropInstance_whenReplicaGone_thenItsClientsHeldNowhere() {
        holders.hold("c1", a, 1);
        holders.hold("c2", b, 2);
        holders.dropInstance(a);
        assertThat(holders.remoteHolderOf("c1")).isEmpty();
        assertThat(holders.remoteHolderOf("c2")).contains(b);
        assertThat(holders.isCurrent("c1", 0)).isFalse(); // the epoch is remembered
        assertThat(holders.remoteCount()).isEqualTo(1);
    }
}
