package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import dev.tether.session.Will;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import org.jboss.logging.Logger;

/** Publishes a session's Will Message like any other message of that client. */
@ApplicationScoped
public class WillPublisher {
    private static final Logger LOG = Logger.getLogger(WillPublisher.class);

    private final MessageRouter router;
    private final Clock clock;

    public WillPublisher(MessageRouter router, Clock clock) {
        this.router = router;
        this.clock = clock;
    }

    public Uni<Void> publish(String clientId, Will will) {
        var now = clock.instant();
        PublishedMessage m = new PublishedMessage(will.topic(), will.payload(), will.qos(), will.retain(),
                will.properties(), will.messageExpirySeconds() == null ? null : now.plusSeconds(will.messageExpirySeconds()),
                clientId);
        LOG.debugf("publishing will of %s to %s", clientId, will.topic());
        return router.route(m).replaceWithVoid();
    }

    public void publishAndForget(String clientId, Will will) {
        publish(clientId, will).subscribe().with(v -> { }, f -> LOG.warnf(f, "will of %s not published", clientId));
    }
}
