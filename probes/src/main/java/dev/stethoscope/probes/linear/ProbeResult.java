package dev.stethoscope.probes.linear;

/**
 * Outcome of one linear probe: accuracies and mean cross-entropy (without the L2 term) on the
 * probe-train and probe-test sets.
 *
 * @param trainAccuracy fraction of probe-train examples classified correctly
 * @param testAccuracy  fraction of probe-test examples classified correctly
 * @param trainLoss     mean cross-entropy on probe-train (nats)
 * @param testLoss      mean cross-entropy on probe-test (nats)
 * @param features      feature dimension d the probe saw
 * @param classes       number of classes
 * @param iterations    full-batch optimisation steps taken
 */
public record ProbeResult(double trainAccuracy, double testAccuracy, double trainLoss, double testLoss,
                          int features, int classes, int iterations) {
}
