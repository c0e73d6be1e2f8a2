package dev.tether.knative;

import java.time.Duration;
import java.util.Optional;

/**
 * How a {@link KnativeSimulator} behaves: the revision's limits (Knative's {@code timeoutSeconds}, the drain on
 * scale-down, scale to zero) and the replicas it runs.
 *
 * @param maxReplicas      replica slots available to {@link KnativeSimulator#scaleTo} (Knative's max-scale)
 * @param initialReplicas  replicas started before the first test (0: the first connection cold-starts one)
 * @param revisionTimeout  every proxied connection is cut (RST, no close frame) this long after it was routed
 * @param drainTimeout     on scale-down, how long a SIGTERMed replica may take to exit and close its proxied
 *                         sockets before SIGKILL (Knative's termination grace period)
 * @param scaleToZeroAfter with no open or held connection for this long, every replica is stopped; empty: never
 * @param holdTimeout      how long the activator holds a connection while no replica is ready before it answers 503
 */
public record KnativeSettings(int maxReplicas, int initialReplicas, Duration revisionTimeout, Duration drainTimeout,
                              Optional<Duration> scaleToZeroAfter, Duration holdTimeout) {

    public KnativeSettings {
        if (maxReplicas < 1 || initialReplicas < 0 || initialReplicas > maxReplicas) {
            throw new IllegalArgumentException("replicas: initial " + initialReplicas + ", max " + maxReplicas);
        }
        if (revisionTimeout.isNegative() || revisionTimeout.isZero()) {
            throw new IllegalArgumentException("revision timeout must be positive: " + revisionTimeout);
        }
    }

    /** One replica, Knative's defaults: 300 s revision timeout, 60 s drain, no scale to zero, 60 s hold. */
    public static KnativeSettings defaults() {
        return new KnativeSettings(1, 1, Duration.ofSeconds(300), Duration.ofSeconds(60), Optional.empty(),
                Duration.ofSeconds(60));
    }

    public KnativeSettings withReplicas(int initial, int max) {
        return new KnativeSettings(max, initial, revisionTimeout, drainTimeout, scaleToZeroAfter, holdTimeout);
    }

    public KnativeSettings withRevisionTimeout(Duration timeout) {
        return new KnativeSettings(maxReplicas, initialReplicas, timeout, drainTimeout, scaleToZeroAfter, holdTimeout);
    }

    public KnativeSettings withDrainTimeout(Duration timeout) {
        return new KnativeSettings(maxReplicas, initialReplicas, revisionTimeout, timeout, scaleToZeroAfter, holdTimeout);
    }

    public KnativeSettings withScaleToZeroAfter(Duration idle) {
        return new KnativeSettings(maxReplicas, initialReplicas, revisionTimeout, drainTimeout, Optional.of(idle),
                holdTimeout);
    }
}
