package dev.tether.listener;

import static dev.tether.testing.MqttPackets.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.testing.MqttPackets;
import dev.tether.testing.MqttProperties;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.RawMqttClient;
import dev.tether.testing.ReceivedPacket;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * What an MQTT 5.0 CONNACK tells the client about the server (§3.2.2.3), read off the wire with default
 * configuration: limits (Receive Maximum, Maximum Packet Size, Topic Alias Maximum), feature flags, Assigned Client
 * Identifier, Response Information, and the Reason String of a refusal.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class Mqtt5CapabilitiesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Inject
    MqttListener listener;

    private MqttProperties connackProperties(MqttPackets.ConnectBuilder connect) throws Exception {
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(connect.build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            return connack.connackProperties();
        }
    }

    @Test
    void connect_whenMqtt5Accepted_thenConnackAdvertisesLimitsAndFeatures() throws Exception {
        // §3.2.2.3.3 Receive Maximum (tether.mqtt.receive-maximum, 128), §3.2.2.3.6 Maximum Packet Size (1048576),
        // §3.2.2.3.8 Topic Alias Maximum (16), [MQTT-3.2.2-9] [MQTT-3.2.2-10] no Maximum QoS: QoS 2 supported,
        // §3.2.2.3.5 Retain Available 1, §3.2.2.3.11 Wildcard Subscription Available 1,
        // §3.2.2.3.12 Subscription Identifiers Available 1, §3.2.2.3.13 Shared Subscription Available present
        MqttProperties p = connackProperties(connect(MQTT_5, TestClients.uniqueId("cap")));
        assertThat(p.number(RECEIVE_MAXIMUM)).contains(128L);
        assertThat(p.number(MAXIMUM_PACKET_SIZE)).contains(1_048_576L);
        assertThat(p.number(TOPIC_ALIAS_MAXIMUM)).contains(16L);
        assertThat(p.has(MAXIMUM_QOS)).isFalse();
        assertThat(p.number(RETAIN_AVAILABLE)).contains(1L);
        assertThat(p.number(WILDCARD_SUBSCRIPTION_AVAILABLE)).contains(1L);
        assertThat(p.number(SUBSCRIPTION_IDENTIFIER_AVAILABLE)).contains(1L);
        assertThat(p.number(SHARED_SUBSCRIPTION_AVAILABLE)).hasValueSatisfying(v -> assertThat(v).isBetween(0L, 1L));
        // each property at most once (§3.2.2.3: "It is a Protocol Error to include ... more than once")
        for (int id : new int[]{RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, TOPIC_ALIAS_MAXIMUM, RETAIN_AVAILABLE,
                WILDCARD_SUBSCRIPTION_AVAILABLE, SUBSCRIPTION_IDENTIFIER_AVAILABLE, SHARED_SUBSCRIPTION_AVAILABLE}) {
            assertThat(p.count(id)).as("property 0x%02X", id).isEqualTo(1);
        }
        // the client's own id and no max-keep-alive configured: nothing assigned, no Server Keep Alive
        assertThat(p.has(ASSIGNED_CLIENT_IDENTIFIER)).isFalse();
        assertThat(p.has(SERVER_KEEP_ALIVE)).isFalse();
        assertThat(p.has(RESPONSE_INFORMATION)).isFalse();
    }

    @Test
    void connect_whenClientIdEmpty_thenAssignedClientIdentifierInConnack() throws Exception {
        // [MQTT-3.1.3-6] the server assigns a unique Client Identifier; [MQTT-3.2.2-16] it returns it in the
        // Assigned Client Identifier property (§3.2.2.3.7)
        MqttProperties first = connackProperties(connect(MQTT_5, ""));
        MqttProperties second = connackProperties(connect(MQTT_5, ""));
        assertThat(first.string(ASSIGNED_CLIENT_IDENTIFIER)).hasValueSatisfying(id -> assertThat(id).isNotBlank());
        assertThat(second.string(ASSIGNED_CLIENT_IDENTIFIER)).isNotEqualTo(first.string(ASSIGNED_CLIENT_IDENTIFIER));
    }

    @Test
    void connect_whenRequestResponseInformation1_thenResponseInformationInConnack() throws Exception {
        // §3.1.2.11.7 Request Response Information 1: the server MAY return Response Information (§3.2.2.3.15);
        // Tether does, as a UTF-8 string
        MqttProperties p = connackProperties(connect(MQTT_5, TestClients.uniqueId("cap-rri"))
                .extraProperties(property(REQUEST_RESPONSE_INFORMATION, 1)));
        assertThat(p.string(RESPONSE_INFORMATION)).hasValueSatisfying(s -> assertThat(s).isNotBlank());
    }

    @Test
    void connect_whenRequestResponseInformation0_thenNoResponseInformation() throws Exception {
        // [MQTT-3.1.2-28] Request Response Information 0: the server MUST NOT return Response Information
        MqttProperties p = connackProperties(connect(MQTT_5, TestClients.uniqueId("cap-rri0"))
                .extraProperties(property(REQUEST_RESPONSE_INFORMATION, 0)));
        assertThat(p.has(RESPONSE_INFORMATION)).isFalse();
    }

    @Test
    void connect_whenRefusedForAuthenticationMethod_thenConnackCarriesReasonString() throws Exception {
        // §3.2.2.3.9 Reason String on a refused CONNACK (0x8C Bad authentication method, §4.12);
        // [MQTT-3.2.2-7] then the connection is closed
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(connect(MQTT_5, TestClients.uniqueId("cap-auth"))
                    .extraProperties(property(AUTHENTICATION_METHOD, "SCRAM-SHA-1")).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isEqualTo(0x8C);
            assertThat(connack.connackProperties().string(REASON_STRING))
                    .hasValueSatisfying(s -> assertThat(s).isNotBlank());
            // a refusal advertises no capabilities and assigns nothing
            assertThat(connack.connackProperties().has(ASSIGNED_CLIENT_IDENTIFIER)).isFalse();
            assertThat(raw.awaitClosed(TIMEOUT)).isTrue();
        }
    }

    @Test
    void connect_whenMqtt311_thenConnackHasNoProperties() throws Exception {
        // MQTT 3.1.1 §3.2: CONNACK is exactly 2 bytes (flags, return code): no MQTT 5 properties leak into it
        try (RawMqttClient raw = RawMqttClient.connect("127.0.0.1", listener.port())) {
            raw.send(connect(MQTT_3_1_1, TestClients.uniqueId("cap-311")).build());
            ReceivedPacket connack = raw.receive(TIMEOUT);
            assertThat(connack.connackReasonCode()).isZero();
            assertThat(connack.body()).hasSize(2);
        }
    }
}
