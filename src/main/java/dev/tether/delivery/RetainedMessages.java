package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.TopicFilter;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** The retained message of each topic, in memory; PostgreSQL's {@code retained_messages} is its durable copy. */
@ApplicationScoped
public class RetainedMessages {
    private final ConcurrentHashMap<String, PublishedMessage> byTopic = new ConcurrentHashMap<>();

    /** Sets the retained message of its topic, or clears it when the payload is empty [MQTT-3.3.1-6]. */
    public void apply(PublishedMessage message) {
        if (message.payloadSize() == 0) {
            byTopic.remove(message.topic());
        } else {
            byTopic.put(message.topic(), message);
        }
    }

    /** Retained messages matching {@code filter} that have not expired. */
    public List<PublishedMessage> matching(TopicFilter filter, Instant now) {
        List<PublishedMessage> out = new ArrayList<>();
        for (PublishedMessage m : byTopic.values()) {
            if (m.isExpiredAt(now)) {
                byTopic.remove(m.topic(), m);
            } else if (filter.matches(m.topic())) {
                out.add(m);
            }
        }
        return out;
    }

    public int size() {
        return byTopic.size();
    }
}
