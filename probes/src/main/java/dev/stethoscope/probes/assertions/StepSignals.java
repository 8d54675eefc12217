package dev.stethoscope.probes.assertions;

import java.util.Arrays;

/**
 * The training signals of one iteration (step), as plain values.
 *
 * <p>Per-parameter-layer arrays ({@code gradientNorms}, {@code parameterNorms}, {@code updateNorms})
 * have one entry per layer that has parameters, in network order (first = closest to the input);
 * a NaN or infinite entry there means the array itself held non-finite values. Per-layer
 * activation arrays ({@code zeroFractions}, {@code saturatedFractions}) have one entry per layer
 * of the network, NaN where the statistic does not apply (for example the zero fraction of a tanh
 * layer); see {@link Signals} for how they are computed from ND4J arrays.
 *
 * @param step                 the iteration number
 * @param epoch                the epoch the step belongs to
 * @param loss                 the minibatch loss (score), as DL4J reports it; NaN or infinite only when the loss itself was
 * @param layerNames           names of the layers with parameters (labels for messages); same length as the norms
 * @param gradientNorms        L2 norm of each parameter layer's raw gradient (before the updater)
 * @param parameterNorms       L2 norm of each parameter layer's parameters after the step
 * @param updateNorms          L2 norm of each parameter layer's applied update
 * @param zeroFractions        per network layer: fraction of activation values that are exactly zero (rectified layers), else NaN
 * @param saturatedFractions   per network layer: fraction of values whose pre-activation is beyond +-5 (sigmoid/tanh layers), else NaN
 * @param nonFiniteActivations number of NaN or infinite activation values in the forward pass
 * @param predictedClasses     the predicted class of each example of the batch (empty when unknown)
 * @param labelClasses         the labelled class of each example of the batch (empty when unknown)
 * @param parameterCounts      number of parameters of each parameter layer (empty when unknown)
 * @param activationLayers     the name of each layer of the activation arrays, for messages: its index in a
 *                             MultiLayerNetwork ({@code "3"}), its vertex name in a ComputationGraph; the indexes
 *                             when not given
 */
