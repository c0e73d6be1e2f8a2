package dev.tether.events;

/**
 * A holder event that PostgreSQL refused: the session row no longer names the connection that published it
 * ({@code sessions.connection_id}), because another connection (on this replica or another) took the session over,
 * or the session ended. Not a failure of the database or of the statement: it is never retried. The connection that
 * published the event no longer holds its session and closes, without its will and without a close of the session.
 */
public final class HolderFenced extends RuntimeException {

    private final transient SessionEvent event;

    public HolderFenced(SessionEvent event) {
        super(event.getClass().getSimpleName() + " refused: the session is no longer held by this connection",
                null, false, false); // expected, and handled by closing: no stack trace
        this.event = event;
    }

    /** The refused event. */
    public SessionEvent event() {
        return event;
    }

    /** Whether {@code failure}, or one of its causes, is a {@link HolderFenced}. */
    public static boolean isCause(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof HolderFenced) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }
}
