package dev.tether.listener;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;

/** The client certificate of a TLS connection, as the handshake verified it against the trust store. */
final class ClientCertificates {

    private ClientCertificates() {
    }

    /** The subject of the client's certificate; empty without TLS or when the client presented none. */
    static Optional<X500Principal> subject(SSLSession session) {
        if (session == null) {
            return Optional.empty();
        }
        try {
            Certificate[] chain = session.getPeerCertificates(); // the client's own certificate first
            if (chain.length > 0 && chain[0] instanceof X509Certificate x509) {
                return Optional.of(x509.getSubjectX500Principal());
            }
            return Optional.empty();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty(); // tls-client-auth=request and no certificate presented
        }
    }
}