public record StepSignals(long step, int epoch, double loss, String[] layerNames,
                          double[] gradientNorms, double[] parameterNorms, double[] updateNorms,
                          double[] zeroFractions, double[] saturatedFractions, long nonFiniteActivations,
                          int[] predictedClasses, int[] labelClasses, long[] parameterCounts,
                          String[] activationLayers) implements java.io.Serializable {

    private static final double[] NONE = new double[0];
    private static final int[] NO_CLASSES = new int[0];

    /** Replaces nulls by empty arrays and checks that the per-parameter-layer arrays agree in length. */
    public StepSignals {
        gradientNorms = gradientNorms == null ? NONE : gradientNorms;
        parameterNorms = parameterNorms == null ? NONE : parameterNorms;
        updateNorms = updateNorms == null ? NONE : updateNorms;
        zeroFractions = zeroFractions == null ? NONE : zeroFractions;
        saturatedFractions = saturatedFractions == null ? NONE : saturatedFractions;
        predictedClasses = predictedClasses == null ? NO_CLASSES : predictedClasses;
        labelClasses = labelClasses == null ? NO_CLASSES : labelClasses;
        parameterCounts = parameterCounts == null ? new long[0] : parameterCounts;
        int n = Math.max(gradientNorms.length, Math.max(parameterNorms.length, updateNorms.length));
        for (double[] a : new double[][]{gradientNorms, parameterNorms, updateNorms}) {
            if (a.length != 0 && a.length != n) {
                throw new IllegalArgumentException("Gradient, parameter and update norms must have one entry per parameter layer"
                        + " (or be empty); got lengths " + gradientNorms.length + ", " + parameterNorms.length + ", " + updateNorms.length);
            }
        }
        if (parameterCounts.length != 0 && parameterCounts.length != n) {
            throw new IllegalArgumentException("Parameter counts must have one entry per parameter layer (" + n + "), got " + parameterCounts.length);
        }
        if (layerNames == null || layerNames.length != n) {
            String[] names = new String[n];
            for (int i = 0; i < n; i++) {
                names[i] = layerNames != null && i < layerNames.length ? layerNames[i] : "layer " + i;
            }
            layerNames = names;
        }
        int a = Math.max(zeroFractions.length, saturatedFractions.length);
        if (activationLayers == null || activationLayers.length != a) {
            String[] names = new String[a];
            for (int i = 0; i < a; i++) {
                names[i] = Integer.toString(i);
            }
            activationLayers = names;
        }
    }

    /** @return a builder for step {@code step}; set at least the loss */
    /**
     * Whether this step carries the sampled signals (any of the gradient, parameter or update norms,
     * activation fractions, predicted or label classes); a step with only the loss does not.
     * The listener collects those on its schedule's steps only (the loss on every step), and the
     * detectors that read them look at {@link SignalWindow#sampledSteps()}.
     */
    public boolean sampled() {
        return gradientNorms.length > 0 || parameterNorms.length > 0 || updateNorms.length > 0
                || zeroFractions.length > 0 || saturatedFractions.length > 0 || predictedClasses.length > 0
                || labelClasses.length > 0;
    }

    /** A builder of the signals of iteration {@code step}: arrays not set stay empty (not sampled), the loss starts as NaN. */
    public static Builder builder(long step) {
        return new Builder(step);
    }

    /**
     * @return the root mean square gradient of parameter layer {@code i} (its L2 norm over the square root
     *         of its parameter count), or the L2 norm itself when the counts are unknown
     */
    public double gradientRms(int i) {
        double g = gradientNorms[i];
        return parameterCounts.length == 0 || parameterCounts[i] <= 0 ? g : g / Math.sqrt(parameterCounts[i]);
    }

    /** @return the name of parameter layer {@code i} */
    public String layerName(int i) {
        return layerNames[i];
    }

    /**
     * @return the name of layer {@code i} of the activation arrays ({@link #zeroFractions}, {@link
     *         #saturatedFractions}): its index in a MultiLayerNetwork, its vertex name in a ComputationGraph
     */
    public String activationLayer(int i) {
        return i < activationLayers.length ? activationLayers[i] : Integer.toString(i);
    }

    @Override
    public String toString() {
        return "StepSignals{step=" + step + ", epoch=" + epoch + ", loss=" + loss
                + ", gradientNorms=" + Arrays.toString(gradientNorms) + ", zeroFractions=" + Arrays.toString(zeroFractions) + "}";
    }

    /** Fluent construction of {@link StepSignals}; arrays not set stay empty (unknown); set the loss (it starts as NaN). */
    public static final class Builder {
        private final long step;
        private int epoch;
        private double loss = Double.NaN;
        private String[] layerNames;
        private double[] gradientNorms;
        private double[] parameterNorms;
        private double[] updateNorms;
        private double[] zeroFractions;
        private double[] saturatedFractions;
        private long nonFiniteActivations;
        private int[] predictedClasses;
        private int[] labelClasses;
        private long[] parameterCounts;
        private String[] activationLayers;

        private Builder(long step) {
            this.step = step;
        }

        /** @param epoch the epoch of the step */
        public Builder epoch(int epoch) { this.epoch = epoch; return this; }
        /** @param loss the minibatch loss */
        public Builder loss(double loss) { this.loss = loss; return this; }
        /** @param names names of the parameter layers */
        public Builder layerNames(String... names) { this.layerNames = names; return this; }
        /** @param norms per parameter layer gradient L2 norms */
        public Builder gradientNorms(double... norms) { this.gradientNorms = norms; return this; }
        /** @param norms per parameter layer parameter L2 norms */
        public Builder parameterNorms(double... norms) { this.parameterNorms = norms; return this; }
        /** @param norms per parameter layer update L2 norms */
        public Builder updateNorms(double... norms) { this.updateNorms = norms; return this; }
        /** @param fractions per layer zero fractions (NaN where not applicable) */
        public Builder zeroFractions(double... fractions) { this.zeroFractions = fractions; return this; }
        /** @param fractions per layer saturated fractions (NaN where not applicable) */
        public Builder saturatedFractions(double... fractions) { this.saturatedFractions = fractions; return this; }
        /** @param count number of non-finite activation values */
        public Builder nonFiniteActivations(long count) { this.nonFiniteActivations = count; return this; }
        /** @param classes predicted class per example */
        public Builder predictedClasses(int... classes) { this.predictedClasses = classes; return this; }
        /** @param classes labelled class per example */
        public Builder labelClasses(int... classes) { this.labelClasses = classes; return this; }

        /** @param counts number of parameters per parameter layer */
        public Builder parameterCounts(long... counts) { this.parameterCounts = counts; return this; }

        /** @param names the name of each layer of the activation arrays (vertex names of a ComputationGraph) */
        public Builder activationLayers(String... names) { this.activationLayers = names; return this; }

        /** @return the signals */
        public StepSignals build() {
            return new StepSignals(step, epoch, loss, layerNames, gradientNorms, parameterNorms, updateNorms,
                    zeroFractions, saturatedFractions, nonFiniteActivations, predictedClasses, labelClasses, parameterCounts,
                    activationLayers);
        }
    }
}
