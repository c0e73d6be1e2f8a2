package dev.tether.limits;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** New connections per source address (tether.limits.connections-per-second-per-address), on a hand-moved clock. */
class ConnectionRateTest {

    private static final long SECOND = 1_000_000_000L;

    @Test
    void admit_whenAddressBeyondBurst_thenRefusedWhileOtherAddressesAdmitted() {
        ConnectionRate rate = new ConnectionRate(2, 3, 100);
        for (int i = 0; i < 3; i++) {
            assertThat(rate.admit("10.0.0.1", 0)).isTrue();
        }
        assertThat(rate.admit("10.0.0.1", 0)).isFalse();
        assertThat(rate.admit("10.0.0.2", 0)).isTrue();
        assertThat(rate.admit("10.0.0.1", SECOND / 2)).isTrue(); // one more after half a second at 2/s
        assertThat(rate.admit("10.0.0.1", SECOND / 2)).isFalse();
    }

    @Test
    void admit_whenRateZero_thenEveryConnectionAdmittedAndNothingTracked() {
        ConnectionRate rate = new ConnectionRate(0, 1, 100);
        for (int i = 0; i < 1000; i++) {
            assertThat(rate.admit("10.0.0.1", 0)).isTrue();
        }
        assertThat(rate.size()).isZero();
    }

    @Test
    void admit_whenMoreAddressesThanTracked_thenLeastRecentForgotten() {
        ConnectionRate rate = new ConnectionRate(1, 1, 2);
        rate.admit("a", 0);
        rate.admit("b", 0);
        rate.admit("c", 0);
        assertThat(rate.size()).isEqualTo(2);
        assertThat(rate.admit("a", 0)).as("forgotten, so it starts with a full bucket").isTrue();
        assertThat(rate.admit("c", 0)).isFalse();
    }
}
