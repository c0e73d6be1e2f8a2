package dev.tether.auth;

import dev.tether.auth.scram.ClientFirstMessage;
import dev.tether.auth.scram.ScramExchange;
import dev.tether.config.AuthConfig;
import dev.tether.config.StoreConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Decides a CONNECT's credentials: anonymous by the configured rule; a User Name against its {@code mqtt_users} row
 * (read at every CONNECT) and bcrypt, behind the per-address {@link FailureThrottle}; and the steps of a
 * SCRAM-SHA-256 login ({@link #beginScram}, {@link #finishScram}) behind the same throttle. The returned {@link Uni}
 * completes off the event loop; the caller hops back to its connection's context.
 */
@ApplicationScoped
public class Authenticator {

    private static final Logger LOG = Logger.getLogger(Authenticator.class);
    private static final Duration FIRST_DELAY = Duration.ofMillis(250);

    private final Users users;
    private final AuthConfig config;
    private final Duration timeout;
    private final Clock clock;
    private final MeterRegistry registry;
    private final FailureThrottle throttle;
    private final PasswordVerifier verifier;
    private final Counter throttled;
    private final Counter banned;
    private final SecureRandom random = new SecureRandom();

    public Authenticator(Users users, AuthConfig config, StoreConfig store, Clock clock, MeterRegistry registry) {
        this.users = users;
        this.config = config;
        this.timeout = store.connectTimeout();
        this.clock = clock;
        this.registry = registry;
        this.throttle = new FailureThrottle(new FailureThrottle.Limits(config.failuresBeforeDelay(),
                config.failuresBeforeBan(), config.banDuration(), FIRST_DELAY, config.maxDelay(),
                config.maxTrackedAddresses()));
        this.verifier = new PasswordVerifier(config.verifierThreads(), config.verifierQueue(), config.cacheSize());
        this.throttled = registry.counter("tether.auth.throttled");
        this.banned = registry.counter("tether.auth.banned");
    }

    /** Whether an anonymous CONNECT through a listener that is ({@code loopback}) or is not bound to loopback is accepted. */
    public boolean allowsAnonymous(boolean loopback) {
        return config.allowAnonymous().orElse(loopback);
    }

    /** The rule in force, for the start-up log. */
    public String anonymousRule() {
        Optional<Boolean> set = config.allowAnonymous();
        if (set.isEmpty()) {
            return "anonymous clients accepted only on a listener bound to loopback (tether.auth.allow-anonymous unset)";
        }
        return set.get() ? "anonymous clients accepted (tether.auth.allow-anonymous=true)"
                : "anonymous clients refused (tether.auth.allow-anonymous=false)";
    }

    /** A CONNECT with neither User Name nor Password, through a listener on loopback or not: decided at once. */
    public AuthOutcome anonymous(boolean loopback) {
        if (allowsAnonymous(loopback)) {
            return AuthOutcome.ACCEPTED;
        }
        count("anonymous");
        return AuthOutcome.NOT_AUTHORIZED;
    }

    /** Checks {@code c}; never fails: PostgreSQL or the verifier not answering in time gives {@code UNAVAILABLE}. */
    public Uni<AuthOutcome> authenticate(Credentials c) {
        if (c.username() == null) {
            if (c.password() != null) {
                return Uni.createFrom().item(failed(c.address(), AuthOutcome.BAD_CREDENTIALS, "password_without_username"));
            }
            return Uni.createFrom().item(anonymous(c.loopback()));
        }
        FailureThrottle.Admission admission = throttle.admit(c.address(), clock.instant());
        if (admission.banned()) {
            banned.increment();
            count("banned");
            return Uni.createFrom().item(AuthOutcome.BAD_CREDENTIALS);
        }
        Uni<Void> wait = Uni.createFrom().voidItem();
        if (!admission.delay().isZero()) {
            throttled.increment();
            wait = wait.onItem().delayIt().by(admission.delay());
        }
        byte[] password = c.password() == null ? new byte[0] : c.password();
        return wait.chain(() -> check(c.username(), password, admission.suspect(),
                        () -> !throttle.isBanned(c.address(), clock.instant())).ifNoItem().after(timeout).fail())
                .map(outcome -> {
                    if (outcome == AuthOutcome.BAD_CREDENTIALS) {
                        throttle.failed(c.address(), clock.instant());
                        count("bad_credentials");
                    } else {
                        throttle.ended(c.address());
                        if (outcome == AuthOutcome.NOT_AUTHORIZED) {
                            count("disabled");
                        }
                    }
                    return outcome;
                })
                .onFailure().recoverWithItem(f -> {
                    LOG.warnf("credentials of %s not checked: %s", c.username(), f.toString());
                    throttle.ended(c.address());
                    count("unavailable");
                    return AuthOutcome.UNAVAILABLE;
                });
    }

    /** Whether a verified client certificate's CN is the username ({@code tether.auth.certificate-as-username}). */
    public boolean certificateAsUsername() {
        return config.certificateAsUsername();
    }

    /**
     * A client that a verified TLS certificate names {@code username}: no password is checked (the certificate
     * authenticated it), but an {@code mqtt_users} row of that name, if there is one, must be enabled. Never fails.
     */
    public Uni<CertificateLogin> authenticateCertificate(String username) {
        return users.find(username).ifNoItem().after(timeout).fail()
                .map(row -> {
                    if (row.isPresent() && !row.get().enabled()) {
                        count("disabled");
                        return new CertificateLogin(AuthOutcome.NOT_AUTHORIZED, true);
                    }
                    return new CertificateLogin(AuthOutcome.ACCEPTED, row.isPresent());
                })
                .onFailure().recoverWithItem(f -> {
                    LOG.warnf("certificate user %s not checked: %s", username, f.toString());
                    count("unavailable");
                    return new CertificateLogin(AuthOutcome.UNAVAILABLE, false);
                });
    }

    /**
     * The first step of a SCRAM-SHA-256 login (MQTT 5 enhanced authentication) from {@code address}, under the same
     * throttle as a password login: completes with the exchange to continue (its server-first-message goes to the
     * client), or with the outcome that refuses the login at once (banned address: {@code BAD_CREDENTIALS};
     * PostgreSQL not answering in time: {@code UNAVAILABLE}). An exchange returned counts as a running attempt of
     * the address until {@link #finishScram} or {@link #abandonScram}. Completes off the event loop.
     */
    public Uni<ScramStart> beginScram(String address, ClientFirstMessage first) {
        FailureThrottle.Admission admission = throttle.admit(address, clock.instant());
        if (admission.banned()) {
            banned.increment();
            count("banned");
            return Uni.createFrom().item(ScramStart.refused(AuthOutcome.BAD_CREDENTIALS));
        }
        Uni<Void> wait = Uni.createFrom().voidItem();
        if (!admission.delay().isZero()) {
            throttled.increment();
            wait = wait.onItem().delayIt().by(admission.delay());
        }
        return wait.chain(() -> users.findScram(first.username()).ifNoItem().after(timeout).fail())
                .map(lookup -> ScramStart.challenge(new ScramExchange(first, lookup, serverNonce())))
                .onFailure().recoverWithItem(f -> {
                    LOG.warnf("SCRAM credentials of %s not read: %s", first.username(), f.toString());
                    throttle.ended(address);
                    count("unavailable");
                    return ScramStart.refused(AuthOutcome.UNAVAILABLE);
                });
    }

    /** The client-final-message of {@code exchange} decides the login; counted like a password login. */
    public ScramExchange.Verdict finishScram(String address, ScramExchange exchange, byte[] clientFinal) {
        ScramExchange.Verdict verdict = exchange.finish(clientFinal);
        switch (verdict.outcome()) {
            case BAD_CREDENTIALS -> {
                throttle.failed(address, clock.instant());
                count("bad_credentials");
            }
            case NOT_AUTHORIZED -> {
                throttle.ended(address);
                count("disabled");
            }
            default -> throttle.ended(address);
        }
        return verdict;
    }

    /** An exchange from {@link #beginScram} ended without a verdict (the client left, or broke the protocol). */
    public void abandonScram(String address) {
        throttle.ended(address);
    }

    /** Where a SCRAM login goes after its first step. */
    public record ScramStart(Optional<ScramExchange> exchange, AuthOutcome refusal) {
        static ScramStart challenge(ScramExchange exchange) {
            return new ScramStart(Optional.of(exchange), null);
        }

        static ScramStart refused(AuthOutcome outcome) {
            return new ScramStart(Optional.empty(), outcome);
        }
    }

    /** 18 random bytes as base64: printable, no comma (RFC 5802 §5.1). */
    private String serverNonce() {
        byte[] bytes = new byte[18];
        random.nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** bcrypt computations so far (tests count them). */
    public long hashes() {
        return verifier.hashes();
    }

    private Uni<AuthOutcome> check(String username, byte[] password, boolean suspect, BooleanSupplier stillWanted) {
        return users.find(username).chain(row -> Uni.createFrom()
                .completionStage(verifier.verify(username, password, row.map(UserRow::passwordHash), suspect,
                        stillWanted))
                .map(ok -> !ok ? AuthOutcome.BAD_CREDENTIALS
                        : row.get().enabled() ? AuthOutcome.ACCEPTED : AuthOutcome.NOT_AUTHORIZED));
    }

    private AuthOutcome failed(String address, AuthOutcome outcome, String reason) {
        throttle.admit(address, clock.instant());
        throttle.failed(address, clock.instant());
        count(reason);
        return outcome;
    }

    private void count(String reason) {
        registry.counter("tether.auth.failures", "reason", reason).increment();
    }

    void stop(@Observes ShutdownEvent event) {
        verifier.close();
    }
}
