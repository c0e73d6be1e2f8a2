package dev.tether.auth;

/**
 * What a CONNECT presents: its source address, whether the listener it came through counts as loopback, and the
 * User Name and Password (each null when absent).
 */
public record Credentials(String address, boolean loopback, String username, byte[] password) {

    public Credentials {
        password = password == null ? null : password.clone();
    }

    @Override
    public byte[] password() {
        return password == null ? null : password.clone();
    }
}
