package dev.tether.limits;

import dev.tether.config.LimitsConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Singleton;
import java.util.EnumMap;
import java.util.Map;

/**
 * The limits in force ({@link LimitsConfig}) and their counters: {@code tether.limits.refused{limit}} for a connection,
 * a subscription or a topic refused, {@code tether.limits.throttled{limit}} for each time a client's connection stops
 * being read because it publishes faster than its rate. Thread-safe.
 */
@Singleton // created with the listener, so that its counters are registered from the start
public class Limits {

    private final LimitsConfig config;
    private final ConnectionQuota connections;
    private final ConnectionRate connectionRate;
    private final TopicLimits topics;
    private final Map<Limit, Counter> refused = new EnumMap<>(Limit.class);
    private final Map<Limit, Counter> throttled = new EnumMap<>(Limit.class);

    public Limits(LimitsConfig config, MeterRegistry registry) {
        this.config = config;
        this.connections = new ConnectionQuota(config.maxConnections());
        this.connectionRate = new ConnectionRate(config.connectionsPerSecondPerAddress(),
                config.connectionBurstPerAddress(), config.maxTrackedAddresses());
        this.topics = new TopicLimits(config.maxTopicLength(), config.maxTopicLevels());
        for (Limit l : Limit.values()) {
            boolean rate = l == Limit.PUBLISH_RATE || l == Limit.PUBLISH_BYTES_RATE;
            (rate ? throttled : refused).put(l, Counter.builder(rate ? "tether.limits.throttled" : "tether.limits.refused")
                    .description(rate ? "Times a client's connection stopped being read because it published faster "
                            + "than its rate" : "Connections, subscriptions and topics refused by a limit")
                    .tag("limit", l.tag()).register(registry));
        }
    }

    /** Whether a new connection from {@code address} is within its address's connection rate (counted if not). */
    public boolean admitConnection(String address) {
        if (connectionRate.admit(address, System.nanoTime())) {
            return true;
        }
        refused(Limit.CONNECTION_RATE);
        return false;
    }

    public ConnectionQuota connections() {
        return connections;
    }

    public TopicLimits topics() {
        return topics;
    }

    public int maxSubscriptionsPerSession() {
        return config.maxSubscriptionsPerSession();
    }

    /** PUBLISH packets per second per client; 0: no limit. */
    public int publishRate() {
        return config.publishRate();
    }

    /** PUBLISH bytes per second per client; 0: no limit. */
    public long publishBytesRate() {
        return config.publishBytesRate();
    }

    /** Seconds of the publish rates a client may send at once. */
    public double publishBurstSeconds() {
        return Math.max(0.001, config.publishBurst().toNanos() / 1e9);
    }

    /** Something was refused by {@code limit}. */
    public void refused(Limit limit) {
        refused.get(limit).increment();
    }

    /** A client's connection stopped being read for {@code limit} (a publish rate). */
    public void throttled(Limit limit) {
        throttled.get(limit).increment();
    }
}
