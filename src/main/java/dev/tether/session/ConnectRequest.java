package dev.tether.session;

import dev.tether.protocol.ProtocolVersion;
import java.util.Objects;
import java.util.Optional;

/**
 * What a CONNECT asks of the session layer.
 *
 * @param requestedExpiry the Session Expiry Interval property; empty when absent (which means 0)
 */
public record ConnectRequest(
        ProtocolVersion version,
        String clientId,
        boolean cleanStart,
        Optional<ExpiryInterval> requestedExpiry) {

    public ConnectRequest {
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(clientId, "clientId");
        requestedExpiry = requestedExpiry == null ? Optional.empty() : requestedExpiry;
    }
}
