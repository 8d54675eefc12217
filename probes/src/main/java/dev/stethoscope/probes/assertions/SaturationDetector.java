package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.pct;

/**
 * Saturated units (DeepDiagnosis): a sigmoid or tanh layer with more than {@code threshold}
 * (default 0.5) of its pre-activations beyond +-5 (where the derivative is below 0.0067 for
 * sigmoid and 1.8e-4 for tanh) at each of the last {@code sustain} steps (default 10). WARNING.
 */
public final class SaturationDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "saturation";

    private final double threshold;
    private final int sustain;

    /** With DeepDiagnosis's threshold 0.5, sustained over 10 steps. */
    public SaturationDetector() {
        this(0.5, 10);
    }

    /**
     * @param threshold saturated fraction above which a layer is saturated
     * @param sustain   consecutive steps it must hold
     */
    public SaturationDetector(double threshold, int sustain) {
        this.threshold = threshold;
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
        int layers = window.latestSampled().saturatedFractions().length;
        for (int l = 0; l < layers; l++) {
            double min = Double.POSITIVE_INFINITY;
            for (StepSignals s : tail) {
                double v = l < s.saturatedFractions().length ? s.saturatedFractions()[l] : Double.NaN;
                min = Double.isNaN(v) ? Double.NEGATIVE_INFINITY : Math.min(min, v);
            }
            if (min > threshold) {
                return Condition.steps(Severity.WARNING, "Layer " + window.latestSampled().activationLayer(l) + " (sigmoid/tanh) has " + pct(min)
                        + " or more of its pre-activations beyond +-5 " + WindowMath.across(tail) + ": saturated units,"
                        + " whose gradient is near zero. Usual fixes: normalise the inputs, a smaller weight initialisation"
                        + " (XAVIER), a lower learning rate, batch normalisation, or ReLU-family activations.",
                        WindowMath.first(tail), WindowMath.last(tail));
            }
        }
        return Condition.ABSENT;
    }
}
