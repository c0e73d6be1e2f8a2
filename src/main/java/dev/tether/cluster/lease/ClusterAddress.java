package dev.tether.cluster.lease;

import jakarta.enterprise.context.ApplicationScoped;

/**
 * How other replicas reach this one ({@code broker_instances.advertised_host} and {@code cluster_port}), recorded
 * when the instance registers. Unset (null) until the replica link has bound its port; the link server sets both
 * before recovery runs. Set once at start-up, read afterwards; the fields are volatile so any thread sees them.
 */
@ApplicationScoped
public class ClusterAddress {

    private volatile String host;
    private volatile Integer port;

    /** The advertised host, or null when not announced. */
    public String host() {
        return host;
    }

    /** The replica link port, or null when not announced. */
    public Integer port() {
        return port;
    }

    public void setHost(String host) {
        this.host = host;
    }

    public void setPort(Integer port) {
        if (port != null && (port < 1 || port > 65535)) {
            throw new IllegalArgumentException("cluster port out of range: " + port);
        }
        this.port = port;
    }
}
