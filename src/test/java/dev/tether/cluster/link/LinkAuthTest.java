package dev.tether.cluster.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.SocketAddress;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class LinkAuthTest {
    private final UUID dialer = UUID.randomUUID();
    private final UUID acceptor = UUID.randomUUID();
    private final byte[] nonceA = LinkAuth.nonce();
    private final byte[] nonceD = LinkAuth.nonce();

    @Test
    void macs_whenSameSecret_thenBothSidesAgree() {
        LinkAuth a = new LinkAuth(Optional.of("s3cret"));
        LinkAuth d = new LinkAuth(Optional.of("s3cret"));

        assertThat(LinkAuth.matches(a.dialerMac(nonceA, nonceD, dialer, acceptor), d.dialerMac(nonceA, nonceD, dialer, acceptor))).isTrue();
        assertThat(LinkAuth.matches(a.acceptorMac(nonceD, nonceA, acceptor, dialer), d.acceptorMac(nonceD, nonceA, acceptor, dialer))).isTrue();
        assertThat(a.loopbackOnly()).isFalse();
    }

    @Test
    void macs_whenSecretDiffers_thenMismatch() {
        byte[] right = new LinkAuth(Optional.of("s3cret")).dialerMac(nonceA, nonceD, dialer, acceptor);
        byte[] wrong = new LinkAuth(Optional.of("other")).dialerMac(nonceA, nonceD, dialer, acceptor);

        assertThat(LinkAuth.matches(right, wrong)).isFalse();
    }

    @Test
    void macs_whenNoncesSwappedOrIdsSwappedOrDirectionDiffers_thenMismatch() {
        LinkAuth auth = new LinkAuth(Optional.of("s3cret"));
        byte[] mac = auth.dialerMac(nonceA, nonceD, dialer, acceptor);

        assertThat(LinkAuth.matches(mac, auth.dialerMac(nonceD, nonceA, dialer, acceptor))).isFalse();
        assertThat(LinkAuth.matches(mac, auth.dialerMac(nonceA, nonceD, acceptor, dialer))).isFalse();
        assertThat(LinkAuth.matches(mac, auth.acceptorMac(nonceA, nonceD, dialer, acceptor))).isFalse();
    }

    @Test
    void noSecret_whenAbsentOrEmpty_thenEmptyKeyAndLoopbackOnly() {
        LinkAuth absent = new LinkAuth(Optional.empty());
        LinkAuth empty = new LinkAuth(Optional.of(""));

        assertThat(absent.loopbackOnly()).isTrue();
        assertThat(empty.loopbackOnly()).isTrue();
        assertThat(absent.dialerMac(nonceA, nonceD, dialer, acceptor)).isEqualTo(empty.dialerMac(nonceA, nonceD, dialer, acceptor));
    }

    @Test
    void hello_roundTrip() {
        byte[] mac = new byte[LinkAuth.MAC_BYTES];
        LinkAuth.Hello hello = LinkAuth.Hello.decode(new LinkAuth.Hello(1, dialer, 42, nonceD, mac).encode());

        assertThat(hello.version()).isEqualTo(1);
        assertThat(hello.dialerId()).isEqualTo(dialer);
        assertThat(hello.incarnation()).isEqualTo(42);
        assertThat(hello.nonceD()).isEqualTo(nonceD);
        assertThat(hello.macD()).isEqualTo(mac);
    }

    @Test
    void challenge_whenTruncatedOrWrongNonceLength_thenMalformed() {
        Buffer full = new LinkAuth.Challenge(1, acceptor, nonceA).encode();

        assertThat(LinkAuth.Challenge.decode(full).acceptorId()).isEqualTo(acceptor);
        assertThatThrownBy(() -> LinkAuth.Challenge.decode(full.getBuffer(0, full.length() - 1)))
                .isInstanceOf(LinkAuth.MalformedException.class);
        Buffer shortNonce = Buffer.buffer().appendUnsignedByte((short) 1).appendLong(1).appendLong(2).appendInt(4).appendInt(0);
        assertThatThrownBy(() -> LinkAuth.Challenge.decode(shortNonce)).isInstanceOf(LinkAuth.MalformedException.class);
    }

    @Test
    void isLoopback_onlyForLoopbackIpLiterals() {
        assertThat(Links.isLoopback(SocketAddress.inetSocketAddress(1, "127.0.0.1"))).isTrue();
        assertThat(Links.isLoopback(SocketAddress.inetSocketAddress(1, "::1"))).isTrue();
        assertThat(Links.isLoopback(SocketAddress.inetSocketAddress(1, "10.0.0.1"))).isFalse();
    }
}
