package dev.stethoscope.probes.assertions;

import java.util.List;

import static dev.stethoscope.probes.assertions.WindowMath.fmt;

/**
 * Validation loss rising while training loss falls (UMLAUT; memorisation onset): over the last
 * {@code epochs} epoch transitions (default 3) the validation loss rose at every transition and
 * the training loss fell at every transition. WARNING. Evaluated at epoch ends.
 */
public final class ValidationDivergenceDetector implements Detector {
    /** The id, {@value}. */
    public static final String ID = "validation-divergence";

    private final int epochs;

    /** Default: 3 consecutive epoch transitions. */
    public ValidationDivergenceDetector() {
        this(3);
    }

    /** @param epochs consecutive epoch transitions with validation loss up and training loss down */
    public ValidationDivergenceDetector(int epochs) {
        this.epochs = Math.max(1, epochs);
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
        return Condition.epochs(Severity.WARNING, "Validation loss rose for " + epochs + " epochs (" + fmt(best.validationLoss())
                + " -> " + fmt(now.validationLoss()) + ") while training loss fell (" + fmt(best.trainLoss()) + " -> "
                + fmt(now.trainLoss()) + "): the model memorises its training data; epoch " + best.epoch()
                + " generalised best. Usual fixes: early stopping, regularisation (weight decay, dropout), data"
                + " augmentation, more data, a smaller model.", best.epoch(), now.epoch());
    }
}
