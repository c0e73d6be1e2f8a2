package dev.tether.delivery;

import dev.tether.protocol.PublishedMessage;
import dev.tether.routing.TopicFilter;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
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

    /**
     * Forgets the messages of {@code topics} that have expired at {@code now} (the expiry job deleted their rows).
     * A topic whose message was replaced by a live one meanwhile keeps it.
     */
    public void forgetExpired(Collection<String> topics, Instant now) {
        for (String topic : topics) {
            byTopic.computeIfPresent(topic, (t, m) -> m.isExpiredAt(now) ? null : m);
        }
    }

    /** Whether a message is held for {@code topic}, expired or not (expired ones leave on the next purge or match). */
    public boolean holds(String topic) {
        return byTopic.containsKey(topic);
    }

    public int size() {
        return byTopic.size();
    }
}
