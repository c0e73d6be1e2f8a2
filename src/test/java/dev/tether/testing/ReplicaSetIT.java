package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The harness itself: three replicas of the packaged broker against one PostgreSQL. */
class ReplicaSetIT {

    @RegisterExtension
    static final ReplicaSet replicas = ReplicaSet.of("replica-set-it", 3);

    @Test
    void startAll_whenThreeReplicas_thenEachIsReadyAcceptsAClientAndHasItsOwnInstanceRow() throws Exception {
        Set<UUID> ids = new HashSet<>();
        for (int i = 1; i <= 3; i++) {
            Mqtt5BlockingClient c = TestClients.mqtt5(replicas.mqttPort(i), TestClients.uniqueId("harness-r" + i));
            c.connect();
            c.disconnect();
            ids.add(replicas.instanceId(i));
        }
        assertThat(ids).as("distinct instance ids of R1..R3").hasSize(3);
        assertThat(replicas.sql().count("SELECT count(*) FROM broker_instances WHERE stopped_at IS NULL "
                + "AND instance_id = ANY (?::uuid[])", (Object) ids.stream().map(UUID::toString).toArray(String[]::new)))
                .as("live broker_instances rows of R1..R3 in the one shared database").isEqualTo(3);
    }

    @Test
    void pauseResume_whenReplicaPaused_thenItAnswersAgainAfterResume() throws Exception {
        replicas.pause(3);
        replicas.resume(3);
        replicas.awaitReady(3);
        Mqtt5BlockingClient c = TestClients.mqtt5(replicas.mqttPort(3), TestClients.uniqueId("harness-resumed"));
        c.connect();
        c.disconnect();
    }
}
