package dev.tether.cluster;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5ClientBuilder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.UnaryOperator;

/** HiveMQ MQTT 5 clients of one test, on 127.0.0.1, disconnected together at the end. */
final class ClusterClients {

    /** One application message as a subscriber received it. */
    record Received(String topic, String payload, int qos, boolean retain, long atNanos) {
    }

    private final List<Mqtt5AsyncClient> clients = Collections.synchronizedList(new ArrayList<>());

    Mqtt5AsyncClient client(int port, String clientId) {
        return client(port, clientId, UnaryOperator.identity());
    }

    /** A client whose builder {@code customize} may change (e.g. to add a disconnected listener). */
    Mqtt5AsyncClient client(int port, String clientId, UnaryOperator<Mqtt5ClientBuilder> customize) {
        Mqtt5AsyncClient c = customize.apply(MqttClient.builder().useMqttVersion5().identifier(clientId)
                .serverHost("127.0.0.1").serverPort(port)).buildAsync();
        clients.add(c);
        return c;
    }

    /**
     * The messages {@code c} receives from now on, in arrival order (a synchronized list). Call before
     * connecting so that nothing the broker sends right after CONNACK is missed.
     */
    static List<Received> inbox(Mqtt5AsyncClient c) {
        List<Received> got = Collections.synchronizedList(new ArrayList<>());
        c.publishes(MqttGlobalPublishFilter.ALL, m -> got.add(new Received(m.getTopic().toString(),
                new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8), m.getQos().getCode(), m.isRetain(),
                System.nanoTime())));
        return got;
    }

    static List<String> payloads(List<Received> inbox) {
        synchronized (inbox) {
            return inbox.stream().map(Received::payload).toList();
        }
    }

    /**
     * Waits until {@code size} reaches {@code target}: at most {@code atMost}, and no longer than {@code stall}
     * without the size changing (so a test where nothing arrives fails early). Returns the last size seen.
     */
    static int awaitSize(IntSupplier size, int target, Duration atMost, Duration stall) throws InterruptedException {
        long deadline = System.nanoTime() + atMost.toNanos();
        int seen = size.getAsInt();
        long progressAt = System.nanoTime();
        while (seen < target && System.nanoTime() < deadline && System.nanoTime() - progressAt < stall.toNanos()) {
            Thread.sleep(50); // polling, bounded by both limits
            int now = size.getAsInt();
            if (now != seen) {
                seen = now;
                progressAt = System.nanoTime();
            }
        }
        return seen;
    }

    void disconnectAll() {
        List<Mqtt5AsyncClient> all;
        synchronized (clients) {
            all = List.copyOf(clients);
            clients.clear();
        }
        for (Mqtt5AsyncClient c : all) {
            try {
                c.disconnect().get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                // never connected, or already disconnected by the broker
            }
        }
    }
}
