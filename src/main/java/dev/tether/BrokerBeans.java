package dev.tether;

import dev.tether.config.SessionConfig;
import dev.tether.routing.SubscriptionIndex;
import dev.tether.session.ExpiryInterval;
import dev.tether.session.SessionPolicy;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;

/** Producers for the pure classes that carry no CDI annotations of their own. */
public class BrokerBeans {

    @Produces
    @Singleton
    SubscriptionIndex subscriptionIndex() {
        return new SubscriptionIndex();
    }

    @Produces
    @Singleton
    Clock clock() {
        return Clock.systemUTC();
    }

    @Produces
    @Singleton
    SessionPolicy sessionPolicy(SessionConfig config) {
        return new SessionPolicy(ExpiryInterval.ofSeconds(config.maxExpiryInterval()),
                ExpiryInterval.ofSeconds(config.mqtt311ExpiryInterval()));
    }
}
