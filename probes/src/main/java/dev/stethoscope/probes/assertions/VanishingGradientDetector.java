package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Vanishing gradients (AUTOTRAINER): ||g_first|| / ||g_last|| below {@code ratioLimit}
 * (default 1e-3) and the first layer's gradient below {@code firstLimit} (default 1e-4) at each of
 * the last {@code sustain} steps (default 5). Severity WARNING: the first layers barely learn.
 * The ratio is over L2 norms; the absolute limit is compared with the first layer's root mean
 * square gradient ({@link StepSignals#gradientRms(int)}), so that it does not grow with the
 * layer's width (calibration: docs/ASSERTIONS.md).
 */
public final class VanishingGradientDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "vanishing-gradients";

    private final double ratioLimit;
    private final double firstLimit;
    private final int sustain;

    /** With AUTOTRAINER's thresholds: ratio 1e-3, first-layer norm 1e-4, sustained over 5 steps. */
    public VanishingGradientDetector() {
        this(1e-3, 1e-4, 5);
    }

    /**
     * @param ratioLimit ||g_first||/||g_last|| below which gradients vanish
     * @param firstLimit ||g_first|| below which the first layer gets no signal
     * @param sustain    consecutive steps both must hold
     */
    public VanishingGradientDetector(double ratioLimit, double firstLimit, int sustain) {
        this.ratioLimit = ratioLimit;
        this.firstLimit = firstLimit;
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
        if (!WindowMath.all(tail, t -> WindowMath.firstLastRatio(t) < ratioLimit && t.gradientRms(0) < firstLimit)) {
            return Condition.ABSENT;
        }
        StepSignals s = window.latestSampled();
        return Condition.steps(Severity.WARNING, "Gradient of the first layer (" + s.layerName(0) + ") has RMS "
                + fmt(s.gradientRms(0)) + ", " + fmt(WindowMath.firstLastRatio(s)) + " times the last layer's, "
                + WindowMath.across(tail) + ": vanishing gradients, the first layers barely learn. Usual fixes: ReLU-family "
                + "activations instead of sigmoid/tanh in deep stacks, RELU/XAVIER weight initialisation, batch "
                + "normalisation, fewer layers or residual connections.", WindowMath.first(tail), WindowMath.last(tail));
    }
}
