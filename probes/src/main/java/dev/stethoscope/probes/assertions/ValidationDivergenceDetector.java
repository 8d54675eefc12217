package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Validation loss rising while training loss falls (UMLAUT; memorisation onset): over the last
 * {@code epochs} epoch transitions (default 3) the validation loss rose at every transition and
 * the training loss fell at every transition, and the rise is not negligible: at least
 * {@code minRelativeRise} (default 5 %) of the validation loss at the window's start and at least
 * 1 % of the first epoch's validation loss (a converged run's validation loss drifting from 0.00148
 * to 0.00149 is not memorisation). WARNING. Evaluated at epoch ends.
 */
public final class ValidationDivergenceDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "validation-divergence";

    private final int epochs;
    private final double minRelativeRise;

    /** Defaults: 3 consecutive epoch transitions, a rise of at least 5 %. */
    public ValidationDivergenceDetector() {
        this(3, 0.05);
    }

    /**
     * @param epochs          consecutive epoch transitions with validation loss up and training loss down
     * @param minRelativeRise smallest total rise, relative to the validation loss at the window's start
     */
    public ValidationDivergenceDetector(int epochs, double minRelativeRise) {
        this.epochs = Math.max(1, epochs);
        this.minRelativeRise = minRelativeRise;
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public boolean epochLevel() {
        return true;
    }

    @Override
    public Condition check(SignalWindow window) {
        List<EpochSignals> all = window.epochs();
        if (all.size() < epochs + 1) {
            return Condition.ABSENT;
        }
        List<EpochSignals> tail = all.subList(all.size() - epochs - 1, all.size());
        for (int i = 1; i < tail.size(); i++) {
            EpochSignals a = tail.get(i - 1);
            EpochSignals b = tail.get(i);
            if (!(b.validationLoss() > a.validationLoss() && b.trainLoss() < a.trainLoss())) {
                return Condition.ABSENT;
            }
        }
        EpochSignals best = tail.get(0);
        EpochSignals now = tail.get(tail.size() - 1);
        double rise = now.validationLoss() - best.validationLoss();
        double first = all.get(0).validationLoss();
        if (rise < minRelativeRise * best.validationLoss() || (Double.isFinite(first) && rise < 0.01 * first)) {
            return Condition.ABSENT;
        }
        return Condition.epochs(Severity.WARNING, "Validation loss rose for " + epochs + " epochs (" + fmt(best.validationLoss())
                + " -> " + fmt(now.validationLoss()) + ") while training loss fell (" + fmt(best.trainLoss()) + " -> "
                + fmt(now.trainLoss()) + "): the model memorises its training data; epoch " + best.epoch()
                + " generalised best. Usual fixes: early stopping, regularisation (weight decay, dropout), data"
                + " augmentation, more data, a smaller model.", best.epoch(), now.epoch());
    }
}
