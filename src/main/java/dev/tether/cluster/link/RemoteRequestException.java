package dev.tether.cluster.link;

import java.util.UUID;

/** The peer's request handler failed; its message is the error reply's body (UTF-8). */
public final class RemoteRequestException extends RuntimeException {
    private final transient UUID peer;

    public RemoteRequestException(UUID peer, String message) {
        super("peer " + peer + " failed the request: " + message, null, false, false);
        this.peer = peer;
    }

    public UUID peer() {
        return peer;
    }
}
