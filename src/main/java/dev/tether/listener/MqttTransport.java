package dev.tether.listener;

import io.netty.handler.codec.mqtt.MqttMessage;
import io.vertx.core.Future;

/**
 * What an {@link MqttConnection} needs from the wire: decoded packets come in through the
 * connection's {@code onMessage}, encoded packets go out here. MQTT over TCP implements it on a
 * Vert.x socket; MQTT over WebSocket can implement it on WebSocket frames with the same codec.
 */
interface MqttTransport {

    /** Sends a packet; the future completes when it was written. */
    Future<Void> write(MqttMessage message);

    /**
     * Closes once the packets already written have left, and at the latest after
     * {@link ConnectionReset#CLOSE_DEADLINE_MILLIS}: a client that does not read its socket is reset, not waited for.
     */
    void close();

    /**
     * True while more bytes wait to be written to the client than {@code tether.mqtt.write-queue-max-size}: the
     * client is not keeping up. The listener calls the connection's {@code onWritable} once the queue has drained.
     */
    boolean writeQueueFull();

    /** Stops reading (back-pressure). */
    void pause();

    void resume();

    /** The client's address (IP), for throttling failed logins. */
    String remoteHost();

    /** True when the listener counts as loopback for anonymous clients (see {@code tether.auth.allow-anonymous}). */
    boolean onLoopbackListener();

    /** True when the first packet (CONNECT) carried a duplicated property (see {@link FirstPacketGuard}). */
    boolean connectHadDuplicateProperty();

    /** The subject of the client's verified TLS certificate; empty without TLS or without a client certificate. */
    java.util.Optional<javax.security.auth.x500.X500Principal> clientCertificateSubject();
}
