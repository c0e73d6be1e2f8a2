package dev.tether.listener;

import dev.tether.auth.Authenticator;
import dev.tether.auth.LiveUsers;
import dev.tether.auth.acl.AccessControl;
import dev.tether.cluster.Cluster;
import dev.tether.cluster.lease.Lease;
import dev.tether.config.MqttConfig;
import dev.tether.config.StoreConfig;
import dev.tether.delivery.ConnectedClients;
import dev.tether.delivery.MessageRouter;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.events.SessionEvents;
import dev.tether.limits.Limits;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.session.SessionPolicy;
import java.time.Clock;
import java.util.UUID;

/** What every connection needs from the rest of the broker, gathered so a connection takes one argument. */
record BrokerServices(
        UUID instanceId,
        MqttConfig mqtt,
        StoreConfig store,
        SessionPolicy policy,
        SessionEvents events,
        MessageRouter router,
        SubscriptionIndex subscriptions,
        ConnectedClients clients,
        SessionDirectory sessions,
        RetainedMessages retained,
        Clock clock,
        java.util.concurrent.atomic.AtomicLong oversizeDrops,
        AccessControl acl,
        OutboundLimits outboundLimits,
        Cluster cluster,
        Lease lease,
        Authenticator auth,
        LiveUsers liveUsers,
        Limits limits) {
}
