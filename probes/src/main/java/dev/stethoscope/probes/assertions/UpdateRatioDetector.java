package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Update/parameter ratio outside its band: log10(||update|| / ||parameters||) of a layer outside
 * [{@code low}, {@code high}] (default [-6, -1]; DL4J's guidance puts a healthy ratio near -3)
 * at each of the last {@code sustain} steps (default 20): WARNING. ERROR when the ratio is at or
 * above 0 throughout (each update is as large as the weights). A layer whose update is exactly
 * zero throughout while its gradient is not (DeepDiagnosis's unchanged weights) is a WARNING; a zero
 * update from a zero gradient (dead units) is left to the dying-ReLU and vanishing-gradient detectors.
 */
public final class UpdateRatioDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "update-ratio";

    private final double low;
    private final double high;
    private final int sustain;

    /** Defaults: band [-6, -1] in log10, sustained over 20 steps. */
    public UpdateRatioDetector() {
        this(-6, -1, 20);
    }

    /**
     * @param low     lowest healthy log10 ratio
     * @param high    highest healthy log10 ratio
     * @param sustain consecutive steps out of band before it fires
     */
    public UpdateRatioDetector(double low, double high, int sustain) {
        if (!(low < high)) {
            throw new IllegalArgumentException("Band [" + low + ", " + high + "] is empty");
        }
        this.low = low;
        this.high = high;
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

    /** @return log10(update/param) of layer l at step s; NaN when unknown; -infinity for a zero update */
    static double ratio(StepSignals s, int l) {
        if (l >= s.updateNorms().length || l >= s.parameterNorms().length) {
            return Double.NaN;
        }
        double u = s.updateNorms()[l];
        double p = s.parameterNorms()[l];
        if (!Double.isFinite(u) || !Double.isFinite(p) || p <= 0) {
            return Double.NaN;
        }
        return u == 0 ? Double.NEGATIVE_INFINITY : Math.log10(u / p);
    }

    @Override
    public Condition check(SignalWindow window) {
        List<StepSignals> tail = WindowMath.fullSampledTail(window, sustain);
        if (tail == null) {
            return Condition.ABSENT;
        }
        int layers = window.latestSampled().updateNorms().length;
        for (int l = 0; l < layers; l++) {
            final int layer = l;
            String name = window.latestSampled().layerName(l);
            long from = WindowMath.first(tail);
            long to = WindowMath.last(tail);
            if (WindowMath.all(tail, s -> ratio(s, layer) >= 0)) {
                return Condition.steps(Severity.ERROR, "Updates of " + name + " are as large as its weights (log10 ratio "
                        + fmt(ratio(window.latestSampled(), l)) + ") " + WindowMath.across(tail) + ": the learning rate is far too high."
                        + " Usual fixes: lower the learning rate by 100x or more, clip gradients.", from, to);
            }
            if (WindowMath.all(tail, s -> ratio(s, layer) == Double.NEGATIVE_INFINITY
                    && layer < s.gradientNorms().length && s.gradientNorms()[layer] > 0)) {
                return Condition.steps(Severity.WARNING, "Weights of " + name + " do not change although its gradient is"
                        + " not zero, " + WindowMath.across(tail) + ". Usual causes: a learning rate of zero, a frozen layer,"
                        + " an updater misconfigured (NoOp).", from, to);
            }
            if (WindowMath.all(tail, s -> {
                double r = ratio(s, layer);
                return !Double.isNaN(r) && r != Double.NEGATIVE_INFINITY && (r < low || r > high);
            })) {
                double r = ratio(window.latestSampled(), l);
                boolean tooSmall = r < low;
                return Condition.steps(Severity.WARNING, "log10(update/parameter) of " + name + " is " + fmt(r)
                        + ", outside [" + fmt(low) + ", " + fmt(high) + "] " + WindowMath.across(tail) + " (healthy near -3): "
                        + (tooSmall ? "the weights barely move. Usual fix: a larger learning rate."
                        : "updates are large against the weights. Usual fix: a lower learning rate or gradient clipping."),
                        from, to);
            }
        }
        return Condition.ABSENT;
    }
}
