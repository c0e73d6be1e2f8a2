package dev.tether.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.jboss.logging.Logger;

/**
 * Checks passwords against bcrypt hashes ({@code $2a$}, {@code $2b$}, {@code $2y$}) with BouncyCastle, on its own
 * small pool of threads with a bounded queue (never an event loop: cost 10 is ~100 ms of CPU), and checks for
 * suspect addresses (that failed recently) on one thread of their own, so that an attacker's checks never delay
 * those of clean addresses. An unknown user is
 * checked against a dummy hash of the same cost, so that the time taken does not tell which users exist.
 * Successful checks are remembered, keyed by user, a salted SHA-256 of the password and the stored hash: a
 * reconnect storm costs no bcrypt, and a changed hash no longer matches its entry.
 */
public final class PasswordVerifier implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(PasswordVerifier.class);
    private static final int DUMMY_COST = 10;

    private final ThreadPoolExecutor executor;
    private final ThreadPoolExecutor suspectExecutor;
    private final String dummyHash;
    private final byte[] cacheSalt = new byte[16];
    private final Set<String> verified;
    private final AtomicLong hashes = new AtomicLong();

    public PasswordVerifier(int threads, int queue, int cacheSize) {
        SecureRandom random = new SecureRandom();
        random.nextBytes(cacheSalt);
        byte[] salt = new byte[16];
        random.nextBytes(salt);
        this.dummyHash = OpenBSDBCrypt.generate("2b", "tether-dummy".toCharArray(), salt, DUMMY_COST);
        this.executor = executor("tether-password-", threads, queue);
        this.suspectExecutor = executor("tether-password-suspect-", 1, queue);
        this.verified = Collections.synchronizedSet(Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > cacheSize;
            }
        }));
    }

    /**
     * True when {@code storedHash} is present and {@code password} matches it. Completes on a verifier thread (or
     * at once, from the cache); fails when the queue is full.
     */
    public CompletableFuture<Boolean> verify(String username, byte[] password, Optional<String> storedHash,
                                             boolean suspect) {
        return verify(username, password, storedHash, suspect, () -> true);
    }

    /**
     * As {@link #verify(String, byte[], Optional, boolean)}, but a check that waited in the queue runs only while
     * {@code stillWanted} says so (its address was not banned meanwhile); otherwise false, without hashing.
     */
    public CompletableFuture<Boolean> verify(String username, byte[] password, Optional<String> storedHash,
                                             boolean suspect, BooleanSupplier stillWanted) {
        String key = storedHash.map(h -> cacheKey(username, password, h)).orElse(null);
        if (key != null && verified.contains(key)) {
            return CompletableFuture.completedFuture(true);
        }
        return CompletableFuture.supplyAsync(() -> {
            if (!stillWanted.getAsBoolean()) {
                return false;
            }
            boolean ok = check(storedHash.orElse(dummyHash), password) && storedHash.isPresent();
            if (ok) {
                verified.add(key);
            }
            return ok;
        }, suspect ? suspectExecutor : executor);
    }

    /** bcrypt computations run so far (the cache's hits not counted). */
    public long hashes() {
        return hashes.get();
    }

    private boolean check(String hash, byte[] password) {
        hashes.incrementAndGet();
        char[] chars = new String(password, StandardCharsets.UTF_8).toCharArray();
        try {
            return OpenBSDBCrypt.checkPassword(hash, chars); // compares in constant time
        } catch (IllegalArgumentException e) {
            LOG.warnf("an mqtt_users.password_hash is not a bcrypt hash ($2a$/$2b$/$2y$): %s", e.getMessage());
            OpenBSDBCrypt.checkPassword(dummyHash, chars); // the same time as a real check
            return false;
        } finally {
            java.util.Arrays.fill(chars, '\0');
        }
    }

    private String cacheKey(String username, byte[] password, String hash) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(cacheSalt);
            sha.update(password);
            return username + '\0' + HexFormat.of().formatHex(sha.digest()) + '\0' + hash;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
        suspectExecutor.shutdownNow();
    }

    private static ThreadPoolExecutor executor(String name, int threads, int queue) {
        AtomicInteger n = new AtomicInteger();
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queue),
                r -> {
                    Thread t = new Thread(r, name + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
    }
}
