package dev.tether.listener;

import dev.tether.config.AccessConfig;
import dev.tether.routing.TopicFilter;
import dev.tether.routing.TopicNames;
import java.util.List;

/** The configured access rules, checked on SUBSCRIBE. */
final class AccessRules {

    private final List<TopicFilter> deniedSubscriptions;

    AccessRules(AccessConfig config) {
        this.deniedSubscriptions = config.deniedSubscriptions().orElse(List.of()).stream()
                .map(String::trim).filter(f -> !f.isEmpty()).map(TopicFilter::new).toList();
    }

    /**
     * True when {@code filter} is a denied filter, or a plain topic name a denied filter matches. A valid shared
     * filter {@code $share/{ShareName}/{f}} is judged by its filter part {@code f}.
     */
    boolean isSubscriptionDenied(String sharedOrPlainFilter) {
        String filter = sharedOrPlainFilter;
        if (TopicNames.isShared(filter)) {
            filter = filter.substring(filter.indexOf('/', TopicNames.SHARE_PREFIX.length()) + 1);
        }
        for (TopicFilter denied : deniedSubscriptions) {
            if (denied.value().equals(filter) || (TopicNames.isValidTopicName(filter) && denied.matches(filter))) {
                return true;
            }
        }
        return false;
    }
}
