package dev.tether.admin;

import dev.tether.auth.acl.AccessControl;
import dev.tether.cluster.lease.StopServing;
import dev.tether.delivery.ConnectedClients;
import dev.tether.delivery.MessageRouter;
import dev.tether.delivery.SessionDirectory;
import dev.tether.events.SessionEvents;
import dev.tether.listener.MqttListener;
import dev.tether.store.Reconciler;
import dev.tether.store.SessionWriter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Tether's figures on {@code /q/metrics} (Prometheus format). */
@ApplicationScoped
public class BrokerMetrics {

    private final MeterRegistry registry;
    private final AccessControl acl;
    private final ConnectedClients clients;
    private final SessionDirectory sessions;
    private final MessageRouter router;
    private final Reconciler reconciler;
    private final SessionEvents events;
    private final SessionWriter writer;
    private final MqttListener listener;
    private final StopServing stopServing;

    public BrokerMetrics(MeterRegistry registry, ConnectedClients clients, SessionDirectory sessions,
                         MessageRouter router, Reconciler reconciler, SessionEvents events, SessionWriter writer, MqttListener listener,
                         StopServing stopServing, AccessControl acl) {
        this.acl = acl;
        this.stopServing = stopServing;
        this.listener = listener;
        this.writer = writer;
        this.registry = registry;
        this.clients = clients;
        this.sessions = sessions;
        this.router = router;
        this.reconciler = reconciler;
        this.events = events;
    }

    void register(@Observes StartupEvent ev) {
        Gauge.builder("tether.connections", clients, ConnectedClients::size)
                .description("Live MQTT connections on this instance").register(registry);
        Gauge.builder("tether.sessions", sessions, SessionDirectory::size)
                .description("Sessions known to this instance (online and offline durable)").register(registry);
        Gauge.builder("tether.store.waiting.events", events, SessionEvents::waiting)
                .description("Session events waiting to be committed to PostgreSQL").register(registry);
        FunctionCounter.builder("tether.queue.dropped.messages", router, MessageRouter::droppedForFullQueue)
                .description("Messages not queued for a session because its queue was full (drop-newest)")
                .tag("policy", "drop-newest").register(registry);
        FunctionCounter.builder("tether.queue.dropped.messages", writer, SessionWriter::droppedOldest)
                .description("Queued messages dropped to make room (drop-oldest)")
                .tag("policy", "drop-oldest").register(registry);
        FunctionCounter.builder("tether.delivery.oversize.dropped.messages", listener, MqttListener::oversizeDrops)
                .description("Messages not sent because they exceeded the client's Maximum Packet Size").register(registry);
        FunctionCounter.builder("tether.delivery.dropped.messages", listener, MqttListener::slowConsumerDrops)
                .description("QoS 0 messages not sent because the client was not reading fast enough (write queue full)")
                .tag("reason", "slow-consumer").register(registry);
        FunctionCounter.builder("tether.delivery.dropped.messages", listener, MqttListener::queueFullDrops)
                .description("QoS 1/2 messages of non-durable sessions dropped because the session already held "
                        + "max-queued-messages (by the queue overflow policy)")
                .tag("reason", "queue-full").register(registry);
        FunctionCounter.builder("tether.acl.denied", acl, AccessControl::deniedPublishes)
                .description("PUBLISH packets and wills refused by the access rules (mqtt_acl)")
                .tag("action", "publish").register(registry);
        FunctionCounter.builder("tether.acl.denied", acl, AccessControl::deniedSubscriptions)
                .description("Topic filters in SUBSCRIBE refused by the access rules (mqtt_acl)")
                .tag("action", "subscribe").register(registry);
        FunctionCounter.builder("tether.acl.denied", acl, AccessControl::withheldMessages)
                .description("Messages withheld from a subscriber whose subscription matches a topic a rule denies it")
                .tag("action", "receive").register(registry);
        FunctionCounter.builder("tether.acl.revoked", acl, AccessControl::revokedSubscriptions)
                .description("Live subscriptions removed from their sessions because a changed rule denies them")
                .register(registry);
        FunctionCounter.builder("tether.store.transactions", reconciler, Reconciler::transactions)
                .description("Group-commit transactions written").register(registry);
        FunctionCounter.builder("tether.store.retries", reconciler, Reconciler::retries)
                .description("Writes attempted again after PostgreSQL was unavailable or refused a statement")
                .register(registry);
        FunctionCounter.builder("tether.store.failed.events", reconciler, Reconciler::eventsFailed)
                .description("Session events given up after repeated failures (their clients were closed)")
                .register(registry);
        for (String kind : Reconciler.FENCED_KINDS) {
            FunctionCounter.builder("tether.cluster.fenced.writes", reconciler, r -> r.fencedWrites(kind))
                    .description("Writes of a session's holder that PostgreSQL refused: the session row named another "
                            + "connection, or none (the connection was closed)")
                    .tag("kind", kind).register(registry);
        }
        FunctionCounter.builder("tether.store.events", reconciler, Reconciler::eventsWritten)
                .description("Session events committed (divide by transactions for the mean batch size)")
                .register(registry);
        FunctionCounter.builder("tether.cluster.leases.lost", stopServing, StopServing::leasesLost)
                .description("Leases this replica lost (renewal refused or not renewed in time); it then stops serving")
                .register(registry);
    }
}
