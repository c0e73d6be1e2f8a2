package dev.tether.knative;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5ClientBuilder;
import com.hivemq.client.mqtt.mqtt5.lifecycle.Mqtt5ClientConnectedContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A HiveMQ MQTT 5 client over WebSocket through a {@link KnativeSimulator}, with a persistent session: every
 * CONNECT (the first and each automatic reconnect after a cut) has Clean Start 0 and the same Session Expiry
 * Interval. Records what it receives with the number of the connection it arrived on.
 */
final class WsSubscriber {

    /** One application message as received: its payload and the connection (1, 2, ...) it arrived on. */
    record Received(String topic, String payload, int connection) {
    }

    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(90);

    final String clientId;
    private final Mqtt5AsyncClient client;
    private final AtomicInteger connections = new AtomicInteger();
    private final List<Boolean> sessionPresent = Collections.synchronizedList(new ArrayList<>());
    private final List<Received> inbox = Collections.synchronizedList(new ArrayList<>());

    /** {@code customize} may add to the client's builder (listeners); connect with {@link #client()}'s {@code connectWith()}. */
    WsSubscriber(KnativeSimulator knative, String clientId, UnaryOperator<Mqtt5ClientBuilder> customize) {
        this.clientId = clientId;
        Mqtt5ClientBuilder builder = MqttClient.builder().useMqttVersion5().identifier(clientId)
                .serverHost("127.0.0.1").serverPort(knative.port())
                .webSocketConfig().serverPath("mqtt").subprotocol("mqtt")
                // the activator may hold the upgrade while a replica starts
                .handshakeTimeout(HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).applyWebSocketConfig()
                .automaticReconnect().initialDelay(100, TimeUnit.MILLISECONDS).maxDelay(1, TimeUnit.SECONDS)
                .applyAutomaticReconnect()
                .addConnectedListener(ctx -> {
                    connections.incrementAndGet();
                    sessionPresent.add(((Mqtt5ClientConnectedContext) ctx).getConnAck().isSessionPresent());
                });
        this.client = customize.apply(builder).buildAsync();
        client.publishes(MqttGlobalPublishFilter.ALL, m -> inbox.add(new Received(m.getTopic().toString(),
                new String(m.getPayloadAsBytes(), StandardCharsets.UTF_8), connections.get())));
    }

    Mqtt5AsyncClient client() {
        return client;
    }

    /** Connections made so far (the first and every reconnect). */
    int connections() {
        return connections.get();
    }

    /** Session Present of each CONNACK, in order. */
    List<Boolean> sessionPresent() {
        synchronized (sessionPresent) {
            return List.copyOf(sessionPresent);
        }
    }

    List<Received> inbox() {
        synchronized (inbox) {
            return List.copyOf(inbox);
        }
    }

    void subscribe(String filter) throws Exception {
        client.subscribeWith().topicFilter(filter).qos(MqttQos.AT_LEAST_ONCE).send().get(10, TimeUnit.SECONDS);
    }

    /** DISCONNECT 0x00 (the session stays for its expiry interval; no will); no more reconnects. */
    void disconnect() {
        try {
            client.disconnect().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // cut or not connected at that moment
        }
    }
}
