package dev.tether.listener;

import io.netty.handler.codec.mqtt.MqttMessage;
import io.vertx.core.Future;
import io.vertx.core.net.impl.NetSocketInternal;
import java.util.Optional;
import javax.security.auth.x500.X500Principal;

/** MQTT over TCP (plain or TLS): a Vert.x socket whose Netty pipeline carries the MQTT codec. */
final class TcpTransport implements MqttTransport {

    private final NetSocketInternal socket;

    private final boolean loopbackListener;

    /** @param loopbackListener the listener is bound to a loopback address */
    TcpTransport(NetSocketInternal socket, boolean loopbackListener) {
        this.socket = socket;
        this.loopbackListener = loopbackListener;
    }

    @Override
    public String remoteHost() {
        return socket.remoteAddress().hostAddress();
    }

    @Override
    public boolean onLoopbackListener() {
        return loopbackListener;
    }

    @Override
    public Future<Void> write(MqttMessage message) {
        return socket.writeMessage(message);
    }

    @Override
    public void close() {
        socket.close();
        ConnectionReset.afterDeadline(socket.channelHandlerContext().channel());
    }

    @Override
    public boolean writeQueueFull() {
        return socket.writeQueueFull();
    }

    /**
     * Stops reading the socket (Netty's auto-read): Vert.x's {@code pause()} does not hold the messages it gives to a
     * {@code messageHandler}. The packets already decoded from the last read wait in the pipeline's
     * {@code FlowControlHandler} until {@link #resume}.
     */
    @Override
    public void pause() {
        socket.channelHandlerContext().channel().config().setAutoRead(false);
    }

    @Override
    public void resume() {
        socket.channelHandlerContext().channel().config().setAutoRead(true);
    }

    @Override
    public boolean connectHadDuplicateProperty() {
        return Boolean.TRUE.equals(socket.channelHandlerContext().channel()
                .attr(FirstPacketGuard.DUPLICATE_PROPERTY).get());
    }

    @Override
    public Optional<X500Principal> clientCertificateSubject() {
        return socket.isSsl() ? ClientCertificates.subject(socket.sslSession()) : Optional.empty();
    }
}
