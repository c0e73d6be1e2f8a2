package dev.tether.logging;

import io.quarkus.logging.LoggingFilter;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logmanager.ExtLogRecord;

/**
 * Keeps a failure that repeats, such as PostgreSQL being unreachable, from flooding the log: a WARN or ERROR record
 * is written once per {@code tether.log.repeat-window} for its logger, level, message pattern (before its parameters
 * are filled in, so one per kind, whichever client it names) and exception class. The repeats in between are counted,
 * not written; the next one written after the window says how many were left out. Records below WARN pass untouched.
 *
 * <p>It also turns the {@code IllegalStateException: Result is already complete} that vertx-sql-client 4.5 reports
 * through Vert.x for every query that failed while PostgreSQL was unreachable (its pool's connection-timeout timer
 * fails the query's promise a second time, 30 s later: eclipse-vertx/vertx-sql-client#1706) into a one-line WARN
 * that says what it is. Nothing is lost by it: the query's caller had already received the real failure.
 *
 * <p>Installed on the console handler ({@code quarkus.log.console.filter=tether-repeats}). Called by any logging
 * thread; the state is guarded by the map's lock, and a record that reaches a second handler right after the first
 * gets the same answer.
 */
@LoggingFilter(name = "tether-repeats")
public final class RepeatedRecordFilter implements Filter {

    /** Kinds of record remembered at most; the least recently seen is forgotten first. */
    static final int MAX_KINDS = 1024;
    static final String POOL_TIMER_MESSAGE = "a PostgreSQL pool timer failed a query that had already failed "
            + "(vertx-sql-client#1706); harmless, it follows PostgreSQL being unreachable";

    private final long windowNanos;
    private final LongSupplier nanos;
    private final Map<String, Kind> kinds = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Kind> eldest) {
            return size() > MAX_KINDS;
        }
    };

    /** One kind of record: when one was last written, and the repeats left out since. */
    private static final class Kind {
        final long writtenAt;
        int leftOut;

        Kind(long writtenAt) {
            this.writtenAt = writtenAt;
        }
    }

    /** The record decided last and the answer, for a record that reaches a second handler: guarded by kinds. */
    private LogRecord lastRecord;
    private boolean lastAnswer;

    @Inject
    public RepeatedRecordFilter(
            @ConfigProperty(name = "tether.log.repeat-window", defaultValue = "60s") Duration window) {
        this(window, System::nanoTime);
    }

    /** A filter on the monotonic clock {@code nanos}; a zero window writes every record (the pool's still rewritten). */
    RepeatedRecordFilter(Duration window, LongSupplier nanos) {
        this.windowNanos = window.toNanos();
        this.nanos = nanos;
    }

    @Override
    public boolean isLoggable(LogRecord record) {
        if (record.getLevel().intValue() < Level.WARNING.intValue()) {
            return true;
        }
        synchronized (kinds) {
            if (record != lastRecord) {
                lastAnswer = decide(record);
                lastRecord = record;
            }
            return lastAnswer;
        }
    }

    private boolean decide(LogRecord record) {
        if (isPoolTimerFailure(record)) {
            record.setLevel(org.jboss.logmanager.Level.WARN);
            record.setThrown(null);
            setMessage(record, POOL_TIMER_MESSAGE);
        }
        if (windowNanos <= 0) {
            return true;
        }
        String key = record.getLoggerName() + '|' + record.getLevel().intValue() + '|' + record.getMessage() + '|'
                + (record.getThrown() == null ? "" : record.getThrown().getClass().getName());
        long now = nanos.getAsLong();
        Kind kind = kinds.get(key);
        if (kind != null && now - kind.writtenAt < windowNanos) {
            kind.leftOut++;
            return false;
        }
        kinds.put(key, new Kind(now));
        if (kind != null && kind.leftOut > 0) {
            setMessage(record, formatted(record) + String.format(" [%d more like this in the last %d s not logged]",
                    kind.leftOut, Duration.ofNanos(now - kind.writtenAt).toSeconds()));
        }
        return true;
    }

    /** vertx-sql-client#1706: the pool's timer failing an already failed query, as Vert.x reports it. */
    static boolean isPoolTimerFailure(LogRecord record) {
        Throwable t = record.getThrown();
        if (!(t instanceof IllegalStateException) || !"Result is already complete".equals(t.getMessage())) {
            return false;
        }
        for (StackTraceElement frame : t.getStackTrace()) {
            if (frame.getClassName().startsWith("io.vertx.sqlclient.impl.pool.SqlConnectionPool")) {
                return true;
            }
        }
        return false;
    }

    private static String formatted(LogRecord record) {
        if (record instanceof ExtLogRecord ext) {
            return ext.getFormattedMessage();
        }
        return new SimpleFormatter().formatMessage(record);
    }

    private static void setMessage(LogRecord record, String text) {
        if (record instanceof ExtLogRecord ext) {
            ext.setMessage(text, ExtLogRecord.FormatStyle.NO_FORMAT);
        } else {
            record.setMessage(text);
        }
        record.setParameters(null);
    }
}
