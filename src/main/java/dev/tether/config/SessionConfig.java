package dev.tether.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Session rules that an operator may tighten. */
@ConfigMapping(prefix = "tether.session")
public interface SessionConfig {

    /**
     * Largest Session Expiry Interval granted, in seconds, applied to CONNECT and DISCONNECT values.
     * 4294967295 (the default) means no cap. When it caps, CONNACK carries the granted value.
     */
    @WithDefault("4294967295")
    long maxExpiryInterval();

    /** Session Expiry Interval given to MQTT 3.1.1 Clean Session = 0 sessions, in seconds (default: never). */
    @WithDefault("4294967295")
    long mqtt311ExpiryInterval();

    /** Most QoS 1/2 messages queued for one session; beyond it the overflow policy applies. */
    @WithDefault("10000")
    int maxQueuedMessages();

    /**
     * Most payload bytes of QoS 1/2 messages queued for one session (in PostgreSQL for a durable session, in memory
     * for a connected one: in flight plus waiting), besides {@link #maxQueuedMessages()}; a message that would go
     * beyond it is handled by the same overflow policy.
     */
    @WithDefault("67108864")
    long maxQueuedBytes();

    /** What happens to a message for a session whose queue is full. */
    @WithDefault("drop-newest")
    QueueOverflowPolicy queueOverflowPolicy();

    /** What a full session queue does with one more message. */
    enum QueueOverflowPolicy {
        /** The new message is not queued for that session. */
        DROP_NEWEST,
        /** The oldest queued (never sent) message of that session is dropped to make room. */
        DROP_OLDEST
    }
}
