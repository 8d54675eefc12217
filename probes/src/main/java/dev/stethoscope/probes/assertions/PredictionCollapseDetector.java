package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.pct;

/**
 * Prediction collapse: after {@code warmup} steps (default 50; an untrained network often
 * predicts one class), at each of the last {@code sustain} steps (default 10) one class takes at
 * least {@code share} (default 0.9) of the batch's predictions, while the batch's labels (when
 * known) are not that concentrated. WARNING; ERROR when every sustained batch is predicted as a
 * single class. Batches of fewer than 8 examples, and steps with a non-finite loss or activations
 * (whose arg-max is meaningless; {@link NonFiniteDetector} names them), abstain.
 */
public final class PredictionCollapseDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "prediction-collapse";
    static final int MIN_BATCH = 8;

    private final double share;
    private final int sustain;
    private final int warmup;

    /** Defaults: share 0.9, 10 steps, after 50 steps. */
    public PredictionCollapseDetector() {
        this(0.9, 10, 50);
    }

    /**
     * @param share   fraction of a batch predicted as one class from which it counts as collapsed
     * @param sustain consecutive steps
     * @param warmup  steps of the run before the detector applies
     */
    public PredictionCollapseDetector(double share, int sustain, int warmup) {
        this.share = share;
        this.sustain = Math.max(1, sustain);
        this.warmup = warmup;
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

    /** @return the largest share of one class among {@code classes}; NaN for fewer than {@value #MIN_BATCH} */
    static double majorityShare(int[] classes) {
        if (classes.length < MIN_BATCH) {
            return Double.NaN;
        }
        int top = -1;
        for (int c : classes) {
            top = Math.max(top, c);
        }
        int max = 0;
        int low = Integer.MAX_VALUE;
        for (int c : classes) {
            low = Math.min(low, c);
        }
        if (low >= 0 && top < 4096) {
            // class indices: count in an array (this runs on every step's labels; no boxing)
            int[] counts = new int[top + 1];
            for (int c : classes) {
                max = Math.max(max, ++counts[c]);
            }
        } else {
            java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
            for (int c : classes) {
                max = Math.max(max, counts.merge(c, 1, Integer::sum));
            }
        }
        return max / (double) classes.length;
    }

    @Override
    public Condition check(SignalWindow window) {
        if (window.stepsSeen() < warmup) {
            return Condition.ABSENT;
        }
        List<StepSignals> tail = WindowMath.fullSampledTail(window, sustain);
        boolean collapsed = WindowMath.all(tail, s -> {
            if (!Double.isFinite(s.loss()) || s.nonFiniteActivations() > 0) {
                return false;
            }
            double p = majorityShare(s.predictedClasses());
            double l = s.labelClasses().length == s.predictedClasses().length ? majorityShare(s.labelClasses()) : Double.NaN;
            return p >= share && !(l >= share);
        });
        if (!collapsed) {
            return Condition.ABSENT;
        }
        double min = 1;
        for (StepSignals s : tail) {
            min = Math.min(min, majorityShare(s.predictedClasses()));
        }
        Severity sev = min >= 1.0 ? Severity.ERROR : Severity.WARNING;
        return Condition.steps(sev, "Prediction collapse: one class takes at least " + pct(min) + " of each batch's"
                + " predictions " + WindowMath.across(tail) + ", though the labels are mixed. Usual causes: a learning rate"
                + " too high, heavy class imbalance, dead units before the output, a loss that does not fit the output"
                + " activation. Usual fixes: a lower learning rate, class weights or balanced sampling, check the"
                + " output activation/loss pair.", WindowMath.first(tail), WindowMath.last(tail));
    }
}
