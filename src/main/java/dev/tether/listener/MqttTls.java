package dev.tether.listener;

import dev.tether.config.AuthConfig;
import dev.tether.config.MqttConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.tls.CertificateUpdatedEvent;
import io.quarkus.tls.TlsConfiguration;
import io.quarkus.tls.TlsConfigurationRegistry;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SSLOptions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * MQTT over TLS: the listener's options from the Quarkus TLS registry's default configuration, or the one named
 * {@code tether.mqtt.tls-configuration-name} (PEM certificate and key, trusted CAs for client certificates), the
 * certificate reloaded into the bound server when the registry reloads it ({@code quarkus.tls.<name>.reload-period}),
 * and failed handshakes counted. Without a certificate there is no TLS listener.
 */
@ApplicationScoped
public class MqttTls {

    private static final Logger LOG = Logger.getLogger(MqttTls.class);
    /** The name the registry gives its default configuration in {@link CertificateUpdatedEvent}. */
    private static final String DEFAULT_NAME = "<default>";

    private final TlsConfigurationRegistry registry;
    private final MqttConfig config;
    private final AuthConfig auth;
    private final Optional<String> httpTlsName;
    private final Counter handshakeFailures;
    private volatile NetServer server;

    public MqttTls(TlsConfigurationRegistry registry, MqttConfig config, AuthConfig auth, MeterRegistry meters,
                   @ConfigProperty(name = "quarkus.http.tls-configuration-name") Optional<String> httpTlsName) {
        this.registry = registry;
        this.config = config;
        this.auth = auth;
        this.httpTlsName = httpTlsName;
        this.handshakeFailures = Counter.builder("tether.mqtt.tls.handshake.failures")
                .description("TLS handshakes on the MQTT over TLS port that failed (untrusted or missing client "
                        + "certificate, no common protocol or cipher, a client that does not trust the server, ...)")
                .register(meters);
    }

    /**
     * The TLS listener's options: bound to {@code tether.mqtt.host} on {@code tether.mqtt.tls-port}; empty when the
     * TLS configuration holds no certificate (the default one) or does not exist (a named one). A configuration that
     * cannot serve (a named one without certificate; client certificates asked for without a trust store, or with
     * trust-all) fails the start.
     */
    Optional<NetServerOptions> serverOptions() {
        failIfHttpsTrustsAll();
        Optional<String> named = config.tlsConfigurationName();
        Optional<TlsConfiguration> found = named.isPresent() ? registry.get(named.get()) : registry.getDefault();
        if (found.isEmpty() || (named.isEmpty() && found.get().getKeyStoreOptions() == null)) {
            return Optional.empty();
        }
        TlsConfiguration tls = found.get();
        String prefix = "quarkus.tls." + named.map(n -> n + ".").orElse("");
        if (tls.getKeyStoreOptions() == null) {
            throw new IllegalStateException("TLS configuration '" + named.get() + "' has no certificate: set "
                    + prefix + "key-store.pem.0.cert and .key");
        }
        if (config.tlsClientAuth() != MqttConfig.TlsClientAuth.NONE) {
            if (tls.getTrustStoreOptions() == null) {
                throw new IllegalStateException("tether.mqtt.tls-client-auth=" + config.tlsClientAuth()
                        + " needs the CAs that sign client certificates: set " + prefix + "trust-store.pem.certs");
            }
            if (tls.isTrustAll()) {
                throw new IllegalStateException("tether.mqtt.tls-client-auth with " + prefix
                        + "trust-all=true would accept any client certificate");
            }
        }
        SSLOptions ssl = sslOptions(tls);
        NetServerOptions options = new NetServerOptions()
                .setHost(config.host())
                .setPort(config.tlsPort())
                .setSsl(true)
                .setSni(tls.usesSni())
                .setClientAuth(clientAuth())
                .setEnabledSecureTransportProtocols(ssl.getEnabledSecureTransportProtocols())
                .setSslHandshakeTimeout(ssl.getSslHandshakeTimeout())
                .setSslHandshakeTimeoutUnit(ssl.getSslHandshakeTimeoutUnit());
        options.setKeyCertOptions(ssl.getKeyCertOptions());
        options.setTrustOptions(ssl.getTrustOptions());
        ssl.getEnabledCipherSuites().forEach(options::addEnabledCipherSuite);
        ssl.getCrlValues().forEach(options::addCrlValue);
        return Optional.of(options);
    }

