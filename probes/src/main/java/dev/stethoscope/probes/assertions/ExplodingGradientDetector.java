package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Exploding gradients (AUTOTRAINER): the loss reaches {@code lossLimit} (default 1e5) at the
 * latest step (ERROR), or the ratio ||g_first|| / ||g_last|| of the first to the last parameter
 * layer's gradient L2 norm exceeds {@code ratioLimit} (default 70) at each of the last
 * {@code sustain} steps (default 5): WARNING, ERROR when the loss over the window is also not
 * falling (AUTOTRAINER applies the gradient rules once training fails to converge; here the
 * ratio alone warns and a non-falling loss escalates). NaN/Inf is {@link NonFiniteDetector}'s.
 */
public final class ExplodingGradientDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "exploding-gradients";

    private final double ratioLimit;
    private final double lossLimit;
    private final int sustain;
    private final double rmsLimit;
    private final double stepLimit;

    /**
     * With AUTOTRAINER's thresholds (ratio 70, loss 1e5, sustained over 5 steps) and the two rules
     * added by the bench-assertions calibration: a layer's RMS gradient of 50 or more, a layer's
     * update of 30 % or more of its parameters' norm in one step (docs/ASSERTIONS.md).
     */
    public ExplodingGradientDetector() {
        this(70, 1e5, 5, 50, 0.3);
    }

    /**
     * AUTOTRAINER's rules only (the RMS and step rules off).
     *
     * @param ratioLimit ||g_first||/||g_last|| above which gradients explode
     * @param lossLimit  loss at or above which training has diverged
     * @param sustain    consecutive steps the ratio must exceed its limit
     */
    public ExplodingGradientDetector(double ratioLimit, double lossLimit, int sustain) {
        this(ratioLimit, lossLimit, sustain, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);
    }

    /**
     * @param ratioLimit ||g_first||/||g_last|| above which gradients explode
     * @param lossLimit  loss at or above which training has diverged
     * @param sustain    consecutive steps the ratio must exceed its limit
     * @param rmsLimit   a layer's RMS gradient (L2 norm over the square root of its parameter count)
     *                   at or above which the gradient has exploded, at one step (WARNING)
     * @param stepLimit  a layer's ||update|| / ||parameters|| at or above which one step is out of
     *                   scale (learning rate far too high), at one step (ERROR)
     */
    public ExplodingGradientDetector(double ratioLimit, double lossLimit, int sustain, double rmsLimit, double stepLimit) {
        this.ratioLimit = ratioLimit;
        this.lossLimit = lossLimit;
        this.sustain = Math.max(1, sustain);
        this.rmsLimit = rmsLimit;
        this.stepLimit = stepLimit;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Condition check(SignalWindow window) {
        StepSignals s = window.latest();
        if (s == null) {
            return Condition.ABSENT;
        }
        String fix = " Usual fixes: lower the learning rate, clip gradients (GradientNormalization.ClipL2PerLayer"
                + " or ClipElementWiseAbsoluteValue), use a smaller weight initialisation (XAVIER/RELU), normalise the inputs.";
        if (Double.isFinite(s.loss()) && s.loss() >= lossLimit) {
            return Condition.steps(Severity.ERROR, "Loss " + fmt(s.loss()) + " at step " + s.step() + " is at or above "
                    + fmt(lossLimit) + ": training has diverged (exploding gradients)." + fix, s.step(), s.step());
        }
        double[] u = s.updateNorms();
        double[] p = s.parameterNorms();
        if (u.length == p.length) {
            for (int i = 0; i < u.length; i++) {
                double r = u[i] / p[i];
                if (p[i] > 0 && Double.isFinite(r) && r >= stepLimit) {
                    return Condition.steps(Severity.ERROR, "The update of " + s.layerName(i) + " at step " + s.step()
                            + " is " + fmt(r) + " times its parameters' norm (at or above " + fmt(stepLimit)
                            + " in one step): the steps explode (learning rate far too high)." + fix, s.step(), s.step());
                }
            }
        }
        for (int i = 0; i < s.gradientNorms().length && i < s.parameterCounts().length; i++) {
            double g = s.parameterCounts()[i] > 0 ? s.gradientRms(i) : Double.NaN; // an RMS needs the count
            if (Double.isFinite(g) && g >= rmsLimit) {
                return Condition.steps(Severity.WARNING, "The RMS gradient of " + s.layerName(i) + " at step " + s.step()
                        + " is " + fmt(g) + " per parameter (at or above " + fmt(rmsLimit) + "): exploding gradients"
                        + " (often an oversized weight initialisation or unscaled inputs)." + fix, s.step(), s.step());
            }
        }
        List<StepSignals> tail = WindowMath.fullSampledTail(window, sustain);
        if (!WindowMath.all(tail, t -> WindowMath.firstLastRatio(t) > ratioLimit)) {
            return Condition.ABSENT;
        }
        s = window.latestSampled();
        List<StepSignals> all = window.steps();
        int q = Math.max(1, all.size() / 4);
        double early = WindowMath.meanLoss(all, 0, q);
        double late = WindowMath.meanLoss(all, all.size() - q, all.size());
        boolean notFalling = all.size() >= 8 && !(late < early);
        double ratio = WindowMath.firstLastRatio(s);
        String msg = "Gradient norm of the first layer (" + s.layerName(0) + ") is " + fmt(ratio) + " times the last layer's ("
                + s.layerName(s.gradientNorms().length - 1) + "), above " + fmt(ratioLimit) + " " + WindowMath.across(tail)
                + (notFalling ? ", and the loss is not falling (" + fmt(early) + " -> " + fmt(late) + ")" : "")
                + ": exploding gradients." + fix;
        return Condition.steps(notFalling ? Severity.ERROR : Severity.WARNING, msg, WindowMath.first(tail), WindowMath.last(tail));
    }
}
