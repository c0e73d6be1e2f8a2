package dev.tether.listener;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.WebSocketInternal;
import java.util.Optional;
import javax.security.auth.x500.X500Principal;

/**
 * MQTT over WebSocket (MQTT 5.0 §6): binary frames carry the byte stream; the same Netty MQTT codec
 * (and {@link FirstPacketGuard}) runs in an {@link EmbeddedChannel} owned by the WebSocket's event
 * loop, so a connection is handled exactly as over TCP.
 */
final class WebSocketTransport implements MqttTransport {

    /** Whether the HTTP port is bound to a loopback address only. */
    private final boolean loopbackListener;

    private final ServerWebSocket webSocket;
    /** The client's address from the upgrade request (a trusted proxy's forwarding header when enabled). */
    private final String clientAddress;
    private final EmbeddedChannel codec;
    /** Paused: no frame is read, and packets already decoded wait in the codec. */
    private boolean paused;
    private Runnable onResume = () -> { };

    WebSocketTransport(ServerWebSocket webSocket, String clientAddress, EmbeddedChannel codec, boolean loopbackListener) {
        this.loopbackListener = loopbackListener;
        this.webSocket = webSocket;
        this.clientAddress = clientAddress;
        this.codec = codec;
    }

    @Override
    public Future<Void> write(MqttMessage message) {
        codec.writeOutbound(message);
        Future<Void> last = Future.succeededFuture();
        ByteBuf out;
        while ((out = codec.readOutbound()) != null) {
            try {
                byte[] bytes = new byte[out.readableBytes()];
                out.readBytes(bytes);
                last = webSocket.writeBinaryMessage(Buffer.buffer(bytes));
            } finally {
                out.release();
            }
        }
        return last;
    }

    @Override
    public String remoteHost() {
        return clientAddress;
    }

    /**
     * Whether the HTTP port ({@code quarkus.http.host}) is bound to a loopback address only, as for TCP: not where this
     * client came from, since a reverse proxy on the same host (nginx, a mesh sidecar, Knative's queue-proxy) makes
     * every client arrive through loopback.
     */
    @Override
    public boolean onLoopbackListener() {
        return loopbackListener;
    }

    @Override
    public void close() {
        webSocket.close();
        if (webSocket instanceof WebSocketInternal internal) {
            ConnectionReset.afterDeadline(internal.channelHandlerContext().channel());
        }
    }

    @Override
    public boolean writeQueueFull() {
        return !webSocket.isClosed() && webSocket.writeQueueFull(); // Vert.x throws once the WebSocket is closed
    }

    @Override
    public void pause() {
        paused = true;
        webSocket.pause();
    }

    @Override
    public void resume() {
        paused = false;
        onResume.run(); // the packets decoded before the pause first
        if (!paused) {
            webSocket.resume();
        }
    }

    boolean isPaused() {
        return paused;
    }

    /** What hands the packets held in the codec to the connection once it resumes. */
    void onResume(Runnable deliverHeld) {
        this.onResume = deliverHeld;
    }

    @Override
    public boolean connectHadDuplicateProperty() {
        return Boolean.TRUE.equals(codec.attr(FirstPacketGuard.DUPLICATE_PROPERTY).get());
    }

    /** Over HTTPS with {@code quarkus.http.ssl.client-auth}, the certificate the client presented to the HTTP port. */
    @Override
    public Optional<X500Principal> clientCertificateSubject() {
        return webSocket.isSsl() ? ClientCertificates.subject(webSocket.sslSession()) : Optional.empty();
    }
}
