package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * No or slow progress (AUTOTRAINER's slow convergence, DeepDiagnosis's unchanged weights as seen
 * in the loss). Step rule: after {@code minSteps} steps (default 100), the mean loss of the last
 * {@code recent} steps (default 20) is less than {@code minImprovement} (default 1 %) below the
 * run's starting loss ({@link SignalWindow#startLoss()}). Epoch rule: after at least 3 epochs and
 * 30 % of the planned epochs (AUTOTRAINER starts its loss checks there), no epoch lowered the
 * training loss by {@code minImprovement} relative to the previous epoch (the first epoch compared
 * with the starting loss). Both WARNING; the loss rising instead is left to the exploding-gradient
 * and non-finite detectors, and the epoch rule abstains while the latest epoch's loss is not finite.
 */
public final class SlowProgressDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "no-progress";

    private final int minSteps;
    private final int recent;
    private final double minImprovement;

    /** Defaults: 100 steps, last 20 steps, 1 % improvement. */
    public SlowProgressDetector() {
        this(100, 20, 0.01);
    }

    /**
     * @param minSteps       steps before the step rule applies
     * @param recent         steps averaged for the current loss
     * @param minImprovement relative loss decrease that counts as progress
     */
    public SlowProgressDetector(int minSteps, int recent, double minImprovement) {
        this.minSteps = minSteps;
        this.recent = Math.max(1, recent);
        this.minImprovement = minImprovement;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Condition check(SignalWindow window) {
        double start = window.startLoss();
        String fix = " Usual fixes: a larger learning rate (or a schedule with warm-up), check that the updater is not"
                + " frozen, that the labels match the inputs, and that the inputs are normalised.";
        List<StepSignals> tail = WindowMath.fullTail(window, Math.min(recent, window.capacity()));
        if (window.stepsSeen() >= minSteps && tail != null && start > 0) {
            double now = WindowMath.meanLoss(tail, 0, tail.size());
            if (Double.isFinite(now) && now > (1 - minImprovement) * start && now <= 1.5 * start) {
                return Condition.steps(Severity.WARNING, "No progress: after " + window.stepsSeen() + " steps the loss ("
                        + fmt(now) + ") is within " + Math.round(100 * minImprovement) + " % of its starting value ("
                        + fmt(start) + ")." + fix, WindowMath.first(tail), WindowMath.last(tail));
            }
        }
        List<EpochSignals> epochs = window.epochs();
        int needed = Math.max(3, (int) Math.ceil(0.3 * window.plannedEpochs()));
        boolean finiteNow = !epochs.isEmpty() && Double.isFinite(epochs.get(epochs.size() - 1).trainLoss());
        if (epochs.size() >= needed && finiteNow) {
            double prev = start;
            double best = Double.NEGATIVE_INFINITY;
            for (EpochSignals e : epochs) {
                if (prev > 0 && Double.isFinite(prev) && Double.isFinite(e.trainLoss())) {
                    best = Math.max(best, (prev - e.trainLoss()) / prev);
                }
                prev = e.trainLoss();
            }
            if (best != Double.NEGATIVE_INFINITY && best < minImprovement) {
                return Condition.epochs(Severity.WARNING, "Slow convergence: over " + epochs.size() + " epochs no epoch"
                        + " lowered the training loss by " + Math.round(100 * minImprovement) + " % (best " + fmt(100 * best)
                        + " %)." + fix, epochs.get(0).epoch(), epochs.get(epochs.size() - 1).epoch());
            }
        }
        return Condition.ABSENT;
    }
}
