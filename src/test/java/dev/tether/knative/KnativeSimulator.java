package dev.tether.knative;

import dev.tether.testing.ReplicaSet;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * What Knative's activator and queue-proxy do to a broker, on loopback, for integration tests: an HTTP/1.1 proxy
 * in front of Tether processes (a {@link ReplicaSet} sharing one PostgreSQL).
 *
 * <ul>
 *   <li><b>Routing.</b> Each new connection's request head is read, then the connection goes to a replica in
 *   rotation (round-robin), and bytes are piped both ways: a WebSocket upgrade to {@code /mqtt} stays on that
 *   replica for its life. A replica enters the rotation once {@code GET /q/health/ready} answers 200.</li>
 *   <li><b>Revision timeout.</b> {@link KnativeSettings#revisionTimeout} after it was routed, a connection is cut:
 *   both sockets reset, no WebSocket close frame, no MQTT DISCONNECT.</li>
 *   <li><b>Scaling.</b> {@link #scaleTo}: up starts processes and adds each to the rotation when ready; down takes
 *   replicas out of the rotation, sends SIGTERM and waits up to {@link KnativeSettings#drainTimeout} for the
 *   process to exit and its proxied connections to close, then SIGKILL. (Real Knative delays the SIGTERM until the
 *   queue-proxy has drained; SIGTERM at once is the harder case for clients.)</li>
 *   <li><b>Scale to zero and the activator.</b> With {@link KnativeSettings#scaleToZeroAfter} set, no open or held
 *   connection for that long stops every replica. A connection arriving with no replica in rotation is held while
 *   one starts (a cold start), then routed; after {@link KnativeSettings#holdTimeout} it gets 503.</li>
 * </ul>
 *
 * <p>Threads: one accepting, one per connection for its head and client-to-replica direction and one for the
 * other direction (a cached pool), one timer for cuts and the idle check, one autoscaler that runs scale
 * changes the simulator decides itself. {@link #scaleTo} may be called from any thread; calls run one at a time.
 *
 * <p>As a JUnit extension on a static field it starts before the class's first test, prints every replica's log
 * tail when a test fails and stops everything after the class.
 */
public final class KnativeSimulator implements AutoCloseable, BeforeAllCallback, AfterAllCallback, TestWatcher {

    private static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration READY_POLL = Duration.ofMillis(20);
    private static final Duration IDLE_CHECK_EVERY = Duration.ofMillis(100);
    private static final byte[] SERVICE_UNAVAILABLE = ("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
            + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);

    /**
     * Replicas here are stopped with SIGTERM (which ends their lease at once), never killed: a lease longer than
     * {@link ReplicaSet#INSTANCE_TIMEOUT} keeps a replica starved of CPU on a busy machine from stopping itself.
     * A broker setting given to {@link #of} overrides it and {@link #ACK_TIMEOUT}.
     */
    private static final String LEASE = "tether.store.instance-timeout=10s";
    /** Likewise, a starting replica slow to acknowledge a subscription is not fenced within a second. */
    private static final String ACK_TIMEOUT = "tether.cluster.ack-timeout=5s";

    private final String name;
    private final KnativeSettings settings;
    private final ReplicaSet replicas;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).build();
    private final ExecutorService threads = Executors.newCachedThreadPool(daemon("knative-conn"));
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(daemon("knative-timer"));
    private final ExecutorService autoscaler = Executors.newSingleThreadExecutor(daemon("knative-autoscaler"));

    // Routing state, guarded by `lock`; waiters on `lock` are held connections.
    private final Object lock = new Object();
    private final List<Integer> rotation = new ArrayList<>();
    private final Map<Integer, Set<ProxiedConnection>> open = new HashMap<>();
    private int desired;
    private int held;
    private long lastActivity = System.nanoTime();
    private boolean coldStartRequested;
    private boolean idleScaleDownQueued;
    private int nextInRotation;

    // Replicas with a process, guarded by `scaleLock` (scale changes run one at a time).
    private final Object scaleLock = new Object();
    private final TreeSet<Integer> running = new TreeSet<>();

    private final AtomicLong routed = new AtomicLong();
    private final AtomicLong cuts = new AtomicLong();
    private final AtomicLong coldStarts = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final Map<Integer, AtomicLong> routedByReplica = new HashMap<>();
    private final List<Duration> coldStartTimes = Collections.synchronizedList(new ArrayList<>());

    private volatile ServerSocket server;
    private volatile boolean closed;

    private KnativeSimulator(String name, KnativeSettings settings, String... brokerSettings) {
        this.name = name;
        this.settings = settings;
        List<String> all = new ArrayList<>(List.of(LEASE, ACK_TIMEOUT));
        all.addAll(List.of(brokerSettings));
        this.replicas = ReplicaSet.of(name, settings.maxReplicas(), all.toArray(String[]::new));
        for (int i = 1; i <= settings.maxReplicas(); i++) {
            routedByReplica.put(i, new AtomicLong());
            open.put(i, new HashSet<>());
        }
    }

    /**
     * A simulator of a Knative revision named {@code name} (logs under {@code target/<name>/}); nothing runs yet.
     *
     * @param brokerSettings extra {@code key=value} options for every replica
     */
    public static KnativeSimulator of(String name, KnativeSettings settings, String... brokerSettings) {
        return new KnativeSimulator(name, settings, brokerSettings);
    }

    /** Opens the proxy's port and scales to {@link KnativeSettings#initialReplicas}. */
    public void start() throws Exception {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 200);
        server = s;
        Thread acceptor = daemon("knative-accept").newThread(this::acceptLoop);
        acceptor.start();
        timer.scheduleWithFixedDelay(this::checkIdle, IDLE_CHECK_EVERY.toMillis(), IDLE_CHECK_EVERY.toMillis(),
                TimeUnit.MILLISECONDS);
        scaleTo(settings.initialReplicas());
    }

    /** The proxy's port on 127.0.0.1. */
    public int port() {
        return server.getLocalPort();
    }

    /** MQTT over WebSocket through the proxy: {@code ws://127.0.0.1:<port>/mqtt}. */
    public String mqttUrl() {
        return "ws://127.0.0.1:" + port() + "/mqtt";
    }

    /** The replicas behind the proxy (for direct MQTT over TCP, their PostgreSQL, their logs). */
    public ReplicaSet replicas() {
        return replicas;
    }

    public KnativeSettings settings() {
        return settings;
    }

    // ---- scaling ----

    /**
     * Scales to {@code n} replicas and returns when done: new replicas are in rotation (ready), removed ones have
     * exited. Fails if a new replica does not become ready within {@link ReplicaSet#READY_WAIT}.
     */
    public void scaleTo(int n) throws Exception {
        if (n < 0 || n > settings.maxReplicas()) {
            throw new IllegalArgumentException("scale " + n + " outside 0.." + settings.maxReplicas());
        }
        synchronized (scaleLock) {
            running.removeIf(slot -> !replicas.isRunning(slot)); // exited by itself: replaced like a crashed pod
            synchronized (lock) {
                desired = n;
                if (n > 0) {
                    coldStartRequested = false;
                }
            }
            if (n > running.size()) {
                scaleUp(n - running.size());
            } else if (n < running.size()) {
                List<Integer> victims = new ArrayList<>(running.descendingSet()).subList(0, running.size() - n);
                scaleDown(victims);
            }
        }
    }

    private void scaleUp(int count) throws Exception {
        List<Integer> slots = new ArrayList<>();
        for (int i = 1; i <= settings.maxReplicas() && slots.size() < count; i++) {
            if (!running.contains(i)) {
                slots.add(i);
            }
        }
        if (running.isEmpty() && slots.size() > 1) {
            // The first replica of a fresh PostgreSQL migrates the schema: alone, as a Deployment's first pod would.
            scaleUp(1);
            slots.remove(0);
        }
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        for (int slot : slots) {
            replicas.launchWithoutWaiting(slot);
            running.add(slot);
            ready.add(CompletableFuture.runAsync(() -> awaitReadyThenRoute(slot), threads));
        }
        CompletableFuture.allOf(ready.toArray(CompletableFuture[]::new)).join();
    }

    /** Polls the replica's readiness like the queue-proxy's probe, then puts it into rotation. */
    private void awaitReadyThenRoute(int slot) {
        URI uri = URI.create("http://127.0.0.1:" + replicas.httpPort(slot) + "/q/health/ready");
        long deadline = System.nanoTime() + ReplicaSet.READY_WAIT.toNanos();
        while (true) {
            Process p = replicas.process(slot);
            if (!p.isAlive()) {
                throw new IllegalStateException("R" + slot + " exited with " + p.exitValue() + " before it was ready");
            }
            try {
                HttpResponse<Void> answer = http.send(HttpRequest.newBuilder(uri).timeout(CONNECT_TIMEOUT).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (answer.statusCode() == 200) {
                    synchronized (lock) {
                        rotation.add(slot);
                        lastActivity = System.nanoTime(); // a new replica gets a full idle period before scale to zero
                        lock.notifyAll();
                    }
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while R" + slot + " started", e);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("R" + slot + " not ready after " + ReplicaSet.READY_WAIT);
            }
            sleep(READY_POLL); // the probe's period, bounded by the deadline
        }
    }

    private void scaleDown(List<Integer> victims) {
        synchronized (lock) {
            rotation.removeAll(victims);
        }
        List<CompletableFuture<Void>> drained = new ArrayList<>();
        for (int slot : victims) {
            drained.add(CompletableFuture.runAsync(() -> drainThenStop(slot), threads));
        }
        CompletableFuture.allOf(drained.toArray(CompletableFuture[]::new)).join();
        running.removeAll(victims);
    }

    /** SIGTERM; wait for the exit and for the replica's proxied connections to close; SIGKILL after the drain timeout. */
    private void drainThenStop(int slot) {
        Process p = replicas.process(slot);
        p.destroy();
        long deadline = System.nanoTime() + settings.drainTimeout().toNanos();
        try {
            while ((p.isAlive() || openTo(slot) > 0) && System.nanoTime() < deadline) {
                p.waitFor(50, TimeUnit.MILLISECONDS);
            }
            if (p.isAlive()) {
                System.out.printf("KnativeSimulator %s: R%d still running %s after SIGTERM; SIGKILL%n", name, slot,
                        settings.drainTimeout());
                p.destroyForcibly();
                p.waitFor(ReplicaSet.EXIT_WAIT.toSeconds(), TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<ProxiedConnection> left;
        synchronized (lock) {
            left = List.copyOf(open.get(slot));
        }
        left.forEach(ProxiedConnection::cut);
    }

    /**
     * Every {@link #IDLE_CHECK_EVERY}: drop replicas that exited from rotation; scale to zero once idle for
     * {@link KnativeSettings#scaleToZeroAfter}.
     */
    private void checkIdle() {
        synchronized (lock) {
            // The queue-proxy's probe fails for a replica that exited by itself: out of rotation.
            rotation.removeIf(slot -> !replicas.isRunning(slot));
        }
        if (settings.scaleToZeroAfter().isEmpty() || closed) {
            return;
        }
        synchronized (lock) {
            if (!isIdle() || idleScaleDownQueued) {
                return;
            }
            idleScaleDownQueued = true;
        }
        autoscaler.execute(() -> {
            try {
                synchronized (scaleLock) {
                    List<Integer> victims;
                    synchronized (lock) {
                        if (!isIdle()) {
                            return;
                        }
                        desired = 0;
                        victims = List.copyOf(running);
                        rotation.removeAll(victims); // at once: no connection is routed to a replica about to stop
                    }
                    scaleDown(victims);
                }
            } finally {
                synchronized (lock) {
                    idleScaleDownQueued = false;
                }
            }
        });
    }

    /** Caller holds {@code lock}. */
    private boolean isIdle() {
        return desired > 0 && held == 0 && openTotal() == 0
                && System.nanoTime() - lastActivity >= settings.scaleToZeroAfter().orElseThrow().toNanos();
    }

    // ---- the proxy ----

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                threads.execute(() -> handle(client));
            } catch (IOException e) {
                if (!closed) {
                    System.out.printf("KnativeSimulator %s: accept failed: %s%n", name, e);
                }
            } catch (RuntimeException e) { // rejected after close
                return;
            }
        }
    }

    private void handle(Socket client) {
        long arrived = System.nanoTime();
        ProxiedConnection connection = null;
        ScheduledFuture<?> cut = null;
        try {
            client.setTcpNoDelay(true);
            client.setSoTimeout((int) HEAD_TIMEOUT.toMillis());
            InputStream in = new BufferedInputStream(client.getInputStream());
            RequestHead head = RequestHead.read(in);
            client.setSoTimeout(0);
            Route route = awaitRoute(arrived);
            if (route == null) {
                refused.incrementAndGet();
                client.getOutputStream().write(SERVICE_UNAVAILABLE);
                client.close();
                return;
            }
            Socket upstream = new Socket();
            upstream.setTcpNoDelay(true);
            upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), replicas.httpPort(route.replica)),
                    (int) CONNECT_TIMEOUT.toMillis());
            connection = new ProxiedConnection(route.replica, client, in, upstream);
            synchronized (lock) {
                open.get(route.replica).add(connection);
            }
            upstream.getOutputStream().write(head.bytes());
            if (route.held) {
                coldStartTimes.add(Duration.ofNanos(System.nanoTime() - arrived));
            }
            routed.incrementAndGet();
            routedByReplica.get(route.replica).incrementAndGet();
            ProxiedConnection c = connection;
            cut = timer.schedule(() -> {
                if (c.cut()) {
                    cuts.incrementAndGet();
                }
            }, settings.revisionTimeout().toMillis(), TimeUnit.MILLISECONDS);
            threads.execute(c::pipeReplicaToClient);
            c.pipeClientToReplica();
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                System.out.printf("KnativeSimulator %s: connection ended before it was piped: %s%n", name, e);
            }
            try {
                client.close();
            } catch (IOException ignored) {
                // already closed
            }
        } finally {
            if (cut != null) {
                cut.cancel(false);
            }
            if (connection != null) {
                connection.close();
                synchronized (lock) {
                    open.get(connection.replica).remove(connection);
                    lastActivity = System.nanoTime();
                }
            }
        }
    }

    /** A replica for a new connection; held (the activator) while none is in rotation; null after the hold timeout. */
    private Route awaitRoute(long arrived) {
        long deadline = arrived + settings.holdTimeout().toNanos();
        synchronized (lock) {
            lastActivity = System.nanoTime();
            boolean wasHeld = rotation.isEmpty();
            held++;
            try {
                while (rotation.isEmpty()) {
                    if (desired == 0 && !coldStartRequested) {
                        coldStartRequested = true;
                        coldStarts.incrementAndGet();
                        autoscaler.execute(this::coldStart);
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || closed) {
                        return null;
                    }
                    lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                }
                int replica = rotation.get(Math.floorMod(nextInRotation++, rotation.size()));
                return new Route(replica, wasHeld);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            } finally {
                held--;
                lastActivity = System.nanoTime();
            }
        }
    }

    private void coldStart() {
        try {
            synchronized (scaleLock) {
                synchronized (lock) {
                    if (desired > 0) {
                        return;
                    }
                }
                scaleTo(1);
            }
        } catch (Exception | AssertionError e) {
            System.out.printf("KnativeSimulator %s: cold start failed: %s%n%s%n", name, e, replicas.logTails());
        }
    }

    private int openTo(int replica) {
        synchronized (lock) {
            return open.get(replica).size();
        }
    }

    /** Caller holds {@code lock}. */
    private int openTotal() {
        return open.values().stream().mapToInt(Set::size).sum();
    }

    private record Route(int replica, boolean held) {
    }

    // ---- figures ----

    /** Connections routed to a replica so far. */
    public long connectionsRouted() {
        return routed.get();
    }

    /** Connections routed to replica {@code i} so far. */
    public long connectionsRoutedTo(int i) {
        return routedByReplica.get(i).get();
    }

    /** Connections cut at the revision timeout so far. */
    public long cuts() {
        return cuts.get();
    }

    /** Replicas started by the activator because a connection arrived while none was in rotation. */
    public long coldStarts() {
        return coldStarts.get();
    }

    /** Connections answered 503 after the hold timeout. */
    public long refused() {
        return refused.get();
    }

    /**
     * For each connection that arrived while no replica was in rotation: from its arrival to its request head
     * written to the replica that started for it.
     */
    public List<Duration> coldStartTimes() {
        synchronized (coldStartTimes) {
            return List.copyOf(coldStartTimes);
        }
    }

    /** Connections currently piped. */
    public int openConnections() {
        synchronized (lock) {
            return openTotal();
        }
    }

    /** Replicas in rotation (ready), in the order they became ready. */
    public List<Integer> inRotation() {
        synchronized (lock) {
            return List.copyOf(rotation);
        }
    }

    /** Counters in one line, for test output. */
    public String figures() {
        return String.format("routed %d %s, cuts %d, cold starts %d %s, refused %d, open %d, in rotation %s",
                routed.get(), routedByReplica, cuts.get(), coldStarts.get(), coldStartTimes(), refused.get(),
                openConnections(), inRotation());
    }

    // ---- lifecycle ----

    /** Stops accepting, closes every connection, stops every replica and the PostgreSQL; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (server != null) {
                server.close();
            }
        } catch (IOException e) {
            // closing anyway
        }
        List<ProxiedConnection> all = new ArrayList<>();
        synchronized (lock) {
            open.values().forEach(all::addAll);
            lock.notifyAll();
        }
        all.forEach(ProxiedConnection::close);
        timer.shutdownNow();
        autoscaler.shutdownNow();
        threads.shutdownNow();
        replicas.close();
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        try {
            start();
        } catch (Exception | AssertionError e) {
            System.out.println("KnativeSimulator " + name + " did not start:\n" + replicas.logTails());
            close();
            throw e;
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        System.out.println("KnativeSimulator " + name + ": " + context.getDisplayName() + " failed; " + figures()
                + "\n" + replicas.logTails());
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
