package dev.tether.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The instance id of this broker process, kept in a state directory so that the next process on
 * that directory knows which {@code broker_instances} row was its previous life.
 *
 * <p>The directory holds two files: {@code instance.lock}, locked with an OS file lock for as long
 * as the process holds the identity (the OS drops the lock when the process dies, SIGKILL
 * included), and {@code instance-id}, the id of the latest process that held the lock. Claiming
 * reads the previous id only under the lock: a process whose lock is held by another live process
 * gets a fresh id and no previous life, so it never settles a live broker's sessions. Any failure
 * (a read-only or missing directory) gives a fresh id too: recovery then falls back to the instance
 * timeout.
 *
 * <p>Plain JDK; claimed on the start-up thread.
 */
public final class InstanceIdentity implements AutoCloseable {

    static final String LOCK_FILE = "instance.lock";
    static final String ID_FILE = "instance-id";

    private static final Logger LOG = Logger.getLogger(InstanceIdentity.class);
    /**
     * Lock files this JVM holds. A second channel on a locked file in the same JVM must not be
     * opened and closed: on Linux closing it drops the lock the first channel holds.
     */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final UUID id;
    private final Optional<UUID> previousLife;
    private final Path lockPath;
    private final FileChannel channel;

    private InstanceIdentity(UUID id, Optional<UUID> previousLife, Path lockPath, FileChannel channel) {
        this.id = id;
        this.previousLife = previousLife;
        this.lockPath = lockPath;
        this.channel = channel;
    }

    /** A fresh id for this process, with the previous process's id when the directory was free. */
    public static InstanceIdentity claim(Path stateDir) {
        UUID id = UUID.randomUUID();
        Path dir = stateDir.toAbsolutePath().normalize();
        Path lockPath = dir.resolve(LOCK_FILE);
        if (!HELD.add(lockPath)) {
            LOG.infof("%s is held by this JVM: instance %s starts with no previous life", lockPath, id);
            return unclaimed(id);
        }
        FileChannel channel = null;
        try {
            Files.createDirectories(dir);
            channel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                LOG.infof("%s is held by another running broker: instance %s starts with no previous life",
                        lockPath, id);
                channel.close();
                HELD.remove(lockPath);
                return unclaimed(id);
            }
            Optional<UUID> previous = readId(dir.resolve(ID_FILE));
            writeId(dir, id);
            return new InstanceIdentity(id, previous, lockPath, channel);
        } catch (IOException | RuntimeException e) {
            LOG.warnf("instance state directory %s unusable (%s): instance %s starts with no previous life; "
                    + "sessions of a crashed predecessor are released after the instance timeout", dir, e, id);
            closeQuietly(channel);
            HELD.remove(lockPath);
            return unclaimed(id);
        }
    }

    public UUID id() {
        return id;
    }

    /** The id of the process that held the state directory before this one, if any. */
    public Optional<UUID> previousLife() {
        return previousLife;
    }

    /** Releases the lock (the OS releases it anyway when the process ends). */
    @Override
    public void close() {
        if (channel != null) {
            closeQuietly(channel);
            HELD.remove(lockPath);
        }
    }

    private static InstanceIdentity unclaimed(UUID id) {
        return new InstanceIdentity(id, Optional.empty(), null, null);
    }

    private static Optional<UUID> readId(Path file) throws IOException {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String text = Files.readString(file, StandardCharsets.UTF_8).strip();
        try {
            return Optional.of(UUID.fromString(text));
        } catch (IllegalArgumentException e) {
            LOG.warnf("%s holds no instance id (%s): no previous life to settle", file, text);
            return Optional.empty();
        }
    }

    /** Replaces {@code instance-id} atomically: a crash leaves the old id or the new one, never half of one. */
    private static void writeId(Path dir, UUID id) throws IOException {
        Path tmp = dir.resolve(ID_FILE + ".tmp");
        Files.writeString(tmp, id + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, dir.resolve(ID_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) {
            return;
        }
        try {
            channel.close(); // releases the lock
        } catch (IOException e) {
            LOG.debugf("closing %s: %s", LOCK_FILE, e);
        }
    }
}
