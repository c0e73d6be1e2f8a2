package dev.tether.auth.acl;

import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The rules of {@code mqtt_acl} as this replica knows them: loaded before the listener starts, then read again every
 * second ({@code tether.acl.reload-every}), so a rule changed with SQL takes effect on every replica within two seconds.
 * Each load replaces an immutable {@link AclRules} snapshot; readers (any event loop) take the current one. A failed
 * load keeps the previous snapshot and is logged. Rows that cannot be read as rules (an invalid filter) are skipped
 * with a warning.
 */
@ApplicationScoped
public class AccessControl {

    private static final Logger LOG = Logger.getLogger(AccessControl.class);

    private final Pool pool;
    private volatile AclRules rules = AclRules.EMPTY;
    private final AtomicLong deniedPublishes = new AtomicLong();
    private final AtomicLong deniedSubscriptions = new AtomicLong();
    private final AtomicLong revokedSubscriptions = new AtomicLong();
    private final AtomicLong withheldMessages = new AtomicLong();
    private final List<Consumer<AclRules>> changeListeners = new CopyOnWriteArrayList<>();

    public AccessControl(Pool pool) {
        this.pool = pool;
    }

    /** The current snapshot. */
    public AclRules rules() {
        return rules;
    }

    /**
     * Calls {@code listener} with the new snapshot each time a load finds rules different from the previous ones (on
     * the thread that loaded them: a listener hands its work on and returns).
     */
    public void onChange(Consumer<AclRules> listener) {
        changeListeners.add(listener);
    }

    @Scheduled(every = "${tether.acl.reload-every:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> reloadPeriodically() {
        return reload()
                .onFailure().invoke(f -> LOG.warnf("access rules not reloaded (the previous ones stay): %s", f.toString()))
                .onFailure().recoverWithNull()
                .replaceWithVoid();
    }

    /** Reads every row of {@code mqtt_acl} and swaps the snapshot in; the {@link Uni} gives the new snapshot. */
    public Uni<AclRules> reload() {
        return pool.query("SELECT id, username, client_id, action, topic_filter, permission, priority FROM mqtt_acl")
                .execute()
                .map(rows -> {
                    List<AclRule> read = new ArrayList<>();
                    for (Row r : rows) {
                        String filter = r.getString("topic_filter");
                        if (!isValidRuleFilter(filter)) {
                            LOG.warnf("mqtt_acl row %d skipped: invalid topic_filter %s", r.getLong("id"), filter);
                            continue;
                        }
                        read.add(new AclRule(r.getLong("id"), r.getString("username"), r.getString("client_id"),
                                AclAction.fromSql(r.getString("action")), filter,
                                "allow".equals(r.getString("permission")), r.getInteger("priority")));
                    }
                    AclRules loaded = AclRules.of(read);
                    boolean changed = !loaded.rules().equals(rules.rules());
                    rules = loaded;
                    if (changed) {
                        LOG.debugf("access rules changed: %d rule(s) now", loaded.rules().size());
                        changeListeners.forEach(l -> l.accept(loaded));
                    }
                    return loaded;
                });
    }

    /** A rule's filter: valid MQTT filter syntax once %u and %c are taken as ordinary level text. */
    static boolean isValidRuleFilter(String filter) {
        return dev.tether.routing.TopicNames.isValidTopicFilter(filter)
                && !dev.tether.routing.TopicNames.isShared(filter);
    }

    /** Counts a request refused by the rules (metric {@code tether.acl.denied}). */
    public void countDenied(AclAction action) {
        (action == AclAction.PUBLISH ? deniedPublishes : deniedSubscriptions).incrementAndGet();
    }

    /** Counts live subscriptions removed because a rule now denies them (metric {@code tether.acl.revoked}). */
    public void countRevoked(int subscriptions) {
        revokedSubscriptions.addAndGet(subscriptions);
    }

    /** Counts a message withheld from a subscriber because a rule denies it that topic ({@code tether.acl.denied{action=receive}}). */
    public void countWithheld() {
        withheldMessages.incrementAndGet();
    }

    public long withheldMessages() {
        return withheldMessages.get();
    }

    public long revokedSubscriptions() {
        return revokedSubscriptions.get();
    }

    public long deniedPublishes() {
        return deniedPublishes.get();
    }

    public long deniedSubscriptions() {
        return deniedSubscriptions.get();
    }
}
