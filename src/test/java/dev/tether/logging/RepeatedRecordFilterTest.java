package dev.tether.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;

class RepeatedRecordFilterTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final RepeatedRecordFilter filter = new RepeatedRecordFilter(Duration.ofSeconds(60), now::get);

    private static ExtLogRecord warn(String logger, String format, Object... params) {
        ExtLogRecord r = new ExtLogRecord(org.jboss.logmanager.Level.WARN, format, ExtLogRecord.FormatStyle.PRINTF,
                RepeatedRecordFilterTest.class.getName());
        r.setLoggerName(logger);
        r.setParameters(params);
        return r;
    }

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void isLoggable_whenSameKindRepeatsWithinWindow_thenOnlyTheFirstIsWritten() {
        // The same pattern naming different clients is one kind.
        assertThat(filter.isLoggable(warn("a", "session %s could not be opened", "c1"))).isTrue();
        advance(Duration.ofSeconds(1));
        assertThat(filter.isLoggable(warn("a", "session %s could not be opened", "c2"))).isFalse();
        advance(Duration.ofSeconds(58));
        assertThat(filter.isLoggable(warn("a", "session %s could not be opened", "c3"))).isFalse();
    }

    @Test
    void isLoggable_whenWindowPassed_thenNextIsWrittenWithTheCountLeftOut() {
        filter.isLoggable(warn("a", "expiry run failed: %s", "refused"));
        for (int i = 0; i < 5; i++) {
            advance(Duration.ofSeconds(1));
            filter.isLoggable(warn("a", "expiry run failed: %s", "refused"));
        }
        advance(Duration.ofSeconds(60));
        ExtLogRecord next = warn("a", "expiry run failed: %s", "refused");
        assertThat(filter.isLoggable(next)).isTrue();
        assertThat(next.getFormattedMessage())
                .isEqualTo("expiry run failed: refused [5 more like this in the last 65 s not logged]");
        // A new window starts: the count starts again.
        advance(Duration.ofSeconds(61));
        ExtLogRecord after = warn("a", "expiry run failed: %s", "refused");
        assertThat(filter.isLoggable(after)).isTrue();
        assertThat(after.getFormattedMessage()).isEqualTo("expiry run failed: refused");
    }

    @Test
    void isLoggable_whenLoggerPatternLevelOrExceptionDiffer_thenEachKindIsWritten() {
        assertThat(filter.isLoggable(warn("a", "failed: %s", "x"))).isTrue();
        assertThat(filter.isLoggable(warn("b", "failed: %s", "x"))).isTrue();
        assertThat(filter.isLoggable(warn("a", "other: %s", "x"))).isTrue();
        ExtLogRecord error = warn("a", "failed: %s", "x");
        error.setLevel(org.jboss.logmanager.Level.ERROR);
        assertThat(filter.isLoggable(error)).isTrue();
        ExtLogRecord withException = warn("a", "failed: %s", "x");
        withException.setThrown(new IllegalArgumentException());
        assertThat(filter.isLoggable(withException)).isTrue();
    }

    @Test
    void isLoggable_whenBelowWarn_thenAlwaysWritten() {
        for (int i = 0; i < 3; i++) {
            ExtLogRecord info = warn("a", "connected %s", "c");
            info.setLevel(Level.INFO);
            assertThat(filter.isLoggable(info)).isTrue();
        }
    }

    @Test
    void isLoggable_whenTheSameRecordReachesASecondHandler_thenSameAnswer() {
        ExtLogRecord first = warn("a", "failed: %s", "x");
        assertThat(filter.isLoggable(first)).isTrue();
        assertThat(filter.isLoggable(first)).isTrue();
        ExtLogRecord repeat = warn("a", "failed: %s", "x");
        assertThat(filter.isLoggable(repeat)).isFalse();
        assertThat(filter.isLoggable(repeat)).isFalse();
    }

    @Test
    void isLoggable_whenPoolTimerFailsAQuerySecondTime_thenOneLineWarnWithoutStackTrace() {
        // vertx-sql-client#1706 as Vert.x reports it: an uncaught IllegalStateException from the pool's timer.
        ExtLogRecord r = warn("io.quarkus.vertx.core.runtime.VertxCoreRecorder", "Uncaught exception received by Vert.x");
        r.setLevel(org.jboss.logmanager.Level.ERROR);
        r.setThrown(poolTimerException());
        assertThat(filter.isLoggable(r)).isTrue();
        assertThat(r.getLevel()).isEqualTo(org.jboss.logmanager.Level.WARN);
        assertThat(r.getThrown()).isNull();
        assertThat(r.getFormattedMessage()).isEqualTo(RepeatedRecordFilter.POOL_TIMER_MESSAGE);

        ExtLogRecord again = warn("io.quarkus.vertx.core.runtime.VertxCoreRecorder", "Uncaught exception received by Vert.x");
        again.setLevel(org.jboss.logmanager.Level.ERROR);
        again.setThrown(poolTimerException());
        assertThat(filter.isLoggable(again)).isFalse();
    }

    @Test
    void isLoggable_whenSameMessageComesFromElsewhere_thenNotRewritten() {
        ExtLogRecord r = warn("io.quarkus.vertx.core.runtime.VertxCoreRecorder", "Uncaught exception received by Vert.x");
        r.setLevel(org.jboss.logmanager.Level.ERROR);
        IllegalStateException elsewhere = new IllegalStateException("Result is already complete");
        elsewhere.setStackTrace(new StackTraceElement[] {
                new StackTraceElement("io.vertx.core.Promise", "fail", "Promise.java", 90),
                new StackTraceElement("com.example.Mine", "run", "Mine.java", 1)});
        r.setThrown(elsewhere);
        assertThat(filter.isLoggable(r)).isTrue();
        assertThat(r.getLevel()).isEqualTo(org.jboss.logmanager.Level.ERROR);
        assertThat(r.getThrown()).isSameAs(elsewhere);
    }

    @Test
    void isLoggable_whenWindowIsZero_thenEveryRecordIsWrittenAndThePoolFailureStillRewritten() {
        RepeatedRecordFilter off = new RepeatedRecordFilter(Duration.ZERO, now::get);
        assertThat(off.isLoggable(warn("a", "failed"))).isTrue();
        assertThat(off.isLoggable(warn("a", "failed"))).isTrue();
        LogRecord pool = warn("x", "Uncaught exception received by Vert.x");
        pool.setThrown(poolTimerException());
        assertThat(off.isLoggable(pool)).isTrue();
        assertThat(pool.getThrown()).isNull();
    }

    private static IllegalStateException poolTimerException() {
        IllegalStateException e = new IllegalStateException("Result is already complete");
        e.setStackTrace(new StackTraceElement[] {
                new StackTraceElement("io.vertx.core.Promise", "fail", "Promise.java", 90),
                new StackTraceElement("io.vertx.sqlclient.impl.pool.SqlConnectionPool", "lambda$execute$3",
                        "SqlConnectionPool.java", 216)});
        return e;
    }
}
