package dev.tether.listener;

import dev.tether.auth.AuthOutcome;
import dev.tether.auth.Authenticator;
import dev.tether.auth.scram.ClientFirstMessage;
import dev.tether.auth.scram.ScramExchange;
import dev.tether.auth.scram.ScramSha256;
import dev.tether.protocol.ConnectReasonCode;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttProperties.MqttPropertyType;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * MQTT 5 enhanced authentication (§4.12) of one connection, with the one method Tether offers, SCRAM-SHA-256:
 * CONNECT carries the client-first-message, AUTH 0x18 answers the server-first-message, the client's AUTH 0x18
 * carries the client-final-message, and CONNACK 0x00 carries the server-final-message (the server's signature).
 * While the exchange runs, the client may send only AUTH or DISCONNECT [MQTT-3.1.2-30]: anything else, an AUTH out
 * of turn or without the method is refused with CONNACK 0x82, an AUTH with another method with 0x8C. The
 * connection's connect timeout bounds the whole exchange. Re-authentication (AUTH 0x19 after CONNACK) is not
 * offered: {@link MqttConnection} answers it with DISCONNECT 0x8C. Owned by the connection's event loop.
 */
final class EnhancedAuthentication {

    /** Authenticate Reason Code 0x18, Continue authentication (§3.15.2.1). */
    private static final byte CONTINUE_AUTHENTICATION = 0x18;

    private enum State { NONE, LOOKING_UP, AWAITING_CLIENT_FINAL, DECIDED }

    private final MqttConnection connection;
    private final Consumer<ConnectReasonCode> refuse;
    private State state = State.NONE;
    private ClientFirstMessage first;
    private ScramExchange exchange;
    private Consumer<AuthOutcome> onOutcome;
    private byte[] serverFinal;

    EnhancedAuthentication(MqttConnection connection, Consumer<ConnectReasonCode> refuse) {
        this.connection = connection;
        this.refuse = refuse;
    }

    /**
     * Reads the CONNECT's Authentication Method and Data (MQTT 5; {@code props} empty for 3.1.1): the reason to
     * refuse the CONNECT, or empty when it goes on, with SCRAM ({@link #inUse}) or without. With SCRAM, the user is
     * the client-first-message's; a CONNECT that also carries a User Name must name the same one, and a Password is
     * refused (0x86), as is a missing or malformed client-first-message.
     */
    Optional<ConnectReasonCode> onConnect(MqttProperties props, String connectUsername, boolean hasPassword) {
        Optional<String> method = NettyPackets.string(props, MqttPropertyType.AUTHENTICATION_METHOD);
        byte[] data = binary(props);
        if (method.isEmpty()) {
            // Authentication Data without Authentication Method is a Protocol Error (§3.1.2.11.10).
            return data == null ? Optional.empty() : Optional.of(ConnectReasonCode.PROTOCOL_ERROR);
        }
        if (!ScramSha256.MECHANISM.equals(method.get())) {
            return Optional.of(ConnectReasonCode.BAD_AUTHENTICATION_METHOD);
        }
        Optional<ClientFirstMessage> parsed = data == null ? Optional.empty() : ClientFirstMessage.parse(data);
        if (parsed.isEmpty() || hasPassword
                || (connectUsername != null && !connectUsername.equals(parsed.get().username()))) {
            return Optional.of(ConnectReasonCode.BAD_USER_NAME_OR_PASSWORD);
        }
        first = parsed.get();
        return Optional.empty();
    }

    /** The CONNECT asked for SCRAM-SHA-256. */
    boolean inUse() {
        return first != null;
    }

    /** The user of the SCRAM login ({@link #inUse} only). */
    String username() {
        return first.username();
    }

    /** Between CONNECT and the verdict: the packets the client sends come here. */
    boolean isRunning() {
        return state == State.LOOKING_UP || state == State.AWAITING_CLIENT_FINAL;
    }

    /** Starts the exchange; {@code onOutcome} gets its outcome, on the event loop, unless it broke off. */
    void begin(Consumer<AuthOutcome> onOutcome) {
        this.onOutcome = onOutcome;
        state = State.LOOKING_UP;
        Authenticator auth = connection.services().auth();
        connection.onContext(auth.beginScram(connection.transport().remoteHost(), first), start -> {
            if (start.exchange().isEmpty()) {
                decide(start.refusal());
                return;
            }
            if (state != State.LOOKING_UP || connection.isClosed()) {
                auth.abandonScram(connection.transport().remoteHost()); // the client left or broke the protocol
                return;
            }
            exchange = start.exchange().get();
            state = State.AWAITING_CLIENT_FINAL;
            connection.write(auth(CONTINUE_AUTHENTICATION, exchange.serverFirst()));
        }, f -> decide(AuthOutcome.UNAVAILABLE));
    }

    /** A packet from the client while {@link #isRunning}. */
    void onPacket(MqttMessage m) {
        MqttMessageType type = m.fixedHeader().messageType();
        if (type == MqttMessageType.DISCONNECT) {
            breakOff();
            connection.transport().close();
            return;
        }
        if (type != MqttMessageType.AUTH
                || !(m.variableHeader() instanceof MqttReasonCodeAndPropertiesVariableHeader h)) {
            breakOff(ConnectReasonCode.PROTOCOL_ERROR); // [MQTT-3.1.2-30] only AUTH or DISCONNECT before CONNACK
            return;
        }
        Optional<String> method = NettyPackets.string(h.properties(), MqttPropertyType.AUTHENTICATION_METHOD);
        if (method.isPresent() && !method.get().equals(ScramSha256.MECHANISM)) {
            breakOff(ConnectReasonCode.BAD_AUTHENTICATION_METHOD); // [MQTT-4.12.0-5] the CONNECT's method only
            return;
        }
        if (method.isEmpty() || h.reasonCode() != CONTINUE_AUTHENTICATION || state != State.AWAITING_CLIENT_FINAL) {
            breakOff(ConnectReasonCode.PROTOCOL_ERROR); // no method, or out of turn
            return;
        }
        byte[] data = binary(h.properties());
        ScramExchange.Verdict verdict = connection.services().auth().finishScram(connection.transport().remoteHost(),
                exchange, data == null ? new byte[0] : data);
        exchange = null;
        serverFinal = verdict.serverFinal().orElse(null);
        decide(verdict.outcome());
    }

    /** Adds the server-final-message to an accepting CONNACK (§3.2.2.3.17, §3.2.2.3.18). */
    void addTo(MqttProperties connack) {
        if (serverFinal != null) {
            connack.add(new MqttProperties.StringProperty(MqttPropertyType.AUTHENTICATION_METHOD.value(),
                    ScramSha256.MECHANISM));
            connack.add(new MqttProperties.BinaryProperty(MqttPropertyType.AUTHENTICATION_DATA.value(), serverFinal));
            serverFinal = null;
        }
    }

    /** The connection closed. */
    void onClose() {
        breakOff();
    }

    private void decide(AuthOutcome outcome) {
        boolean running = isRunning();
        state = State.DECIDED;
        if (running && !connection.isClosed()) {
            onOutcome.accept(outcome);
        }
    }

    private void breakOff(ConnectReasonCode reason) {
        breakOff();
        refuse.accept(reason);
    }

    /** Ends a running exchange without a verdict: its attempt no longer counts for the address. */
    private void breakOff() {
        if (state == State.AWAITING_CLIENT_FINAL) {
            connection.services().auth().abandonScram(connection.transport().remoteHost());
        }
        exchange = null;
        if (isRunning()) {
            state = State.DECIDED;
        }
    }

    private static byte[] binary(MqttProperties props) {
        MqttProperties.MqttProperty<?> p = props == null ? null
                : props.getProperty(MqttPropertyType.AUTHENTICATION_DATA.value());
        return p == null ? null : (byte[]) p.value();
    }

    private static MqttMessage auth(byte reasonCode, byte[] data) {
        MqttProperties props = new MqttProperties();
        props.add(new MqttProperties.StringProperty(MqttPropertyType.AUTHENTICATION_METHOD.value(),
                ScramSha256.MECHANISM));
        props.add(new MqttProperties.BinaryProperty(MqttPropertyType.AUTHENTICATION_DATA.value(), data));
        return MqttMessageBuilders.auth().reasonCode(reasonCode).properties(props).build();
    }
}
