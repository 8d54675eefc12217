package dev.stethoscope.probes.linear;

/**
 * Outcome of one linear probe: accuracies and mean cross-entropy (without the L2 term) on the
 * probe-train and probe-test sets, the L2 coefficient used and how well the fit converged.
 *
 * @param trainAccuracy fraction of probe-train examples classified correctly
 * @param testAccuracy  fraction of probe-test examples classified correctly
 * @param trainLoss     mean cross-entropy on probe-train (nats)
 * @param testLoss      mean cross-entropy on probe-test (nats)
 * @param features      feature dimension d the probe saw
 * @param classes       number of classes
 * @param iterations    full-batch optimisation steps of the final fit
 * @param l2            the L2 coefficient of the final fit (chosen on a held-out split, or fixed)
 * @param gradientNorm  Euclidean norm of the objective's gradient after the final fit (0 at the
 *                      optimum; a converged probe has a small value)
 * @param l2Grid        the L2 values the choice was made from (largest first), or null for a fixed L2
 * @param heldOutLoss   held-out cross-entropy of each {@code l2Grid} value, or null
 */
public record ProbeResult(double trainAccuracy, double testAccuracy, double trainLoss, double testLoss,
                          int features, int classes, int iterations, double l2, double gradientNorm,
                          double[] l2Grid, double[] heldOutLoss) {
}
