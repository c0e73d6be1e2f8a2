package dev.tether.auth;

import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.security.auth.x500.X500Principal;

/** Names read from a certificate's subject. Pure. */
public final class SubjectNames {

    private SubjectNames() {
    }

    /**
     * The subject's Common Name (CN): the most specific one when the subject has several, empty when it has none or
     * when it is empty.
     */
    public static Optional<String> commonName(X500Principal subject) {
        try {
            List<Rdn> rdns = new LdapName(subject.getName(X500Principal.RFC2253)).getRdns(); // least specific first
            for (int i = rdns.size() - 1; i >= 0; i--) {
                Rdn rdn = rdns.get(i);
                if (rdn.getType().equalsIgnoreCase("CN") && rdn.getValue() instanceof String cn && !cn.isEmpty()) {
                    return Optional.of(cn);
                }
            }
            return Optional.empty();
        } catch (InvalidNameException e) {
            return Optional.empty();
        }
    }
}
