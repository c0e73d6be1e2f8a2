package dev.tether.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Certificates for TLS tests, written as PEM files into {@link #DIR} before Quarkus starts, and the configuration that
 * points the TLS registry's default configuration at them (used by the MQTT over TLS port and by HTTPS). Files, each {@code <name>.pem} with {@code <name>-key.pem}:
 * {@code ca} (trusted: signs the server and client certificates), {@code server}, {@code alice} (CN=alice),
 * {@code disabled} (CN={@value #DISABLED_USER}), {@code other-ca} (trusted by nobody) and {@code forged-alice}
 * (CN=alice, signed by {@code other-ca}).
 */
public class TlsResource implements QuarkusTestResourceLifecycleManager {

    /** Per test JVM: surefire may run several side by side. */
    public static final Path DIR = Path.of("target", "test-tls", String.valueOf(ProcessHandle.current().pid()))
            .toAbsolutePath();
    /** CN of the {@code disabled} certificate; the tests give it a disabled {@code mqtt_users} row. */
    public static final String DISABLED_USER = "tls-disabled";

    @Override
    public Map<String, String> start() {
        try {
            TestCertificates.Issued ca = TestCertificates.ca("Tether Test CA");
            ca.write(DIR, "ca");
            TestCertificates.server(ca).write(DIR, "server");
            TestCertificates.client(ca, "alice").write(DIR, "alice");
            TestCertificates.client(ca, DISABLED_USER).write(DIR, "disabled");
            TestCertificates.Issued other = TestCertificates.ca("Other CA");
            other.write(DIR, "other-ca");
            TestCertificates.client(other, "alice").write(DIR, "forged-alice");
        } catch (IOException e) {
            throw new IllegalStateException("test certificates not written", e);
        }
        return Map.of(
                "quarkus.tls.key-store.pem.0.cert", file("server.pem"),
                "quarkus.tls.key-store.pem.0.key", file("server-key.pem"),
                "quarkus.tls.trust-store.pem.certs", file("ca.pem"),
                "tether.mqtt.tls-port", "0",
                "quarkus.http.test-ssl-port", "0");
    }

    /** A file of {@link #DIR}. */
    public static Path path(String name) {
        return DIR.resolve(name);
    }

    private static String file(String name) {
        return path(name).toString();
    }

    @Override
    public void stop() {
    }
}
