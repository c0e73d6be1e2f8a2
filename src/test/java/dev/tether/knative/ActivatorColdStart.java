package dev.tether.knative;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark, not a test ({@code bench/coldstart.sh --activator}): the time from "no replica" to the first CONNACK
 * over WebSocket through the simulated activator. Each round waits until the simulator has scaled to zero, then
 * connects a HiveMQ client over {@code ws://} and times CONNECT to CONNACK while the activator holds the connection
 * and starts a replica (packaged jar, JDK of this JVM, the shared PostgreSQL already running and migrated). The
 * first round also starts PostgreSQL and migrates the schema, so it is reported apart.
 *
 * <p>Arguments: rounds (default 3), then extra {@code key=value} broker settings (for example JVM flags cannot be
 * passed here; see bench/coldstart.sh for start-up variants of the JVM itself).
 */
public final class ActivatorColdStart {

    private static final Duration SCALE_TO_ZERO_AFTER = Duration.ofSeconds(1);
    private static final Duration ROUND_WAIT = Duration.ofSeconds(120);

    private ActivatorColdStart() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        String[] settings = args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length) : new String[0];
        KnativeSettings knativeSettings = KnativeSettings.defaults().withReplicas(0, 1)
                .withScaleToZeroAfter(SCALE_TO_ZERO_AFTER);
        List<Long> times = new ArrayList<>();
        try (KnativeSimulator knative = KnativeSimulator.of("bench-activator", knativeSettings, settings)) {
            knative.start();
            for (int round = 0; round <= rounds; round++) {
                awaitZero(knative);
                Mqtt5AsyncClient client = MqttClient.builder().useMqttVersion5().identifier("cold-" + round)
                        .serverHost("127.0.0.1").serverPort(knative.port())
                        .webSocketConfig().serverPath("mqtt").handshakeTimeout(90, TimeUnit.SECONDS)
                        .applyWebSocketConfig()
                        .buildAsync();
                long start = System.nanoTime();
                client.connectWith().cleanStart(true).send().get(ROUND_WAIT.toSeconds(), TimeUnit.SECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                client.disconnect().get(10, TimeUnit.SECONDS);
                System.out.printf("round %d%s: first CONNACK over ws after %d ms (activator: %s)%n", round,
                        round == 0 ? " (also starts PostgreSQL and migrates)" : "", ms,
                        knative.coldStartTimes().get(knative.coldStartTimes().size() - 1).toMillis() + " ms held");
                if (round > 0) {
                    times.add(ms);
                }
            }
        }
        Collections.sort(times);
        System.out.printf("activator cold start, no replica -> first CONNACK over WebSocket: median %d ms of %d rounds "
                + "(min %d, max %d)%n", times.get(times.size() / 2), times.size(), times.get(0),
                times.get(times.size() - 1));
        System.exit(0);
    }

    /** Until the simulator has scaled to zero (no replica in rotation, no process), bounded. */
    private static void awaitZero(KnativeSimulator knative) throws InterruptedException {
        long deadline = System.nanoTime() + ROUND_WAIT.toNanos();
        while (!knative.inRotation().isEmpty()
                || knative.replicas().indices().anyMatch(knative.replicas()::isRunning)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("simulator did not scale to zero within " + ROUND_WAIT);
            }
            Thread.sleep(50); // polling the simulator's state, bounded by the deadline
        }
    }
}
