package dev.tether.store.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresTest {

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_whenDataDirectoryReused_thenDataSurvives() throws Exception {
        Path dir = tmp.resolve("pgdata");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
            execute(pg, "CREATE TABLE probe (id int PRIMARY KEY, note text)");
            execute(pg, "INSERT INTO probe VALUES (1, 'kept')");
        }
        assertFalse(Files.exists(dir.resolve("postmaster.pid")), "server stopped cleanly");

        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
            assertEquals("kept", queryString(pg, "SELECT note FROM probe WHERE id = 1"));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_thenFsyncAndSynchronousCommitAreOnAndUrlsPointAtServer() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pgdata"), 0)) {
            assertEquals("on", queryString(pg, "SHOW fsync"));
            assertEquals("on", queryString(pg, "SHOW synchronous_commit"));

            assertTrue(pg.port() > 0);
            assertEquals("jdbc:postgresql://localhost:" + pg.port() + "/postgres", pg.jdbcUrl());
            assertEquals("postgresql://localhost:" + pg.port() + "/postgres", pg.reactiveUrl());
            assertEquals("postgres", pg.username());
            assertEquals("postgres", pg.password());
            assertEquals(String.valueOf(pg.port()), queryString(pg, "SHOW port"));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_whenPreviousOwnerJvmWasKilled_thenOrphanIsStoppedAndDataSurvives() throws Exception {
        Path dir = tmp.resolve("pgdata");
        int port = freePort();

        long orphanPid;
        Process owner = startOwnerJvm(dir, port);
        try {
            awaitReady(owner);
        } finally {
            owner.destroyForcibly(); // SIGKILL: no shutdown hook runs
            assertTrue(owner.waitFor(10, TimeUnit.SECONDS));
        }
        orphanPid = Long.parseLong(Files.readAllLines(dir.resolve("postmaster.pid")).get(0).trim());
        assertTrue(isRunning(orphanPid),
                "the postmaster outlives its SIGKILLed JVM (as documented)");

        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, port)) {
            assertFalse(isRunning(orphanPid), "orphan stopped");
            assertEquals(port, pg.port(), "same port reused");
            assertEquals("from the killed owner", queryString(pg, "SELECT note FROM probe WHERE id = 7"));
            assertEquals("on", queryString(pg, "SHOW fsync"));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_whenPidFileIsStale_thenStartSucceeds() throws Exception {
        Path dir = tmp.resolve("pgdata");
        Path pidFile = dir.resolve("postmaster.pid");
        List<String> livePidFile;
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
            execute(pg, "CREATE TABLE probe (id int PRIMARY KEY, note text)");
            execute(pg, "INSERT INTO probe VALUES (1, 'kept')");
            livePidFile = Files.readAllLines(pidFile);
        }

        // The pid is dead now: as after a crash whose postmaster did not survive.
        Files.write(pidFile, livePidFile);
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
            assertEquals("kept", queryString(pg, "SELECT note FROM probe WHERE id = 1"));
        }

        // The pid was recycled by an unrelated live process (PostgreSQL alone would refuse to start).
        Process unrelated = new ProcessBuilder("sleep", "30").start();
        try {
            livePidFile.set(0, Long.toString(unrelated.pid()));
            Files.write(pidFile, livePidFile);
            try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
                assertEquals("kept", queryString(pg, "SELECT note FROM probe WHERE id = 1"));
            }
            assertTrue(unrelated.isAlive(), "an unrelated process is never signalled");
        } finally {
            unrelated.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_whenDirectoryInUseByLiveOwner_thenFailsAndLeavesServerRunning() throws Exception {
        Path dir = tmp.resolve("pgdata");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0)) {
            assertThrows(IllegalStateException.class, () -> EmbeddedPostgres.start(dir, 0));
            assertEquals("1", queryString(pg, "SELECT 1"));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void start_whenPortTaken_thenFails() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            assertThrows(IOException.class, () -> EmbeddedPostgres.start(tmp.resolve("pgdata"), taken.getLocalPort()));
        }
    }

    // --- helpers -----------------------------------------------------------------------------

    /** Runs in a child JVM: starts the server, writes a row, says READY, then waits to be killed. */
    public static final class KilledOwnerMain {
        public static void main(String[] args) throws Exception {
            EmbeddedPostgres pg = EmbeddedPostgres.start(Path.of(args[0]), Integer.parseInt(args[1]));
            execute(pg, "CREATE TABLE probe (id int PRIMARY KEY, note text)");
            execute(pg, "INSERT INTO probe VALUES (7, 'from the killed owner')");
            System.out.println("READY");
            System.out.flush();
            Thread.sleep(TimeUnit.SECONDS.toMillis(60)); // never closed; the parent SIGKILLs us first
            System.exit(3);
        }
    }

    private static Process startOwnerJvm(Path dir, int port) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                KilledOwnerMain.class.getName(), dir.toString(), Integer.toString(port))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }

    private static void awaitReady(Process owner) throws Exception {
        CompletableFuture<Boolean> ready = CompletableFuture.supplyAsync(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(owner.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.equals("READY")) {
                        return true;
                    }
                }
                return false;
            } catch (IOException e) {
                return false;
            }
        });
        assertTrue(ready.get(45, TimeUnit.SECONDS), "owner JVM started PostgreSQL");
    }

    /** Alive and not a zombie (PID 1 here reaps orphans only every second or two). */
    private static boolean isRunning(long pid) throws IOException {
        try {
            String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return s.charAt(s.lastIndexOf(')') + 2) != 'Z';
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Connection connect(EmbeddedPostgres pg) throws SQLException {
        return DriverManager.getConnection(pg.jdbcUrl(), pg.username(), pg.password());
    }

    private static void execute(EmbeddedPostgres pg, String sql) throws SQLException {
        try (Connection c = connect(pg); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static String queryString(EmbeddedPostgres pg, String sql) throws SQLException {
        try (Connection c = connect(pg); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertTrue(rs.next(), "a row from: " + sql);
            return rs.getString(1);
        }
    }
}
