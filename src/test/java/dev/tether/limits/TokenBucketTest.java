package dev.tether.limits;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The token bucket of connection and publish rates, on a clock moved by hand (nanoseconds). */
class TokenBucketTest {

    private static final long SECOND = 1_000_000_000L;

    @Test
    void tryTake_whenBurstUsed_thenRefusedUntilRefilled() {
        TokenBucket bucket = new TokenBucket(10, 5, 0);
        for (int i = 0; i < 5; i++) {
            assertThat(bucket.tryTake(0)).as("token %d of the burst", i).isTrue();
        }
        assertThat(bucket.tryTake(0)).isFalse();
        assertThat(bucket.tryTake(SECOND / 20)).isFalse(); // half a token
        assertThat(bucket.tryTake(SECOND / 10)).isTrue(); // one token after 100 ms at 10/s
        assertThat(bucket.tryTake(SECOND / 10)).isFalse();
    }

    @Test
    void take_whenIntoDebt_thenTellsHowLongUntilRepaid() {
        TokenBucket bytes = new TokenBucket(1000, 1000, 0);
        assertThat(bytes.take(600, 0)).isZero();
        // 400 left, 1,400 taken: 1,000 in debt, repaid at 1,000/s in one second
        assertThat(bytes.take(1400, 0)).isEqualTo(SECOND);
        assertThat(bytes.debtNanos(SECOND / 2)).isEqualTo(SECOND / 2);
        assertThat(bytes.debtNanos(SECOND)).isZero();
    }

    @Test
    void refill_whenIdleLong_thenHoldsNoMoreThanCapacity() {
        TokenBucket bucket = new TokenBucket(100, 3, 0);
        assertThat(bucket.isFull(0)).isTrue();
        bucket.tryTake(0);
        assertThat(bucket.isFull(0)).isFalse();
        assertThat(bucket.isFull(3600 * SECOND)).isTrue();
        int taken = 0;
        while (bucket.tryTake(3600 * SECOND)) {
            taken++;
        }
        assertThat(taken).isEqualTo(3);
    }
}