    /** The TLS listener is bound: later certificate reloads go to {@code bound}; called on the main thread. */
    void serving(NetServer bound) {
        this.server = bound;
    }

    /** Counts a handshake that failed (the server's exception handler: nothing reached the MQTT codec). */
    void handshakeFailed(Throwable cause) {
        handshakeFailures.increment();
        LOG.debugf("MQTT over TLS handshake failed: %s", cause.toString());
    }

    /** Handshakes failed since start. */
    public double handshakeFailures() {
        return handshakeFailures.count();
    }

    /** What the start-up log says about client certificates. */
    String describe() {
        String certificates = switch (config.tlsClientAuth()) {
            case NONE -> "no client certificates";
            case REQUEST -> "client certificates requested";
            case REQUIRED -> "client certificates required";
        };
        if (config.tlsClientAuth() != MqttConfig.TlsClientAuth.NONE && auth.certificateAsUsername()) {
            certificates += ", the certificate's CN is the username";
        }
        return config.tlsConfigurationName().map(n -> "TLS configuration '" + n + "'")
                .orElse("the default TLS configuration") + ", " + certificates;
    }

    /**
     * The registry reloaded certificates ({@code quarkus.tls.<name>.reload-period}, or a programmatic reload): new
     * handshakes on the bound server use them; established connections keep theirs. Runs on a worker thread.
     */
    void onCertificateUpdated(@Observes CertificateUpdatedEvent event) {
        NetServer bound = server;
        if (bound == null || !event.name().equals(config.tlsConfigurationName().orElse(DEFAULT_NAME))) {
            return;
        }
        // Vert.x applies options that differ from those in use only (the registry reloads every period, changed or
        // not). A client connecting during the swap of a changed certificate may fail its handshake (Vert.x 4.5).
        bound.updateSSLOptions(sslOptions(event.tlsConfiguration()))
                .onSuccess(applied -> {
                    if (applied) {
                        LOG.infof("MQTT over TLS: new certificates of %s in use", event.name());
                    }
                })
                .onFailure(f -> LOG.warnf("MQTT over TLS: reloaded certificates of '%s' not applied: %s",
                        event.name(), f.toString()));
    }

    /** MQTT names no ALPN protocol: ALPN is off, whatever the configuration says (it is on by default for HTTP/2). */
    private static SSLOptions sslOptions(TlsConfiguration tls) {
        return new SSLOptions(tls.getSSLOptions()).setUseAlpn(false);
    }

    private ClientAuth clientAuth() {
        return switch (config.tlsClientAuth()) {
            case NONE -> ClientAuth.NONE;
            case REQUEST -> ClientAuth.REQUEST;
            case REQUIRED -> ClientAuth.REQUIRED;
        };
    }

    /**
     * With {@code tether.auth.certificate-as-username}, a WebSocket client's certificate names its user too: an HTTPS
     * configuration that trusts every certificate would let anyone name any user.
     */
    private void failIfHttpsTrustsAll() {
        if (!auth.certificateAsUsername()) {
            return;
        }
        Optional<TlsConfiguration> https = httpTlsName.isPresent() ? registry.get(httpTlsName.get())
                : registry.getDefault();
        if (https.isPresent() && https.get().isTrustAll()) {
            throw new IllegalStateException("tether.auth.certificate-as-username=true with an HTTPS TLS configuration "
                    + "that trusts all certificates would let any client name any user");
        }
    }
}
