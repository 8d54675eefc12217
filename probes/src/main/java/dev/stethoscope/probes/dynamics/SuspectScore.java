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
     * Forgetting events (Toneva et al. 2019): the number of times an example went from
     * correctly to wrongly classified. As in the paper, an example <em>never</em> classified
     * correctly (correctness 0 over all its observations) has never been learned and counts as
     * forgotten infinitely often: it scores {@link #NEVER_LEARNED} and ranks above all others;
     * "unforgettable" examples (learned, never forgotten) score 0 and rank last. An example that
     * was learned and is wrong at its latest observation is not "never learned": its last
     * forgetting event is already counted.
     */
    FORGETTING("forgetting") {
        @Override
        double[] compute(TrainingDynamics d) {
            return each(d, i -> d.correctness(i) == 0 ? NEVER_LEARNED : d.forgettingEvents(i));
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
     * {@code combined = -AUM + 0.1 * s * (1 - correctness)}, where {@code s} is the
     * standard deviation of the AUM over the observed examples
     * ({@link TrainingDynamics#CORRECTNESS_WEIGHT} = 0.1).
     *
     * <p>Why this shape: AUM is the strongest single signal (it keeps the size of
     * the evidence: a label contradicted by a large margin, epoch after epoch, is
     * far more suspicious than one contradicted narrowly), so it carries the
     * ranking. Correctness counts how often the given label lost the argmax,
     * regardless of by how much; among examples with nearly the same AUM it
     * separates a mislabeled example memorised late (wrong in most epochs, then
     * right) from a clean but hard one (right about as often as wrong). Scaling
     * it by the spread of AUM keeps the term in logit units whatever the
     * network's logit scale. Confidence is left out (a saturating transform of
     * nearly the same quantity as AUM), as are variability (it marks ambiguity,
     * not mislabeling) and forgetting events (rare in a few epochs, mostly ties).
     *
     * <p>How the weight was chosen: with {@code SuspectQualityBenchmark} on MNIST with
     * injected label noise, among weights 1, 0.5, 0.25 and 0.1 at 20% noise, 0.1 is the
     * largest that did not fall behind AUM in precision@k at the last epoch; with weight 1
     * the correctness term outweighs real AUM differences. 40% noise was checked, not used
     * to choose. The measurements are in docs/suspects.md ("The combined score" and the
     * quality tables).
     * So on MNIST the term only breaks near-ties; AUM does the work.
     */
    COMBINED("combined") {
        @Override
        double[] compute(TrainingDynamics d) {
            double scale = d.combinedScale();
            return each(d, i -> d.combinedScore(i, scale));
        }
    };

    /**
     * The forgetting score of an example never classified correctly (Toneva et al.'s
     * "infinitely many" forgetting events), finite so that it survives JSON and CSV; larger
     * than any possible count of events.
     */
    public static final double NEVER_LEARNED = 1e6;

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
