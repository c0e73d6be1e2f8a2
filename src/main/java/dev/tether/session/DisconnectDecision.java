package dev.tether.session;

/**
 * The session layer's answer to a client's DISCONNECT.
 *
 * @param protocolError  the DISCONNECT was invalid: answer DISCONNECT 0x82 and treat it as a drop
 * @param expiry         the Session Expiry Interval from now on
 * @param publishWill    the will stays and is published (after its delay); false deletes it [MQTT-3.14.4-3]
 */
public record DisconnectDecision(boolean protocolError, ExpiryInterval expiry, boolean publishWill) {
}
