package dev.tether.listener;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The deadline of a graceful close. Vert.x closes a connection only once the bytes already written have left, which a
 * client that does not read its socket delays until TCP gives up (about 15 minutes), so neither keep-alive nor takeover
 * could evict it. Past the deadline the connection is reset instead: unsent bytes are discarded.
 */
final class ConnectionReset {

    /** How long a graceful close may wait for written bytes to leave. */
    static final long CLOSE_DEADLINE_MILLIS = 1000;

    private ConnectionReset() {
    }

    /** Resets {@code channel} if it is still open after {@link #CLOSE_DEADLINE_MILLIS}. Runs on its event loop. */
    static void afterDeadline(Channel channel) {
        if (!channel.isOpen()) {
            return;
        }
        ScheduledFuture<?> reset = channel.eventLoop().schedule(() -> reset(channel), CLOSE_DEADLINE_MILLIS,
                TimeUnit.MILLISECONDS);
        channel.closeFuture().addListener(f -> reset.cancel(false));
    }

    /** Closes at once with an RST (SO_LINGER 0): the kernel drops what the client never read. */
    static void reset(Channel channel) {
        if (channel.isOpen()) {
            channel.config().setOption(ChannelOption.SO_LINGER, 0);
            // Straight to the socket: a close from the pipeline's tail reaches Vert.x's handler, which would wait for
            // the unsent bytes again. Pending writes fail, and Vert.x sees the channel become inactive as usual.
            ChannelHandlerContext first = channel.pipeline().firstContext();
            if (first != null) {
                first.close();
            } else {
                channel.close();
            }
        }
    }
}
