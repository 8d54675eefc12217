package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.pct;

/**
 * Dying ReLU (DeepDiagnosis: dead nodes when >= 70 % of ReLU outputs are zero; AUTOTRAINER:
 * >= 70 % zero gradients): a rectified layer whose fraction of zero activation values is at least
 * {@code threshold} (default 0.7) at each of the last {@code sustain} steps (default 10). WARNING;
 * ERROR when the fraction is at least {@code deadThreshold} (default 0.99) throughout: the layer
 * passes almost no signal (and no gradient) at all. A healthy ReLU layer is near 50 % zeros.
 */
public final class DyingReluDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "dying-relu";

    private final double threshold;
    private final double deadThreshold;
    private final int sustain;

    /** With DeepDiagnosis's threshold 0.7, ERROR at 0.99, sustained over 10 steps. */
    public DyingReluDetector() {
        this(0.7, 0.99, 10);
    }

    /**
     * @param threshold     zero fraction from which a layer is dying (WARNING)
     * @param deadThreshold zero fraction from which a layer is dead (ERROR)
     * @param sustain       consecutive steps the fraction must hold
     */
    public DyingReluDetector(double threshold, double deadThreshold, int sustain) {
        this.threshold = threshold;
        this.deadThreshold = deadThreshold;
        this.sustain = Math.max(1, sustain);
    }

    /** Reads sampled signals only: evaluated on the steps that carry them. */
    @Override
    public boolean sampledOnly() {
        return true;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Condition check(SignalWindow window) {
        List<StepSignals> tail = WindowMath.fullSampledTail(window, sustain);
        if (tail == null) {
            return Condition.ABSENT;
        }
        int layers = window.latestSampled().zeroFractions().length;
        int worst = -1;
        double worstMin = -1;
        for (int l = 0; l < layers; l++) {
            double min = Double.POSITIVE_INFINITY;
            for (StepSignals s : tail) {
                double z = l < s.zeroFractions().length ? s.zeroFractions()[l] : Double.NaN;
                min = Double.isNaN(z) ? Double.NEGATIVE_INFINITY : Math.min(min, z);
            }
            if (min >= threshold && min > worstMin) {
                worst = l;
                worstMin = min;
            }
        }
        if (worst < 0) {
            return Condition.ABSENT;
        }
        Severity sev = worstMin >= deadThreshold ? Severity.ERROR : Severity.WARNING;
        return Condition.steps(sev, "Layer " + window.latestSampled().activationLayer(worst) + " (rectified) outputs zero for at least " + pct(worstMin)
                + " of its values " + WindowMath.across(tail) + ": " + (sev == Severity.ERROR ? "dead" : "dying")
                + " ReLU units, which pass no gradient. Usual fixes: a lower learning rate, RELU (He) weight initialisation "
                + "with non-negative biases, LeakyReLU/ELU activations, normalised inputs, batch normalisation.",
                WindowMath.first(tail), WindowMath.last(tail));
    }
}
