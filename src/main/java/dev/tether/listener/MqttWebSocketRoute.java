package dev.tether.listener;

import dev.tether.config.MqttConfig;
import io.quarkus.vertx.http.HttpServerOptionsCustomizer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayList;
import java.util.List;

/**
 * MQTT over WebSocket on the Quarkus HTTP port ({@code tether.mqtt.websocket-path}, default
 * {@code /mqtt}): the single port Knative routes. The WebSocket sub-protocol is {@code mqtt}
 * (MQTT 5.0 §6, [MQTT-6.0.0-3]); 3.1 clients' {@code mqttv3.1} is accepted too.
 */
@ApplicationScoped
public class MqttWebSocketRoute implements HttpServerOptionsCustomizer {

    private final MqttListener listener;
    private final MqttConfig config;

    public MqttWebSocketRoute(MqttListener listener, MqttConfig config) {
        this.listener = listener;
        this.config = config;
    }

    void route(@Observes Router router) {
        router.route(config.websocketPath()).handler(rc -> {
            // The client's address as the request gives it: behind a reverse proxy, with
            // quarkus.http.proxy.proxy-address-forwarding, the one its trusted X-Forwarded-For/Forwarded header names
            // (the per-address login throttle must not see every client as the proxy).
            String clientAddress = rc.request().remoteAddress().hostAddress();
            rc.request().toWebSocket()
                    .onSuccess(ws -> listener.acceptWebSocket(ws, clientAddress))
                    .onFailure(f -> rc.response().setStatusCode(400).end());
        });
    }

    @Override
    public void customizeHttpServer(HttpServerOptions options) {
        acceptMqttSubProtocols(options);
    }

    /** WSS: the HTTPS port ({@code quarkus.http.ssl-port}) serves the same route and needs the same sub-protocols. */
    @Override
    public void customizeHttpsServer(HttpServerOptions options) {
        acceptMqttSubProtocols(options);
    }

    private static void acceptMqttSubProtocols(HttpServerOptions options) {
        List<String> protocols = new ArrayList<>(List.of("mqtt", "mqttv3.1"));
        if (options.getWebSocketSubProtocols() != null) {
            protocols.addAll(options.getWebSocketSubProtocols());
        }
        options.setWebSocketSubProtocols(protocols);
    }
}
