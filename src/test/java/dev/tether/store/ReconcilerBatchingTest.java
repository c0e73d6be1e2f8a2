package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Group commit under a burst of durable CONNECTs: many sessions share one transaction. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ReconcilerBatchingTest {

    private static final int CLIENTS = 500;

    @Inject
    MqttListener listener;
    @Inject
    Reconciler reconciler;
    @Inject
    DataSource dataSource;

    @Test
    void connect_whenFiveHundredDurableClientsConnectAtOnce_thenAllAcceptedInFewerTransactions() throws Exception {
        // [MQTT-3.1.2-4] [MQTT-3.2.2-2] each new durable session is recorded before its CONNACK (Session Present 0);
        // group commit lets the burst share transactions.
        String prefix = TestClients.uniqueId("burst");
        List<Mqtt5AsyncClient> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            clients.add(MqttClient.builder().useMqttVersion5().identifier(prefix + "-" + i)
                    .serverHost("127.0.0.1").serverPort(listener.port()).buildAsync());
        }
        long transactionsBefore = reconciler.transactions();
        long eventsBefore = reconciler.eventsWritten();
        long nanos = System.nanoTime();
        List<CompletableFuture<Mqtt5ConnAck>> connacks = new ArrayList<>();
        for (Mqtt5AsyncClient c : clients) {
            connacks.add(c.connectWith().cleanStart(false).sessionExpiryInterval(3600).send());
        }
        try {
            CompletableFuture.allOf(connacks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
            long transactionsAfter = reconciler.transactions();
            long burstTransactions = transactionsAfter - transactionsBefore;
            long burstEvents = reconciler.eventsWritten() - eventsBefore;
            System.out.printf("ReconcilerBatchingTest: %d durable CONNECTs in %d ms, %d transactions, "
                            + "%d events, mean batch during the burst %.1f events (meanBatchSize() since start %.1f)%n",
                    CLIENTS, millis, burstTransactions, burstEvents, (double) burstEvents / Math.max(1, burstTransactions),
                    reconciler.meanBatchSize());

            for (CompletableFuture<Mqtt5ConnAck> f : connacks) {
                Mqtt5ConnAck ack = f.get();
                assertThat(ack.getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.SUCCESS);
                assertThat(ack.isSessionPresent()).isFalse();
            }
            assertThat(new Sql(dataSource).count("SELECT count(*) FROM sessions WHERE client_id LIKE ? AND durable",
                    prefix + "-%")).isEqualTo(CLIENTS);
            assertThat(burstTransactions).as("transactions for %d CONNECTs", CLIENTS).isPositive().isLessThan(CLIENTS);
        } finally {
            List<CompletableFuture<Void>> closed = new ArrayList<>();
            clients.forEach(c -> closed.add(c.disconnect().exceptionally(f -> null)));
            CompletableFuture.allOf(closed.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }
    }
}
