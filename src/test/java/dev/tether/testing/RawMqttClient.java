package dev.tether.testing;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;

/**
 * A bare TCP MQTT peer for tests: writes exactly the given bytes and frames what the server sends into
 * {@link ReceivedPacket}s. Bytes of a partially received packet are kept across calls, so a timeout never loses or
 * desynchronises the stream. Every blocking call is bounded. Not thread-safe.
 */
public final class RawMqttClient implements AutoCloseable {

    /** Bound for establishing the TCP connection. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Pause between the two writes of {@link #sendSplit}, long enough for them to leave as separate segments. */
    public static final Duration SPLIT_PAUSE = Duration.ofMillis(50);

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private byte[] pending = new byte[8192];
    private int pendingLength;
    private boolean endOfStream;

    private RawMqttClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Opens a TCP connection (bounded by {@link #CONNECT_TIMEOUT}) with TCP_NODELAY so each write goes out at once. */
    public static RawMqttClient connect(String host, int port) throws IOException {
        return connect(host, port, 0);
    }

    /**
     * As {@link #connect(String, int)} with the socket receive buffer set to {@code receiveBufferSize} bytes before
     * connecting (0: the system's default), so the TCP window stays small: a client that stops reading then stops
     * the server's writes after a few KB.
     */
    public static RawMqttClient connect(String host, int port, int receiveBufferSize) throws IOException {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            if (receiveBufferSize > 0) {
                socket.setReceiveBufferSize(receiveBufferSize);
            }
            socket.connect(new InetSocketAddress(host, port), (int) CONNECT_TIMEOUT.toMillis());
            return new RawMqttClient(socket);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    /** As {@link #connect(String, int)} from the local address {@code localHost} (e.g. 127.0.0.2: all of 127/8 is loopback). */
    public static RawMqttClient connectFrom(String localHost, String host, int port) throws IOException {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.bind(new InetSocketAddress(localHost, 0));
            socket.connect(new InetSocketAddress(host, port), (int) CONNECT_TIMEOUT.toMillis());
            return new RawMqttClient(socket);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    /** Over a socket already connected, e.g. an {@link javax.net.ssl.SSLSocket} for MQTT over TLS. */
    public static RawMqttClient over(Socket connected) throws IOException {
        return new RawMqttClient(connected);
    }

    /** Writes the bytes in one write and flushes. */
    public void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Writes {@code bytes[0, splitAt)}, flushes, pauses {@link #SPLIT_PAUSE}, then writes the rest. */
    public void sendSplit(byte[] bytes, int splitAt) throws IOException {
        if (splitAt <= 0 || splitAt >= bytes.length) {
            throw new IllegalArgumentException("splitAt must be inside (0, " + bytes.length + "): " + splitAt);
        }
        out.write(bytes, 0, splitAt);
        out.flush();
        try {
            Thread.sleep(SPLIT_PAUSE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted between split writes", e);
        }
        out.write(bytes, splitAt, bytes.length - splitAt);
        out.flush();
    }

    /**
     * Reads the next complete packet. Throws {@link SocketTimeoutException} if none completes within
     * {@code timeout}, {@link EOFException} if the server closed the connection first, or the
     * {@link SocketException} of a reset.
     */
    public ReceivedPacket receive(Duration timeout) throws IOException {
        Optional<ReceivedPacket> packet = receiveWithin(timeout);
        if (packet.isEmpty()) {
            throw new SocketTimeoutException("no complete MQTT packet within " + timeout + " (" + pendingLength
                    + " bytes of a partial packet pending)");
        }
        return packet.get();
    }

    /**
     * Reads the next complete packet, or returns empty if none completes within {@code timeout}. Throws
     * {@link EOFException} if the server closed the connection first, or the {@link SocketException} of a reset.
     */
    public Optional<ReceivedPacket> receiveWithin(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            ReceivedPacket.Framed framed = ReceivedPacket.tryFrame(pending, 0, pendingLength);
            if (framed != null) {
                consume(framed.length());
                return Optional.of(framed.packet());
            }
            if (endOfStream) {
                throw new EOFException("server closed the connection" + (pendingLength > 0
                        ? " inside a packet (" + pendingLength + " bytes pending)" : ""));
            }
            long remainingMillis = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMillis <= 0) {
                return Optional.empty();
            }
            if (!readSome(remainingMillis)) {
                return Optional.empty();
            }
        }
    }

    /**
     * Waits until the server closes the connection (end of stream or reset) and returns true, or returns false if it
     * is still open after {@code timeout}. Packets arriving meanwhile are kept and can still be {@link #receive}d.
     */
    public boolean awaitClosed(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!endOfStream) {
            long remainingMillis = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMillis <= 0) {
                return false;
            }
            try {
                readSome(remainingMillis);
            } catch (SocketException reset) {
                endOfStream = true;
            }
        }
        return true;
    }

    /** Whether end of stream or a reset has been seen so far (no read is attempted). */
    public boolean closedByServer() {
        return endOfStream;
    }

    /**
     * Bytes the server sent that have arrived but were not returned as packets yet: those kept from earlier reads plus
     * those waiting in the socket's receive buffer. No read is attempted, so this tells whether something had already
     * arrived at a given moment (e.g. before a packet on another connection).
     */
    public int bufferedBytes() {
        try {
            return pendingLength + (endOfStream ? 0 : in.available());
        } catch (IOException e) {
            return pendingLength;
        }
    }

    /** Local TCP port, e.g. to tell connections apart in broker logs. */
    public int localPort() {
        return socket.getLocalPort();
    }

    /** Closes with an RST instead of a FIN (SO_LINGER 0): an abrupt network failure, e.g. to trigger a Will (§3.1.2.5). */
    public void closeAbruptly() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    /** Closes the socket (FIN) without sending DISCONNECT. */
    @Override
    public void close() throws IOException {
        socket.close();
    }

    /**
     * One read bounded by {@code timeoutMillis}; appends to {@link #pending}. Returns false on timeout. Marks end of
     * stream on EOF; a reset marks it too and is rethrown.
     */
    private boolean readSome(long timeoutMillis) throws IOException {
        if (pendingLength == pending.length) {
            pending = Arrays.copyOf(pending, pending.length * 2);
        }
        socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeoutMillis)));
        int n;
        try {
            n = in.read(pending, pendingLength, pending.length - pendingLength);
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            endOfStream = true;
            throw e;
        }
        if (n < 0) {
            endOfStream = true;
        } else {
            pendingLength += n;
        }
        return true;
    }

    private void consume(int n) {
        System.arraycopy(pending, n, pending, 0, pendingLength - n);
        pendingLength -= n;
    }
}
