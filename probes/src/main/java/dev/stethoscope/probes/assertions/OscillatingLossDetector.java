package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Oscillating loss (AUTOTRAINER's "oscillating loss"): over the last {@code steps} steps
 * (default 50) the loss jumps by more than {@code jump} (default 0.5) of its mean from step to
 * step on average, changes direction at more than half of the steps, and stays above
 * {@code stuckFraction} (default 0.5) of the run's starting loss (so the normal relative noise of
 * a small, nearly converged minibatch loss does not count). WARNING.
 */
public final class OscillatingLossDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "oscillating-loss";

    private final int steps;
    private final double jump;
    private final double stuckFraction;

    /** Defaults: 50 steps, mean relative jump 0.5, loss still above half the starting loss. */
    public OscillatingLossDetector() {
        this(50, 0.5, 0.5);
    }

    /**
     * @param steps         the number of recent steps looked at (at least 4)
     * @param jump          mean |loss(t) - loss(t-1)| / mean loss above which the loss oscillates
     * @param stuckFraction the mean loss must stay above this fraction of the run's starting loss
     */
    public OscillatingLossDetector(int steps, double jump, double stuckFraction) {
        this.steps = Math.max(4, steps);
        this.jump = jump;
        this.stuckFraction = stuckFraction;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Condition check(SignalWindow window) {
        List<StepSignals> tail = WindowMath.fullTail(window, steps);
        if (tail == null || !WindowMath.all(tail, s -> Double.isFinite(s.loss()))) {
            return Condition.ABSENT;
        }
        double mean = WindowMath.meanLoss(tail, 0, tail.size());
        if (!(mean > 0)) {
            return Condition.ABSENT;
        }
        double tv = 0;
        int turns = 0;
        for (int i = 1; i < tail.size(); i++) {
            double d = tail.get(i).loss() - tail.get(i - 1).loss();
            tv += Math.abs(d);
            if (i >= 2) {
                double prev = tail.get(i - 1).loss() - tail.get(i - 2).loss();
                if (d * prev < 0) {
                    turns++;
                }
            }
        }
        double meanJump = tv / (tail.size() - 1) / mean;
        double turnRate = turns / (double) (tail.size() - 2);
        double start = window.startLoss();
        if (meanJump > jump && turnRate > 0.5 && (!(start > 0) || mean > stuckFraction * start)) {
            return Condition.steps(Severity.WARNING, "Loss oscillates: over the last " + steps + " steps it jumps by "
                    + fmt(meanJump) + " of its mean (" + fmt(mean) + ") per step and turns at " + Math.round(100 * turnRate)
                    + " % of the steps without falling below " + Math.round(100 * stuckFraction) + " % of the starting loss. "
                    + "Usual fixes: a lower learning rate, a larger batch, gradient clipping, shuffled data.",
                    WindowMath.first(tail), WindowMath.last(tail));
        }
        return Condition.ABSENT;
    }
}
