package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * One broker installation (data directory, instance state directory and ports) for integration
 * tests, run as successive processes of the packaged {@code quarkus-run.jar} with its default
 * embedded PostgreSQL.
 */
public final class BrokerProcess {

    public static final Duration START_WAIT = Duration.ofSeconds(60);
    public static final Duration EXIT_WAIT = Duration.ofSeconds(30);

    public final Path dataDir;
    public final Path stateDir;
    public final int pgPort;
    public final int mqttPort;
    public final int httpPort;
    private final Path logDir;
    private final List<String> settings;
    private Process process;
    private int runs;

    private BrokerProcess(Path dir, List<String> settings) throws IOException {
        this.dataDir = dir.resolve("postgres").toAbsolutePath();
        this.stateDir = dir.toAbsolutePath();
        this.logDir = dir;
        this.settings = List.copyOf(settings);
        this.pgPort = freePort();
        this.mqttPort = freePort();
        this.httpPort = freePort();
    }

    /**
     * A new installation under {@code target/<group>/}, added to {@code registry} so that the test
     * stops it afterwards.
     *
     * @param settings extra {@code -Dkey=value} options for every run
     */
    public static BrokerProcess create(String group, String name, List<BrokerProcess> registry, String... settings)
            throws IOException {
        Path dir = Path.of("target", group, name + "-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(dir);
        BrokerProcess b = new BrokerProcess(dir, List.of(settings));
        registry.add(b);
        return b;
    }

    /** Starts a process on this installation and returns once its MQTT port accepts connections. */
    public void start() throws Exception {
        String jar = System.getProperty("tether.runner.jar", "target/quarkus-app/quarkus-run.jar");
        assertThat(Path.of(jar)).as("runner jar (mvn package)").exists();
        Path log = logDir.resolve("broker-" + (++runs) + ".log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-Dtether.embedded-postgres.data-dir=" + dataDir,
                "-Dtether.embedded-postgres.port=" + pgPort,
                "-Dtether.instance.state-dir=" + stateDir,
                "-Dtether.mqtt.host=127.0.0.1",
                "-Dtether.mqtt.port=" + mqttPort,
                "-Dquarkus.http.host=127.0.0.1",
                "-Dquarkus.http.port=" + httpPort,
                "-Dtether.cluster.port=0", // a free port: installations of one test run side by side
                "-Dtether.cluster.advertised-host=127.0.0.1",
                // Every client of a test comes from 127.0.0.1: the per-address rate as in the %test profile.
                "-Dtether.limits.connections-per-second-per-address=2000",
                "-Dtether.limits.connection-burst-per-address=5000"));
        settings.forEach(s -> command.add("-D" + s));
        command.addAll(List.of("-jar", jar));
        process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        long deadline = System.nanoTime() + START_WAIT.toNanos();
        while (!accepts(mqttPort)) {
            if (!process.isAlive()) {
                throw new AssertionError("broker exited with " + process.exitValue() + ":\n" + tail(log));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("MQTT port " + mqttPort + " not open after " + START_WAIT + ":\n" + tail(log));
            }
            Thread.sleep(100); // polling a port: the only wait here, bounded by the deadline
        }
    }

    /** The process of the latest {@link #start}. */
    public Process process() {
        return process;
    }

    /** SIGKILL of the broker JVM only; its detached PostgreSQL keeps running (the next start recovers it). */
    public long kill() {
        long at = System.nanoTime();
        process.destroyForcibly();
        return at;
    }

    public Connection jdbc() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + pgPort + "/postgres", "postgres",
                "postgres");
    }

    public OptionalLong postmasterPid() {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
            return lines.isEmpty() ? OptionalLong.empty() : OptionalLong.of(Long.parseLong(lines.get(0).trim()));
        } catch (NoSuchFileException e) {
            return OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /** SIGTERM (graceful), then make sure no PostgreSQL is left on the data directory. */
    public void stop() {
        OptionalLong pg = postmasterPid();
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (pg.isPresent()) {
            Optional<ProcessHandle> leftover = ProcessHandle.of(pg.getAsLong()).filter(h -> isRunning(h.pid()));
            if (leftover.isPresent()) {
                System.out.printf("BrokerProcess: PostgreSQL pid %d left on %s; killing it%n", pg.getAsLong(), dataDir);
                leftover.get().descendants().forEach(ProcessHandle::destroyForcibly);
                leftover.get().destroyForcibly();
            }
        }
    }

    /** Alive and not a zombie (an orphaned postmaster is reaped by PID 1, sometimes late). */
    public static boolean isRunning(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            int endOfName = stat.lastIndexOf(')');
            return stat.charAt(endOfName + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.subList(Math.max(0, lines.size() - 40), lines.size()).stream()
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
