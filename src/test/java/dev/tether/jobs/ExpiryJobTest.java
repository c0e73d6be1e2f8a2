package dev.tether.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The expiry job against rows a user (or a broker that was down at the deadline) left behind: it
 * removes every due session in bounded batches, oldest deadline first, and leaves the others.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ExpiryJobTest {

    @Inject
    DataSource dataSource;
    @Inject
    ExpiryJob job;

    @Test
    void runOnce_whenMoreDueSessionsThanOneBatch_thenAllRemovedAndLiveOnesKept() {
        // Deadlines that passed while no broker ran: removed on the next run [MQTT-4.1.0-2].
        Sql sql = new Sql(dataSource);
        String prefix = TestClients.uniqueId("expired-bulk");
        int due = 2_500; // tether.store.expiry-batch-size is 1000: three claims
        // One statement: the scheduled job may already remove due sessions between two.
        sql.update("WITH due AS (INSERT INTO sessions (client_id, protocol_version, connected, expiry_interval_seconds, "
                + "disconnected_at, expires_at) SELECT ? || '-' || g, '5.0', false, 60, now() - interval '2 minutes', "
                + "now() - interval '1 minute' + g * interval '1 millisecond' FROM generate_series(1, ?) g "
                + "RETURNING client_id) INSERT INTO subscriptions (client_id, topic_filter, qos) "
                + "SELECT client_id, 'bulk/#', 1 FROM due", prefix, due);
        String alive = prefix + "-alive";
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, expiry_interval_seconds, "
                + "disconnected_at, expires_at) VALUES (?, '5.0', false, 3600, now(), now() + interval '1 hour')", alive);

        // One explicit cycle (the scheduled one may run beside it: rows are claimed with SKIP LOCKED).
        Integer removed = job.runOnce().await().atMost(Duration.ofSeconds(30));
        assertThat(removed).isNotNull();

        await().atMost(Duration.ofSeconds(5))
                .until(() -> sql.count("SELECT count(*) FROM sessions WHERE client_id LIKE ? || '-%'", prefix) == 1);
        assertThat(sql.count("SELECT count(*) FROM subscriptions WHERE client_id LIKE ? || '-%'", prefix)).isZero();
        assertThat(sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", alive)).isEqualTo(1);
    }

    @Test
    void scheduledRun_whenSessionDeadlinePasses_thenRowGoneWithinAboutASecond() {
        // Tether's promise: removal within about one second of the deadline (job every second).
        Sql sql = new Sql(dataSource);
        String id = TestClients.uniqueId("expired-soon");
        sql.update("INSERT INTO sessions (client_id, protocol_version, connected, expiry_interval_seconds, "
                + "disconnected_at, expires_at) VALUES (?, '5.0', false, 1, now(), now() + interval '1 second')", id);
        await().atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(100))
                .until(() -> sql.count("SELECT count(*) FROM sessions WHERE client_id = ?", id) == 0);
    }
}
