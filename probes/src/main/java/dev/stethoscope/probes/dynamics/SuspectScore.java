package dev.stethoscope.probes.dynamics;

import java.util.Arrays;
import java.util.function.IntToDoubleFunction;

/**
 * Kinds of suspect score computed from {@link TrainingDynamics}; every score is
 * oriented so that higher = more likely mislabeled, and is NaN for examples
 * never observed.
 */
public enum SuspectScore {
    /** -AUM (Pleiss et al. 2020): the negated mean margin of the given label. */
    AUM("aum") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, i -> -d.aum(i));
        }
    },
    /** 1 - confidence (Swayamdipta et al. 2020): one minus the mean probability of the given label. */
    CONFIDENCE("confidence") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, i -> 1 - d.confidence(i));
        }
    },
    /** 1 - correctness: the fraction of observations where the given label was not predicted. */
    CORRECTNESS("correctness") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, i -> 1 - d.correctness(i));
        }
    },
    /** Variability of the probability of the given label ("ambiguous" examples of a data map). */
    VARIABILITY("variability") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, d::variability);
        }
    },
    /**
     * Forgetting events (Toneva et al. 2019); an example never correct at its
     * latest observation counts as never learned and ranks above all others,
     * as in the paper ("unforgettable" examples rank last).
     */
    FORGETTING("forgetting") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, i -> d.forgettingEvents(i) + (d.learnedSinceEpoch(i) < 0 ? 1e6 : 0));
        }
    },
    /** Mean training loss of the given label over the observations. */
    MEAN_LOSS("meanLoss") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, d::meanLoss);
        }
    },
    /** Loss of the given label at the latest observation (a "final-epoch loss" ranking). */
    LAST_LOSS("lastLoss") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, d::lastLoss);
        }
    },
    /**
     * The combined suspect score:
     * {@code combined = -AUM + (1 - correctness) * s}, where {@code s} is the
     * standard deviation of the AUM over the observed examples.
     *
     * <p>Why these two: AUM is the strongest single signal (it keeps the size of
     * the evidence: a label contradicted by a large margin, epoch after epoch, is
     * far more suspicious than one contradicted narrowly), but being a mean of
     * margins it mixes two kinds of examples with similar values: clean but
     * hard or ambiguous examples (margins near zero, often right) and mislabeled
     * examples that the network memorises late (strongly negative margins early,
     * then positive). Correctness counts how often the given label lost the
     * argmax, regardless of by how much, so it separates those two: a mislabeled
     * example is wrong in most epochs before memorisation, a clean hard one is
     * right about as often as it is wrong. Scaling it by the spread of AUM puts
     * both terms in logit units with comparable weight, so neither swamps the
     * other whatever the network's logit scale. Confidence (the probability of
     * the given label) is left out: it is a saturating transform of nearly the
     * same quantity as AUM and adds no independent evidence; variability marks
     * ambiguity, not mislabeling; forgetting events are rare in a few epochs and
     * mostly ties.
     *
     * <p>Measured (SuspectQualityBenchmark, MNIST 60000, MLP 784-512-10, Adam
     * 1e-3, batch 128, 10 epochs, seed 42, logits from the training pass): at
     * 20% symmetric noise the combined score and AUM have the same AUROC at
     * every epoch (to within 0.0001; 0.9993 after epoch 10) and precision@k
     * within 0.0011 (combined ahead at epochs 6-8, e.g. 0.9781 vs 0.9770 at
     * epoch 7, behind at epochs 9-10: 0.9780 vs 0.9788); at 40% noise AUROC
     * 0.9989 for both and precision@k 0.9825 vs 0.9830. So on this easy data set
     * the correctness term buys little: it helps while the network starts to
     * memorise and costs up to 0.0008 of precision@k at the end. The loss
     * ranking of the final network is clearly worse (AUROC 0.9946, precision@k
     * 0.9520 at 20%).
     */
    COMBINED("combined") {
        @Override
        double[] compute(TrainingDynamics d) {
            double scale = d.combinedScale();
            return each(d, i -> d.combinedScore(i, scale));
        }
    };

    private final String key;

    SuspectScore(String key) {
        this.key = key;
    }

    /** Short name used in records, JSON and CSV columns. */
    public String key() {
        return key;
    }

    /** The score for every example of {@code d}. */
    abstract double[] compute(TrainingDynamics d);

    /** The kind named by {@code key} (as {@link #key()} or the enum name); lists valid choices otherwise. */
    public static SuspectScore parse(String key) {
        for (SuspectScore s : values()) {
            if (s.key.equalsIgnoreCase(key) || s.name().equalsIgnoreCase(key)) {
                return s;
            }
        }
        throw new IllegalArgumentException("Unknown suspect score '" + key + "'. Valid: "
                + Arrays.stream(values()).map(SuspectScore::key).toList());
    }

    private static double[] each(TrainingDynamics d, IntToDoubleFunction f) {
        double[] out = new double[d.numExamples()];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.seen(i) ? f.applyAsDouble(i) : Double.NaN;
        }
        return out;
    }
}
