package dev.tether.cluster.link;

import java.util.UUID;

/** The outbound link to a peer is not up, or went down before a request's reply arrived. */
public final class LinkDownException extends RuntimeException {
    private final transient UUID peer;

    public LinkDownException(UUID peer, String message) {
        super("link to " + peer + ": " + message, null, false, false);
        this.peer = peer;
    }

    public UUID peer() {
        return peer;
    }
}
