package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.store.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Several broker replicas sharing one PostgreSQL, for integration tests: each replica a separate
 * process of the packaged {@code quarkus-run.jar} on 127.0.0.1 with its own MQTT, HTTP and cluster
 * ports and its own {@code tether.instance.state-dir}; the PostgreSQL is the project's
 * {@link EmbeddedPostgres}, started and owned by the test JVM in {@code target/<group>/postgres}
 * and handed to every replica as its datasource (so no replica starts an embedded one).
 *
 * <p>Replicas are numbered from 1 (R1, R2, ...). Ports stay the same across restarts of a replica.
 * Logs go to {@code target/<group>/r<i>/broker-<run>.log}.
 *
 * <p>Used as a JUnit extension on a static field ({@code @RegisterExtension}), it starts every
 * replica before the class's first test, prints the tail of every replica's log when a test fails
 * and {@linkplain #close stops everything} after the class, also when start-up failed. A JVM
 * shutdown hook closes it too, so a killed test run leaves no broker or PostgreSQL behind.
 */
public final class ReplicaSet implements AutoCloseable, BeforeAllCallback, AfterAllCallback, TestWatcher {

    public static final Duration READY_WAIT = Duration.ofSeconds(60);
    public static final Duration EXIT_WAIT = Duration.ofSeconds(30);
    /** {@code tether.store.instance-timeout} of every replica: the lease of a dead replica. */
    public static final Duration INSTANCE_TIMEOUT = Duration.ofSeconds(3);
    /** {@code tether.store.heartbeat-interval} of every replica. */
    public static final Duration HEARTBEAT_INTERVAL = Duration.ofMillis(500);
    /** {@code tether.cluster.ack-timeout} of every replica. */
    public static final Duration ACK_TIMEOUT = Duration.ofSeconds(1);

    private static final int LOG_TAIL_LINES = 60;

    private final String group;
    private final Path dir;
    private final List<String> settings;
    private final String secret = UUID.randomUUID().toString();
    private final List<Replica> replicas = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Thread shutdownHook = new Thread(this::close, "replica-set-shutdown");
    private EmbeddedPostgres db;
    private Sql sql;
    private boolean closed;

    private ReplicaSet(String group, int size, List<String> settings) {
        this.group = group;
        this.dir = Path.of("target", group, UUID.randomUUID().toString().substring(0, 8)).toAbsolutePath();
        this.settings = List.copyOf(settings);
        Set<Integer> taken = new HashSet<>();
        for (int i = 1; i <= size; i++) {
            replicas.add(new Replica(i, dir.resolve("r" + i), freePort(taken), freePort(taken), freePort(taken)));
        }
    }

    /**
     * A set of {@code size} replicas under {@code target/<group>/}; nothing runs yet.
     *
     * @param settings extra {@code key=value} options ({@code -D}) for every replica and run
     */
    public static ReplicaSet of(String group, int size, String... settings) {
        if (size < 1) {
            throw new IllegalArgumentException("size must be at least 1: " + size);
        }
        return new ReplicaSet(group, size, List.of(settings));
    }

    /** Starts the PostgreSQL, then R1 (which migrates the schema), then the others in parallel; all ready. */
    public void startAll() throws Exception {
        startDatabase();
        start(1);
        for (int i = 2; i <= size(); i++) {
            launch(i);
        }
        for (int i = 2; i <= size(); i++) {
            awaitReady(i);
        }
    }

    /** Starts replica {@code i} (1-based) and waits until it is ready. */
    public void start(int i) throws Exception {
        startDatabase();
        launch(i);
        awaitReady(i);
    }

    /**
     * Starts the PostgreSQL if needed and launches replica {@code i} without waiting for it to be ready (for a
     * caller that probes readiness itself, such as a simulated orchestrator).
     */
    public void launchWithoutWaiting(int i) throws IOException {
        startDatabase();
        launch(i);
    }

    /** SIGTERM to replica {@code i}; returns once it exited (SIGKILL after {@link #EXIT_WAIT}). */
    public void stop(int i) throws InterruptedException {
        Process p = replica(i).process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        if (!p.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)) {
            System.out.printf("ReplicaSet %s: R%d ignored SIGTERM for %s; killing it%n", group, i, EXIT_WAIT);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** SIGKILL to replica {@code i}; returns once the process is gone. */
    public void kill(int i) throws InterruptedException {
        Process p = replica(i).process;
        if (p != null) {
            p.destroyForcibly();
            p.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /** SIGSTOP to replica {@code i}: the process freezes (no heartbeat, no socket reads) without exiting. */
    public void pause(int i) throws Exception {
        signal(i, "STOP");
    }

    /** SIGCONT to a {@linkplain #pause paused} replica. */
    public void resume(int i) throws Exception {
        signal(i, "CONT");
    }

    public int size() {
        return replicas.size();
    }

    public int mqttPort(int i) {
        return replica(i).mqttPort;
    }

    public int httpPort(int i) {
        return replica(i).httpPort;
    }

    public int clusterPort(int i) {
        return replica(i).clusterPort;
    }

    /** The process of replica {@code i}'s latest start, or null before its first start. */
    public Process process(int i) {
        return replica(i).process;
    }

    /** Replica {@code i}'s {@code tether.instance.state-dir}. */
    public Path stateDir(int i) {
        return replica(i).stateDir;
    }

    /** The instance id replica {@code i}'s latest start wrote to its state directory ({@code broker_instances.instance_id}). */
    public UUID instanceId(int i) throws IOException {
        return UUID.fromString(Files.readString(replica(i).stateDir.resolve("instance-id"), StandardCharsets.UTF_8).strip());
    }

    /** JDBC on the shared PostgreSQL. */
    public Sql sql() {
        if (sql == null) {
            throw new IllegalStateException("PostgreSQL not started");
        }
        return sql;
    }

    /**
     * Waits (at most {@link #READY_WAIT}) until {@code GET /q/health/ready} of replica {@code i} answers 200;
     * fails with the log's tail if the process exits or the time runs out.
     */
    public void awaitReady(int i) throws Exception {
        Replica r = replica(i);
        URI ready = URI.create("http://127.0.0.1:" + r.httpPort + "/q/health/ready");
        long deadline = System.nanoTime() + READY_WAIT.toNanos();
        String last = "no answer";
        while (true) {
            if (r.process == null || !r.process.isAlive()) {
                throw new AssertionError("R" + i + " exited" + (r.process == null ? "" : " with " + r.process.exitValue())
                        + " before it was ready:\n" + tail(r.log));
            }
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(ready).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
                last = response.statusCode() + " " + response.body();
            } catch (IOException e) {
                last = e.toString();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("R" + i + " not ready after " + READY_WAIT + " (last answer of " + ready + ": "
                        + last + "):\n" + tail(r.log));
            }
            Thread.sleep(200); // polling the health endpoint: bounded by the deadline
        }
    }

    /** The last lines of every replica's latest log, headed by the replica's name and ports. */
    public String logTails() {
        return replicas.stream().map(r -> "---- R" + r.index + " (mqtt " + r.mqttPort + ", http " + r.httpPort
                + ", cluster " + r.clusterPort + ", " + (r.process == null ? "never started"
                : r.process.isAlive() ? "running" : "exited " + r.process.exitValue()) + ") " + r.log + "\n"
                + (r.log == null ? "" : tail(r.log))).collect(Collectors.joining("\n"));
    }

    /** SIGKILL of every replica, then the PostgreSQL stopped; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Replica r : replicas) {
            if (r.process != null && r.process.isAlive()) {
                r.process.destroyForcibly();
            }
        }
        for (Replica r : replicas) {
            if (r.process != null) {
                try {
                    r.process.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        if (db != null) {
            db.close();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: this is the hook running
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        try {
            startAll();
        } catch (Exception | AssertionError e) {
            System.out.println("ReplicaSet " + group + " did not start:\n" + logTails());
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
        System.out.println("ReplicaSet " + group + ": " + context.getDisplayName() + " failed; replica logs:\n" + logTails());
    }

    // ---- internals ----

    private synchronized void startDatabase() throws IOException {
        if (closed) {
            throw new IllegalStateException("ReplicaSet " + group + " is closed");
        }
        if (db != null) {
            return;
        }
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        db = EmbeddedPostgres.start(dir.resolve("postgres"), 0);
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(db.jdbcUrl());
        ds.setUser(db.username());
        ds.setPassword(db.password());
        sql = new Sql(ds);
    }

    private void launch(int i) throws IOException {
        Replica r = replica(i);
        if (r.process != null && r.process.isAlive()) {
            throw new IllegalStateException("R" + i + " is already running");
        }
        String jar = System.getProperty("tether.runner.jar", "target/quarkus-app/quarkus-run.jar");
        assertThat(Path.of(jar)).as("runner jar (mvn package)").exists();
        Files.createDirectories(r.stateDir);
        r.log = r.stateDir.resolve("broker-" + (++r.runs) + ".log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                // Every client of a test comes from 127.0.0.1: the per-address rate as in the %test profile.
                "-Dtether.limits.connections-per-second-per-address=2000",
                "-Dtether.limits.connection-burst-per-address=5000"));
        replicaSettings(r).forEach(s -> command.add("-D" + s));
        settings.forEach(s -> command.add("-D" + s));
        command.addAll(List.of("-jar", jar));
        r.process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(r.log.toFile()).start();
    }

    /** The {@code key=value} options every run of replica {@code r} gets, before the set's extra settings. */
    private List<String> replicaSettings(Replica r) {
        return List.of(
                "quarkus.datasource.reactive.url=" + db.reactiveUrl(),
                "quarkus.datasource.jdbc.url=" + db.jdbcUrl(),
                "quarkus.datasource.username=" + db.username(),
                "quarkus.datasource.password=" + db.password(),
                "tether.instance.state-dir=" + r.stateDir,
                "tether.mqtt.host=127.0.0.1",
                "tether.mqtt.port=" + r.mqttPort,
                "quarkus.http.host=127.0.0.1",
                "quarkus.http.port=" + r.httpPort,
                "tether.cluster.port=" + r.clusterPort,
                "tether.cluster.advertised-host=127.0.0.1",
                "tether.cluster.secret=" + secret,
                "tether.cluster.ack-timeout=" + ACK_TIMEOUT.toMillis() + "ms",
                "tether.store.instance-timeout=" + INSTANCE_TIMEOUT.toMillis() + "ms",
                "tether.store.heartbeat-interval=" + HEARTBEAT_INTERVAL.toMillis() + "ms");
    }

    private void signal(int i, String signal) throws Exception {
        Process p = replica(i).process;
        if (p == null || !p.isAlive()) {
            throw new IllegalStateException("R" + i + " is not running");
        }
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid()))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!kill.waitFor(5, TimeUnit.SECONDS)) {
            kill.destroyForcibly();
            throw new IllegalStateException("kill -" + signal + " " + p.pid() + " did not finish");
        }
        if (kill.exitValue() != 0) {
            throw new IllegalStateException("kill -" + signal + " " + p.pid() + " exited with " + kill.exitValue());
        }
    }

    private Replica replica(int i) {
        if (i < 1 || i > replicas.size()) {
            throw new IllegalArgumentException("no replica R" + i + " in a set of " + replicas.size());
        }
        return replicas.get(i - 1);
    }

    /** A free port not yet given to another replica of this set. */
    private static int freePort(Set<Integer> taken) {
        for (int attempt = 0; attempt < 20; attempt++) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (taken.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new IllegalStateException("no free port", e);
            }
        }
        throw new IllegalStateException("no distinct free port after 20 attempts");
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** One replica: fixed ports and state directory, and its latest process. */
    private static final class Replica {
        final int index;
        final Path stateDir;
        final int mqttPort;
        final int httpPort;
        final int clusterPort;
        Process process;
        Path log;
        int runs;

        Replica(int index, Path stateDir, int mqttPort, int httpPort, int clusterPort) {
            this.index = index;
            this.stateDir = stateDir;
            this.mqttPort = mqttPort;
            this.httpPort = httpPort;
            this.clusterPort = clusterPort;
        }
    }

    /** Replica numbers 1..size, for loops over the set. */
    public IntStream indices() {
        return IntStream.rangeClosed(1, size());
    }

    /** Replica {@code i}'s exit status once its latest process has ended by itself within {@code wait}. */
    public java.util.OptionalInt awaitExit(int i, Duration wait) throws InterruptedException {
        Process p = replica(i).process;
        if (p == null || !p.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
            return java.util.OptionalInt.empty();
        }
        return java.util.OptionalInt.of(p.exitValue());
    }

    /** Whether replica {@code i}'s latest process is running. */
    public boolean isRunning(int i) {
        return Optional.ofNullable(replica(i).process).map(Process::isAlive).orElse(false);
    }
}
