package dev.tether.listener;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Whether an address (literal or name) is a loopback address. */
final class Loopback {

    private Loopback() {
    }

    static boolean is(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
