package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;

/**
 * A live client connection as seen by message delivery. Implementations are thread-safe: each
 * call hands the work to the thread that owns the connection.
 */
public interface ClientConnection {

    /** This network connection's id ({@code sessions.connection_id} while it holds the session). */
    UUID connectionId();

    /**
     * Delivers a message at {@code qos}.
     *
     * @param messageId the {@code queued_messages} row holding it, or 0 when it lives in memory only
     */
    void deliver(PublishedMessage message, int qos, List<Integer> subscriptionIdentifiers, long messageId);

    /**
     * A stored message still queued for this session in PostgreSQL that no delivery brought (a forward from another
     * replica was lost): sent unless this connection holds it already.
     */
    void recover(StoredOutboundMessage message);

    /**
     * Another connection took this Client Identifier over [MQTT-3.1.4-3]. The stage completes once this
     * connection has settled: its will decided, DISCONNECT 0x8E sent, nothing more of it to come.
     */
    CompletionStage<Void> takeOver(boolean newCleanStart);

    /**
     * The session ended under this connection (its row in PostgreSQL is gone, e.g. deleted with SQL): the
     * connection closes and leaves nothing of the session behind.
     */
    void sessionEnded();
}
