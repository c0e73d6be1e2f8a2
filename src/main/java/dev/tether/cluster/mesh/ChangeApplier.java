package dev.tether.cluster.mesh;

import dev.tether.cluster.Change;
import dev.tether.delivery.RetainedMessages;
import dev.tether.delivery.SessionDirectory;
import dev.tether.routing.SubscriptionIndex;

/**
 * Applies a change announced by another replica to what this replica routes with: the subscription index, session
 * durability, the holders of connections, retained messages. Client-scoped changes older than the connection known
 * for their client are ignored ({@link RemoteHolders}). Pure bookkeeping on thread-safe structures; any thread.
 */
final class ChangeApplier {

    private final SubscriptionIndex subscriptions;
    private final SessionDirectory sessions;
    private final RetainedMessages retained;
    private final RemoteHolders holders;

    ChangeApplier(SubscriptionIndex subscriptions, SessionDirectory sessions, RetainedMessages retained,
                  RemoteHolders holders) {
        this.subscriptions = subscriptions;
        this.sessions = sessions;
        this.retained = retained;
        this.holders = holders;
    }

    void apply(Change change) {
        if (change instanceof Change.Subscribed s) {
            if (holders.isCurrent(s.clientId(), s.epoch())) {
                sessions.put(s.clientId(), s.durable());
                s.subscriptions().forEach(subscriptions::put);
            }
        } else if (change instanceof Change.Unsubscribed u) {
            if (holders.isCurrent(u.clientId(), u.epoch())) {
                u.topicFilters().forEach(f -> subscriptions.remove(u.clientId(), f));
            }
        } else if (change instanceof Change.HolderChanged h) {
            if (holders.isCurrent(h.clientId(), h.epoch())) {
                holders.hold(h.clientId(), h.instanceId(), h.epoch());
                sessions.put(h.clientId(), h.durable());
                if (h.dropSubscriptions()) {
                    subscriptions.removeAll(h.clientId());
                }
            }
        } else if (change instanceof Change.Released r) {
            if (holders.release(r.clientId(), r.epoch()) && !r.durable()) {
                subscriptions.removeAll(r.clientId());
                sessions.remove(r.clientId());
            }
        } else if (change instanceof Change.SessionsRemoved r) {
            for (String clientId : r.clientIds()) {
                subscriptions.removeAll(clientId);
                sessions.remove(clientId);
                holders.forget(clientId);
            }
        } else if (change instanceof Change.RetainedSet r) {
            retained.apply(r.message());
        }
    }
}
