package dev.tether.testing;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates for TLS tests, made with BouncyCastle (EC P-256, quick to generate): a CA, and certificates it signs
 * for the server (CN=localhost, SAN localhost and 127.0.0.1) or for clients (any CN). Written as PEM, as the Quarkus
 * TLS registry and mosquitto read them, and loaded back into JDK key and trust managers for the HiveMQ client.
 */
public final class TestCertificates {

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    private TestCertificates() {
    }

    /** A certificate and its private key. */
    public record Issued(X509Certificate certificate, PrivateKey key) {

        /** Writes {@code <name>.pem} and {@code <name>-key.pem} (PKCS#8) into {@code dir}, each replaced atomically. */
        public void write(Path dir, String name) throws IOException {
            Files.createDirectories(dir);
            writeAtomically(dir.resolve(name + ".pem"), pem(certificate));
            writeAtomically(dir.resolve(name + "-key.pem"), pem(new JcaPKCS8Generator(key, null)));
        }
    }

    /** A self-signed CA. */
    public static Issued ca(String cn) {
        KeyPair keys = keyPair();
        return new Issued(sign(cn, keys, cn, keys.getPrivate(), true, false), keys.getPrivate());
    }

    /** A server certificate signed by {@code ca}, valid for {@code localhost} and {@code 127.0.0.1}. */
    public static Issued server(Issued ca) {
        KeyPair keys = keyPair();
        return new Issued(sign("localhost", keys, cn(ca), ca.key(), false, true), keys.getPrivate());
    }

    /** A client certificate with subject {@code CN=<cn>} signed by {@code ca}. */
    public static Issued client(Issued ca, String cn) {
        KeyPair keys = keyPair();
        return new Issued(sign(cn, keys, cn(ca), ca.key(), false, false), keys.getPrivate());
    }

    /** Trusts the CA certificates of a PEM file. */
    public static TrustManagerFactory trustManagers(Path caPem) throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (var in = Files.newInputStream(caPem)) {
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("ca-" + i++, c);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        return tmf;
    }

    /** Reads the certificate and key of two PEM files (as written by {@link Issued#write}). */
    public static Issued read(Path certPem, Path keyPem) throws IOException, GeneralSecurityException {
        X509Certificate cert;
        try (var in = Files.newInputStream(certPem)) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        try (Reader r = Files.newBufferedReader(keyPem); PEMParser parser = new PEMParser(r)) {
            return new Issued(cert, new JcaPEMKeyConverter().getPrivateKey((PrivateKeyInfo) parser.readObject()));
        }
    }

    /**
     * Presents {@code issued} whatever CAs the server names in its certificate request: a JDK client (and the HiveMQ
     * client) would otherwise send no certificate at all when its issuer is not among them.
     */
    public static X509KeyManager presentingAlways(Issued issued) {
        return new X509ExtendedKeyManager() {
            @Override
            public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
                return "client";
            }

            @Override
            public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
                return "client";
            }

            @Override
            public X509Certificate[] getCertificateChain(String alias) {
                return new X509Certificate[] {issued.certificate()};
            }

            @Override
            public PrivateKey getPrivateKey(String alias) {
                return issued.key();
            }

            @Override
            public String[] getClientAliases(String keyType, Principal[] issuers) {
                return new String[] {"client"};
            }

            @Override
            public String[] getServerAliases(String keyType, Principal[] issuers) {
                return new String[0];
            }

            @Override
            public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
                return null;
            }
        };
    }

    /** Presents the certificate and key of two PEM files (as written by {@link Issued#write}). */
    public static KeyManagerFactory keyManagers(Path certPem, Path keyPem) throws IOException, GeneralSecurityException {
        Issued issued = read(certPem, keyPem);
        char[] password = "test".toCharArray();
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("client", issued.key(), password, new Certificate[] {issued.certificate()});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, password);
        return kmf;
    }

    private static String cn(Issued ca) {
        return ca.certificate().getSubjectX500Principal().getName().substring("CN=".length());
    }

    private static KeyPair keyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate sign(String cn, KeyPair subject, String issuerCn, PrivateKey issuerKey,
                                        boolean ca, boolean server) {
        try {
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + issuerCn),
                    BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(Duration.ofDays(2))), new X500Name("CN=" + cn), subject.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (ca) {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            }
            if (server) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                        new GeneralName(GeneralName.dNSName, "localhost"),
                        new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
            }
            return new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (Exception e) {
            throw new IllegalStateException("certificate for " + cn + " not made", e);
        }
    }

    private static String pem(Object o) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(o);
        }
        return out.toString();
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
