package dev.stethoscope.listeners.records;

import java.util.List;

/**
 * Activation and update health of every layer at one point of training
 * (METHODS.md section 1, "health statistics"); record type {@value #TYPE_ID}.
 *
 * <p>Per layer: activation mean and standard deviation, the fraction of dead units (ReLU-family
 * layers only: a unit, or a conv channel, is dead when it is not positive for any example of the
 * batch; NaN for other activations), the L2 norm of the layer's parameters and
 * log10(||update|| / ||parameters||) (NaN for layers without parameters or when no update was
 * seen).
 *
 * @param source           where the activations came from: {@code "train-batch"} (the training
 *                         forward pass, training mode) or {@code "probe-batch"} (a fixed batch run
 *                         through a copy of the network in inference mode, at epoch end)
 * @param layers           layer names
 * @param activationMean   per layer
 * @param activationStd    per layer
 * @param deadFraction     per layer
 * @param paramNorm        per layer
 * @param updateRatioLog10 per layer
 */
public record Health(String source, List<String> layers, double[] activationMean, double[] activationStd,
                     double[] deadFraction, double[] paramNorm, double[] updateRatioLog10) {
    public static final String TYPE_ID = "Stethoscope.Health";

    /** Checks that every per-layer array has one entry per layer. */
    public Health {
        if (layers == null) {
            throw new IllegalArgumentException("layers must not be null");
        }
        layers = List.copyOf(layers);
        int n = layers.size();
        for (double[] a : new double[][]{activationMean, activationStd, deadFraction, paramNorm, updateRatioLog10}) {
            if (a == null || a.length != n) {
                throw new IllegalArgumentException("Every per-layer array must have " + n + " entries, got "
                        + (a == null ? "null" : a.length));
            }
        }
    }
}
