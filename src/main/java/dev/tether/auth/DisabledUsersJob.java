package dev.tether.auth;

import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Every second, the users of this replica's live connections are looked up in {@code mqtt_users} (one query): the
 * connections of a user disabled or deleted meanwhile get DISCONNECT 0x98 (Administrative action). Each replica
 * checks its own connections, so a change reaches all of them within about a second. A failed run is logged; the
 * next one tries again.
 */
@ApplicationScoped
public class DisabledUsersJob {

    private static final Logger LOG = Logger.getLogger(DisabledUsersJob.class);

    private final LiveUsers live;
    private final Users users;

    public DisabledUsersJob(LiveUsers live, Users users) {
        this.live = live;
        this.users = users;
    }

    @Scheduled(every = "1s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    public Uni<Void> run() {
        List<String> names = live.usernames();
        if (names.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return users.enabledAmong(names)
                .invoke(enabled -> names.stream().filter(n -> !enabled.contains(n)).forEach(n -> {
                    LOG.infof("user %s disabled or removed: disconnecting its clients", n);
                    live.disconnectAll(n);
                }))
                .replaceWithVoid()
                .onFailure().recoverWithItem(f -> {
                    LOG.warnf("disabled users not checked: %s", f.toString());
                    return null;
                });
    }
}
