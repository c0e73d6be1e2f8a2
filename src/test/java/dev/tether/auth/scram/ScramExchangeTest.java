package dev.tether.auth.scram;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.auth.AuthOutcome;
import dev.tether.testing.ScramClient;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** SCRAM-SHA-256 on the server side, pure: RFC 7677 §3's example, then what must not pass. */
class ScramExchangeTest {

    // RFC 7677 §3: user "user", password "pencil".
    private static final byte[] SALT = Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    private static final String CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    private static final String SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private static final String SERVER_FIRST =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private static final String CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private static final String SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    private static final byte[] MOCK_SALT = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private static ScramCredentials pencil() {
        return ScramCredentials.parse(ScramClient.storedCredentials("pencil", SALT, 4096)).orElseThrow();
    }

    private static ScramExchange exchange(Optional<ScramCredentials> credentials, boolean enabled) {
        ClientFirstMessage first = ClientFirstMessage.parse(bytes(CLIENT_FIRST)).orElseThrow();
        return new ScramExchange(first, new ScramLookup(credentials, enabled, MOCK_SALT), SERVER_NONCE);
    }

    @Test
    void finish_whenRfc7677Example_thenAcceptedWithTheRfcsServerSignature() {
        ScramExchange exchange = exchange(Optional.of(pencil()), true);
        assertThat(exchange.username()).isEqualTo("user");
        assertThat(text(exchange.serverFirst())).isEqualTo(SERVER_FIRST);
        ScramExchange.Verdict verdict = exchange.finish(bytes(CLIENT_FINAL));
        assertThat(verdict.outcome()).isEqualTo(AuthOutcome.ACCEPTED);
        assertThat(text(verdict.serverFinal().orElseThrow())).isEqualTo(SERVER_FINAL);
    }

    @Test
    void finish_whenWrongPassword_thenBadCredentials() {
        ScramExchange exchange = exchange(Optional.of(pencil()), true);
        ScramClient client = new ScramClient("user", "crayon", "rOprNGfwEbeRWgbNEkqO");
        client.clientFirst();
        ScramExchange.Verdict verdict = exchange.finish(client.clientFinal(exchange.serverFirst()));
        assertThat(verdict.outcome()).isEqualTo(AuthOutcome.BAD_CREDENTIALS);
        assertThat(verdict.serverFinal()).isEmpty();
    }

    @Test
    void finish_whenDisabledUserWithRightPassword_thenNotAuthorized() {
        assertThat(exchange(Optional.of(pencil()), false).finish(bytes(CLIENT_FINAL)).outcome())
                .isEqualTo(AuthOutcome.NOT_AUTHORIZED);
    }

    @Test
    void serverFirst_whenNoCredentials_thenMockSaltAndDefaultIterationsAndNothingPasses() {
        ScramExchange exchange = exchange(Optional.empty(), true);
        assertThat(text(exchange.serverFirst())).isEqualTo("r=rOprNGfwEbeRWgbNEkqO" + SERVER_NONCE + ",s="
                + Base64.getEncoder().encodeToString(MOCK_SALT) + ",i=4096");
        ScramClient client = new ScramClient("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        client.clientFirst();
        assertThat(exchange.finish(client.clientFinal(exchange.serverFirst())).outcome())
                .isEqualTo(AuthOutcome.BAD_CREDENTIALS);
    }

    @Test
    void finish_whenNonceOrChannelBindingOrProofAltered_thenBadCredentials() {
        String otherNonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        String otherBinding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        String noProof = CLIENT_FINAL.substring(0, CLIENT_FINAL.indexOf(",p="));
        String shortProof = noProof + ",p=AAAA";
        for (String bad : new String[] {otherNonce, otherBinding, noProof, shortProof, "", "p=,c=,r="}) {
            assertThat(exchange(Optional.of(pencil()), true).finish(bytes(bad)).outcome()).as(bad)
                    .isEqualTo(AuthOutcome.BAD_CREDENTIALS);
        }
    }

    @Test
    void finish_whenCalledTwice_thenRefused() {
        ScramExchange exchange = exchange(Optional.of(pencil()), true);
        exchange.finish(bytes(CLIENT_FINAL));
        assertThatThrownBy(() -> exchange.finish(bytes(CLIENT_FINAL))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void parseClientFirst_whenEscapedNameOrAuthzidOfTheUser_thenDecoded() {
        ClientFirstMessage m = ClientFirstMessage.parse(bytes("n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc,x=ext")).orElseThrow();
        assertThat(m.username()).isEqualTo("a,b=c");
        assertThat(m.gs2Header()).isEqualTo("n,a=a=2Cb=3Dc,");
        assertThat(m.bare()).isEqualTo("n=a=2Cb=3Dc,r=abc,x=ext");
        assertThat(ClientFirstMessage.parse(bytes("y,,n=zoë,r=abc")).orElseThrow().username()).isEqualTo("zoë");
    }

    @Test
    void parseClientFirst_whenChannelBindingOtherAuthzidBadEscapeOrMandatoryExtension_thenRefused() {
        for (String bad : new String[] {"p=tls-unique,,n=user,r=abc", "n,a=admin,n=user,r=abc", "n,,n=us=2Xer,r=abc",
                "n,,m=ext,n=user,r=abc", "n,,n=,r=abc", "n,,n=user,r=", "n,,n=user,r=a\u00e9", "n,,n=user", "x,,n=u,r=a"}) {
            assertThat(ClientFirstMessage.parse(bytes(bad))).as(bad).isEmpty();
        }
        assertThat(ClientFirstMessage.parse(new byte[] {'n', ',', ',', 'n', '=', (byte) 0xC3, ',', 'r', '=', 'a'}))
                .as("not UTF-8").isEmpty();
    }

    @Test
    void credentials_whenFormattedAndParsed_thenSameAndKeysNeverPrinted() {
        ScramCredentials c = pencil();
        assertThat(ScramCredentials.parse(c.format())).contains(c);
        assertThat(c.format()).isEqualTo("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                + "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
        assertThat(c.toString()).doesNotContain("WG5d8").doesNotContain("wfPLw");
        assertThat(ScramCredentials.parse("md5abc")).isEmpty();
        assertThat(ScramCredentials.parse("SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA")).as("short keys").isEmpty();
        assertThat(ScramCredentials.parse(null)).isEmpty();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
