package dev.tether.store;

import io.netty.channel.ChannelException;
import io.vertx.core.VertxException;
import io.vertx.pgclient.PgException;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/** How the reconciler reads a failed write: the database away (retry while it lasts) or a statement refused. */
final class WriteFailures {

    /** Attempts at one event whose statement PostgreSQL refuses before the event is given up. */
    static final int STATEMENT_ATTEMPTS = 5;
    private static final Duration FIRST_BACK_OFF = Duration.ofMillis(50);
    private static final Duration MAX_BACK_OFF = Duration.ofSeconds(2);

    private WriteFailures() {
    }

    /**
     * True when the failure says nothing about the statement: the connection broke or could not be made, the
     * server is shutting down or out of resources, or a serialization failure or deadlock asks for a retry.
     */
    static boolean isDatabaseUnavailable(Throwable failure) {
        if (failure instanceof PgException pg) {
            String state = pg.getSqlState() == null ? "" : pg.getSqlState();
            return state.startsWith("08") // connection exception
                    || state.startsWith("53") // insufficient resources
                    || state.startsWith("57P") // admin shutdown, crash shutdown, cannot connect now
                    || state.startsWith("58") // system error (I/O)
                    || state.equals("40001") || state.equals("40P01"); // serialization failure, deadlock
        }
        return failure instanceof IOException
                || failure instanceof TimeoutException
                || failure instanceof VertxException // includes a closed connection
                || failure instanceof ChannelException
                || failure.getClass().getName().endsWith("NoStackTraceThrowable"); // pool or connect timeout
    }

    /** Exponential back-off from 50 ms, capped at 2 s. */
    static Duration backOff(int attempt) {
        long millis = FIRST_BACK_OFF.toMillis() << Math.min(attempt - 1, 10);
        return Duration.ofMillis(Math.min(millis, MAX_BACK_OFF.toMillis()));
    }
}
