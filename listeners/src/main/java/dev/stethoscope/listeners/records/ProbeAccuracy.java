package dev.stethoscope.listeners.records;

import java.util.List;

/**
 * Linear-probe results of every monitored layer at one epoch (METHODS.md section 2); record type
 * {@value #TYPE_ID}: per layer, the accuracy and mean cross-entropy of a softmax probe trained on
 * the layer's frozen activations of the probe-train set, on probe-train and on probe-test.
 *
 * @param snapshotEpoch number of completed epochs whose parameters were probed (1 after the first)
 * @param isFinal       whether this evaluates the parameters at the end of training
 * @param featureMode   "FLATTEN" or "GLOBAL_AVERAGE_POOL"
 * @param trainExamples probe-train size
 * @param testExamples  probe-test size
 * @param layers        layer names
 * @param features      the probe's input dimension per layer
 * @param trainAccuracy per layer
 * @param testAccuracy  per layer
 * @param trainLoss     per layer
 * @param testLoss      per layer
 * @param l2            per layer, the probe's L2 coefficient (chosen on a held-out split of
 *                      probe-train, or fixed); may be empty
 * @param gradientNorm  per layer, the norm of the probe objective's gradient after training (its
 *                      convergence; 0 at the optimum); may be empty
 */
public record ProbeAccuracy(int snapshotEpoch, boolean isFinal, String featureMode, int trainExamples,
                            int testExamples, List<String> layers, int[] features, double[] trainAccuracy,
                            double[] testAccuracy, double[] trainLoss, double[] testLoss, double[] l2,
                            double[] gradientNorm) {
    public static final String TYPE_ID = "Stethoscope.Probe";

    /** Checks the per-layer arrays (l2 and gradientNorm may be empty; null becomes empty). */
    public ProbeAccuracy {
        if (layers == null) {
            throw new IllegalArgumentException("layers must not be null");
        }
        layers = List.copyOf(layers);
        int n = layers.size();
        if (features == null || features.length != n) {
            throw new IllegalArgumentException("features must have " + n + " entries");
        }
        for (double[] a : new double[][]{trainAccuracy, testAccuracy, trainLoss, testLoss}) {
            if (a == null || a.length != n) {
                throw new IllegalArgumentException("Every per-layer array must have " + n + " entries");
            }
        }
        l2 = l2 == null ? new double[0] : l2;
        gradientNorm = gradientNorm == null ? new double[0] : gradientNorm;
        if ((l2.length != 0 && l2.length != n) || (gradientNorm.length != 0 && gradientNorm.length != n)) {
            throw new IllegalArgumentException("l2 and gradientNorm must be empty or have " + n + " entries");
        }
    }
}
