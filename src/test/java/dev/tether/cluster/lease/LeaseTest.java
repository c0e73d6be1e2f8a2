package dev.tether.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The local copy of the lease on a fake monotonic clock and a fake timer: no sleeps, no Vert.x. */
class LeaseTest {

    private static final long MS = 1_000_000L;

    /** A monotonic clock the test moves, starting far from zero (nanoTime may be negative or near overflow). */
    private long now = Long.MAX_VALUE - 5_000 * MS;
    /** Timers scheduled by the lease: when each fires (on the fake clock) and what it runs. */
    private final List<long[]> timerDue = new ArrayList<>();
    private final List<Runnable> timerActions = new ArrayList<>();

    private Lease lease(Duration duration) {
        return new Lease(duration, () -> now, (delayMillis, action) -> {
            timerDue.add(new long[] {now + delayMillis * MS});
            timerActions.add(action);
        });
    }

    /** Fires every timer due by now, in order. */
    private void fireDueTimers() {
        for (int i = 0; i < timerActions.size(); i++) {
            if (now - timerDue.get(i)[0] >= 0) {
                Runnable action = timerActions.get(i);
                timerActions.set(i, () -> { });
                action.run();
            }
        }
    }

    @Test
    void margin_whenLeaseLong_thenATenth_andNeverBelow500Millis() {
        assertThat(Lease.margin(Duration.ofSeconds(10))).isEqualTo(Duration.ofSeconds(1));
        assertThat(Lease.margin(Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(3));
        assertThat(Lease.margin(Duration.ofSeconds(3))).isEqualTo(Duration.ofMillis(500));
        assertThat(Lease.margin(Duration.ofSeconds(5))).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void isValid_whenNeverRenewed_thenFalse() {
        assertThat(lease(Duration.ofSeconds(10)).isValid()).isFalse();
    }

    @Test
    void isValid_whenRenewed_thenValidFromTheSendTimeForTheLeaseMinusTheMargin() {
        Lease lease = lease(Duration.ofSeconds(10));
        long sent = now;
        now += 3_000 * MS; // the answer took 3 s: validity still counts from the send
        lease.renewed(sent);
        assertThat(lease.isValid()).isTrue();
        now = sent + 9_000 * MS - 1; // 10 s - 1 s margin
        assertThat(lease.isValid()).isTrue();
        now = sent + 9_000 * MS;
        assertThat(lease.isValid()).isFalse();
    }

    @Test
    void isValid_whenShortLease_thenTheMarginIs500Millis() {
        Lease lease = lease(Duration.ofSeconds(3));
        long sent = now;
        lease.renewed(sent);
        now = sent + 2_500 * MS - 1;
        assertThat(lease.isValid()).isTrue();
        now = sent + 2_500 * MS;
        assertThat(lease.isValid()).isFalse();
    }

    @Test
    void renewed_whenAnOlderRenewalAnswersLate_thenTheLeaseIsNotShortened() {
        Lease lease = lease(Duration.ofSeconds(10));
        long older = now;
        now += 1_000 * MS;
        long newer = now;
        lease.renewed(newer);
        lease.renewed(older);
        now = newer + 9_000 * MS - 1;
        assertThat(lease.isValid()).isTrue();
    }

    @Test
    void timer_whenNoRenewalByTheLocalEnd_thenLostAndListenersRunOnce() {
        Lease lease = lease(Duration.ofSeconds(10));
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        long sent = now;
        lease.renewed(sent);
        assertThat(timerDue).singleElement().satisfies(due -> assertThat(due[0]).isEqualTo(sent + 9_000 * MS));

        now = sent + 9_000 * MS;
        fireDueTimers();

        assertThat(lost).hasValue(1);
        assertThat(lease.isLost()).isTrue();
        assertThat(lease.lostReason()).isPresent();
        assertThat(lease.lose("again")).isFalse();
        assertThat(lost).hasValue(1);
    }

    @Test
    void timer_whenARenewalCameInTime_thenTheEarlierTimerLosesNothing() {
        Lease lease = lease(Duration.ofSeconds(10));
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        lease.renewed(now);
        now += 2_000 * MS;
        lease.renewed(now);
        now += 7_000 * MS; // the first renewal's end: the second still runs for 2 s
        fireDueTimers();
        assertThat(lost).hasValue(0);
        assertThat(lease.isValid()).isTrue();

        now += 2_000 * MS;
        fireDueTimers();
        assertThat(lost).hasValue(1);
    }

    @Test
    void lose_whenRenewalRefused_thenInvalidAtOnceAndLaterRenewalsIgnored() {
        Lease lease = lease(Duration.ofSeconds(10));
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        lease.renewed(now);

        assertThat(lease.lose("fenced")).isTrue();

        assertThat(lease.isValid()).isFalse();
        assertThat(lease.lostReason()).contains("fenced");
        lease.renewed(now);
        assertThat(lease.isValid()).isFalse();
        assertThat(lost).hasValue(1);
    }

    @Test
    void release_whenStoppingGracefully_thenInvalidAndNoListenerRuns() {
        Lease lease = lease(Duration.ofSeconds(10));
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        lease.renewed(now);

        lease.release();
        now += 9_000 * MS;
        fireDueTimers();

        assertThat(lease.isValid()).isFalse();
        assertThat(lease.isLost()).isFalse();
        assertThat(lease.lose("late refusal")).isFalse();
        assertThat(lost).hasValue(0);
    }

    @Test
    void onLost_whenAlreadyLost_thenRunsAtOnce() {
        Lease lease = lease(Duration.ofSeconds(10));
        lease.lose("refused at start");
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        assertThat(lost).hasValue(1);
    }

    @Test
    void forbidsAcknowledging_whenHeldAndPastItsLocalEndBeforeTheTimerRan_thenTrue() {
        Lease lease = lease(Duration.ofSeconds(10));
        assertThat(lease.forbidsAcknowledging()).as("before the lease is first taken (start-up)").isFalse();
        lease.renewed(now);
        assertThat(lease.forbidsAcknowledging()).as("held").isFalse();
        now += 9_000 * MS; // the local end passed, the timer that would lose the lease has not run (a pause)
        assertThat(lease.isLost()).isFalse();
        assertThat(lease.forbidsAcknowledging()).as("held but past its local end").isTrue();
    }

    @Test
    void forbidsAcknowledging_whenLost_thenTrue_whenReleased_thenFalse() {
        Lease lost = lease(Duration.ofSeconds(10));
        lost.renewed(now);
        lost.lose("test");
        assertThat(lost.forbidsAcknowledging()).isTrue();
        Lease released = lease(Duration.ofSeconds(10));
        released.renewed(now);
        released.release();
        assertThat(released.forbidsAcknowledging()).as("graceful stop: the drain still acknowledges").isFalse();
    }
}
