package dev.tether.knative;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One client connection routed to one replica: two sockets and the bytes piped between them, one thread per
 * direction. It ends either way at once: normally (one side closed, the other is closed after the bytes already
 * read) or {@linkplain #cut cut} (both sockets reset, as Knative does at the revision timeout).
 */
final class ProxiedConnection {

    private static final int BUFFER = 8 * 1024;

    final int replica;
    private final Socket client;
    private final InputStream clientIn;
    private final Socket upstream;
    private final AtomicBoolean ended = new AtomicBoolean();

    ProxiedConnection(int replica, Socket client, InputStream clientIn, Socket upstream) {
        this.replica = replica;
        this.client = client;
        this.clientIn = clientIn;
        this.upstream = upstream;
    }

    /** Copies client to replica until either side ends; then ends the connection. Blocks the calling thread. */
    void pipeClientToReplica() {
        try {
            pipe(clientIn, upstream.getOutputStream());
        } catch (IOException e) {
            // closed or reset: the connection ends
        } finally {
            close();
        }
    }

    /** Copies replica to client until either side ends; then ends the connection. Blocks the calling thread. */
    void pipeReplicaToClient() {
        try {
            pipe(upstream.getInputStream(), client.getOutputStream());
        } catch (IOException e) {
            // closed or reset: the connection ends
        } finally {
            close();
        }
    }

    /** Ends both sockets normally (FIN); idempotent. */
    void close() {
        if (ended.compareAndSet(false, true)) {
            closeQuietly(client, false);
            closeQuietly(upstream, false);
        }
    }

    /**
     * Ends both sockets with a TCP RST (SO_LINGER 0): no WebSocket close frame, no MQTT DISCONNECT, the way a
     * revision timeout ends a request. Returns whether the connection was still open.
     */
    boolean cut() {
        if (ended.compareAndSet(false, true)) {
            closeQuietly(client, true);
            closeQuietly(upstream, true);
            return true;
        }
        return false;
    }

    boolean isOpen() {
        return !ended.get();
    }

    private static void pipe(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[BUFFER];
        int n;
        while ((n = in.read(buffer)) >= 0) {
            out.write(buffer, 0, n);
            out.flush();
        }
    }

    private static void closeQuietly(Socket s, boolean reset) {
        try {
            if (reset) {
                s.setSoLinger(true, 0);
            }
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }
}
