package dev.tether.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The per-address throttle on its own, with time passed in. */
class FailureThrottleTest {

    private static final FailureThrottle.Limits LIMITS = new FailureThrottle.Limits(3, 10, Duration.ofSeconds(60),
            Duration.ofMillis(250), Duration.ofSeconds(5), 100);
    private static final Instant T0 = Instant.parse("2026-12-02T08:00:00Z");

    @Test
    void admit_whenFewFailures_thenNoDelay() {
        FailureThrottle t = new FailureThrottle(LIMITS);
        assertThat(t.admit("a", T0)).isEqualTo(FailureThrottle.Admission.CLEAN);
        t.failed("a", T0);
        for (int i = 1; i < 3; i++) {
            assertThat(t.admit("a", T0)).isEqualTo(new FailureThrottle.Admission(false, Duration.ZERO, true));
            t.failed("a", T0);
        }
        assertThat(t.admit("a", T0).delay()).isEqualTo(Duration.ofMillis(250));
        t.failed("a", T0);
        assertThat(t.admit("a", T0).delay()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void admit_whenDelayGrows_thenCappedAtMaxDelay() {
        FailureThrottle t = new FailureThrottle(new FailureThrottle.Limits(0, 100, Duration.ofSeconds(60),
                Duration.ofMillis(250), Duration.ofSeconds(5), 100));
        for (int i = 0; i < 20; i++) {
            t.admit("a", T0);
            t.failed("a", T0);
        }
        assertThat(t.admit("a", T0).delay()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void admit_whenThresholdReached_thenBannedUntilBanDurationPasses() {
        FailureThrottle t = new FailureThrottle(LIMITS);
        for (int i = 0; i < 10; i++) {
            t.admit("a", T0);
            t.failed("a", T0);
        }
        assertThat(t.admit("a", T0.plusSeconds(59)).banned()).isTrue();
        assertThat(t.admit("b", T0).banned()).isFalse(); // other addresses are not affected
        FailureThrottle.Admission later = t.admit("a", T0.plusSeconds(61));
        assertThat(later.banned()).isFalse();
        assertThat(later.delay()).isZero(); // forgotten
    }

    @Test
    void admit_whenManyAttemptsRunAtOnce_thenSuspectButNeverBannedForRunning() {
        // A fleet behind one NAT reconnecting at once: no failure, no ban, only the first one clean.
        FailureThrottle t = new FailureThrottle(LIMITS);
        assertThat(t.admit("a", T0)).isEqualTo(FailureThrottle.Admission.CLEAN);
        for (int i = 1; i < 1000; i++) {
            assertThat(t.admit("a", T0)).isEqualTo(new FailureThrottle.Admission(false, Duration.ZERO, true));
        }
        for (int i = 0; i < 1000; i++) {
            t.ended("a");
        }
        assertThat(t.admit("a", T0)).isEqualTo(FailureThrottle.Admission.CLEAN);
    }

    @Test
    void isBanned_whenParallelAttemptsFailPastTheThreshold_thenTheOnesStillWaitingSeeTheBan() {
        FailureThrottle t = new FailureThrottle(LIMITS);
        for (int i = 0; i < 1000; i++) {
            assertThat(t.admit("a", T0).banned()).isFalse(); // all admitted before any has failed
        }
        assertThat(t.isBanned("a", T0)).isFalse();
        for (int i = 0; i < 10; i++) {
            t.failed("a", T0);
        }
        assertThat(t.isBanned("a", T0)).isTrue(); // the 990 still queued are not hashed
        assertThat(t.admit("a", T0).banned()).isTrue();
        assertThat(t.isBanned("b", T0)).isFalse();
    }

    @Test
    void ended_whenAttemptSucceeds_thenItNoLongerCounts() {
        FailureThrottle t = new FailureThrottle(LIMITS);
        for (int i = 0; i < 20; i++) {
            t.admit("a", T0);
            t.ended("a");
        }
        assertThat(t.admit("a", T0)).isEqualTo(FailureThrottle.Admission.CLEAN);
    }

    @Test
    void admit_whenMoreAddressesThanTheBound_thenOldestForgotten() {
        FailureThrottle t = new FailureThrottle(LIMITS);
        for (int i = 0; i < 500; i++) {
            t.admit("10.0.0." + i, T0);
        }
        assertThat(t.size()).isEqualTo(100);
    }
}
