package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.pct;

/**
 * Labels of a single class: at each of the last {@code sustain} steps (default 20) one class
 * takes at least {@code share} (default 0.99) of the batch's labels. WARNING: either the data
 * is not shuffled (batches sorted by class), or the labels are broken (every example the same
 * class, a wrong label column). Batches of fewer than 8 examples abstain.
 */
public final class SingleClassLabelsDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "single-class-labels";

    private final double share;
    private final int sustain;

    /** Defaults: share 0.99 over 20 steps. */
    public SingleClassLabelsDetector() {
        this(0.99, 20);
    }

    /**
     * @param share   fraction of a batch's labels in one class from which it counts
     * @param sustain consecutive steps
     */
    public SingleClassLabelsDetector(double share, int sustain) {
        this.share = share;
        this.sustain = Math.max(1, sustain);
    }

    /** Reads the labels of sampled steps only: evaluated on the steps that carry them. */
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
        if (!WindowMath.all(tail, s -> PredictionCollapseDetector.majorityShare(s.labelClasses()) >= share)) {
            return Condition.ABSENT;
        }
        return Condition.steps(Severity.WARNING, "The labels of each of the last " + sustain + " batches are at least "
                + pct(share) + " one class: the data is not shuffled, or the labels are broken (all examples the same"
                + " class, a wrong label column). Usual fixes: shuffle the training data, check the label encoding.",
                WindowMath.first(tail), WindowMath.last(tail));
    }
}
