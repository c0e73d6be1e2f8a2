package dev.tether.cluster.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.cluster.Change;
import dev.tether.protocol.MessageProperties;
import dev.tether.protocol.PublishedMessage;
import dev.tether.protocol.UserProperty;
import dev.tether.routing.Subscription;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ClusterCodecTest {

    private static final PublishedMessage FULL = new PublishedMessage("a/é/c", "payload".getBytes(StandardCharsets.UTF_8),
            2, true, new MessageProperties(1, "text/plain", "reply/to", new byte[] {0, 1, 2},
            List.of(new UserProperty("k", "v"), new UserProperty("k", "w"))),
            Instant.ofEpochSecond(1_800_000_000L, 123_456_789), "publisher-1");
    private static final PublishedMessage BARE = new PublishedMessage("t", new byte[0], 0, false, MessageProperties.NONE,
            null, null);

    @Test
    void changes_whenEncodedAndDecoded_thenEqual() {
        List<Change> changes = List.of(
                new Change.Subscribed("c1", 7, true, List.of(
                        new Subscription("c1", "a/+/c", 1, true, false, 2, 42),
                        new Subscription("c1", "$share/g/#", 2, false, true, 0, 0))),
                new Change.Unsubscribed("c1", 8, List.of("a/+/c", "x")),
                new Change.HolderChanged("c2", UUID.randomUUID(), Long.MAX_VALUE, false, true),
                new Change.Released("c3", 3, true),
                new Change.SessionsRemoved(List.of("c4", "c5")),
                new Change.RetainedSet(FULL),
                new Change.RetainedSet(BARE));
        for (Change c : changes) {
            assertThat(ClusterCodec.decodeChange(ClusterCodec.encode(c))).isEqualTo(c);
        }
    }

    @Test
    void forward_whenEncodedAndDecoded_thenEqual() {
        var f = new ClusterCodec.Forward("client", FULL, 1, List.of(3, 268_435_455), 99L);
        assertThat(ClusterCodec.decodeForward(ClusterCodec.encode(f))).isEqualTo(f);
        var bare = new ClusterCodec.Forward("client", BARE, 0, List.of(), 0);
        assertThat(ClusterCodec.decodeForward(ClusterCodec.encode(bare))).isEqualTo(bare);
    }

    @Test
    void takeover_whenEncodedAndDecoded_thenEqual() {
        var t = new ClusterCodec.TakeoverRequest("client", UUID.randomUUID(), true);
        assertThat(ClusterCodec.decodeTakeover(ClusterCodec.encode(t))).isEqualTo(t);
    }

    @Test
    void decode_whenTruncated_thenThrows() {
        Buffer whole = ClusterCodec.encode(new Change.RetainedSet(FULL));
        assertThatThrownBy(() -> ClusterCodec.decodeChange(whole.getBuffer(0, whole.length() - 3)))
                .isInstanceOf(RuntimeException.class);
    }
}
