package dev.stethoscope.probes.dynamics;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/**
 * Per-example training dynamics of N training examples (METHODS.md section 7),
 * updated incrementally from the logits the network produces for each example
 * each time it is trained on.
 *
 * <p>State is a fixed set of primitive arrays of length N (running sums and the
 * latest values): memory is O(N) and does not grow with the number of epochs or
 * observations; no per-epoch history of logits is kept. {@link #storedValues()}
 * reports the exact number of stored values.
 *
 * <p>One <em>observation</em> is one time an example's logits were seen
 * (normally once per epoch, during the training forward pass). From the
 * observations of example i with given label y and logits z:
 * <ul>
 *   <li>margin = z_y - max_{k != y} z_k; AUM = mean margin over observations
 *       (Pleiss et al. 2020); low or negative is suspicious;</li>
 *   <li>confidence = mean of softmax(z)_y over observations, variability = its
 *       population standard deviation (Welford's update), correctness =
 *       fraction of observations with argmax z = y (Swayamdipta et al. 2020);</li>
 *   <li>forgetting events = number of times an observation was correct and the
 *       next observation of the same example was wrong (Toneva et al. 2019);
 *       learned-since = the epoch of the first observation of the final run of
 *       correct observations (-1 while the latest observation is wrong);</li>
 *   <li>mean loss = mean of -log softmax(z)_y; last margin, last loss and
 *       the predicted label of the latest observation.</li>
 * </ul>
 * Scores for ranking suspects (higher = more suspicious) are computed by
 * {@link #scores(SuspectScore)}; {@link SuspectScore#COMBINED} documents the
 * combined score.
 *
 * <p>Not thread-safe: call {@link #observe} from one thread (the training
 * thread) or synchronise externally.
 */
public final class TrainingDynamics implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** Number of arrays of length N this state keeps (see {@link #storedValues()}). */
    public static final int VALUES_PER_EXAMPLE = 14;

    private final int n;
    private final int numClasses;

    private final int[] givenLabel;
    private final int[] count;
    private final double[] marginSum;
    private final double[] lossSum;
    private final double[] confMean;
    private final double[] confM2;
    private final int[] correctCount;
    private final int[] forgetCount;
    private final byte[] lastCorrect;
    private final int[] learnedSince;
    private final int[] predicted;
    private final float[] lastMargin;
    private final float[] lastLoss;
    private final int[] lastEpoch;

    private long observations;

    /**
     * @param numExamples N, the number of training examples; indices are 0..N-1
     * @param numClasses  number of classes (width of the logits), at least 2
     */
    public TrainingDynamics(int numExamples, int numClasses) {
        if (numExamples <= 0) {
            throw new IllegalArgumentException("numExamples must be positive, got " + numExamples);
        }
        if (numClasses < 2) {
            throw new IllegalArgumentException("numClasses must be at least 2, got " + numClasses);
        }
        this.n = numExamples;
        this.numClasses = numClasses;
        givenLabel = new int[n];
        Arrays.fill(givenLabel, -1);
        count = new int[n];
        marginSum = new double[n];
        lossSum = new double[n];
        confMean = new double[n];
        confM2 = new double[n];
        correctCount = new int[n];
        forgetCount = new int[n];
        lastCorrect = new byte[n];
        Arrays.fill(lastCorrect, (byte) -1);
        learnedSince = new int[n];
        Arrays.fill(learnedSince, -1);
        predicted = new int[n];
        Arrays.fill(predicted, -1);
        lastMargin = new float[n];
        Arrays.fill(lastMargin, Float.NaN);
        lastLoss = new float[n];
        Arrays.fill(lastLoss, Float.NaN);
        lastEpoch = new int[n];
        Arrays.fill(lastEpoch, -1);
    }

    /** N. */
    public int numExamples() {
        return n;
    }

    /** The number of classes (width of the logits). */
    public int numClasses() {
        return numClasses;
    }

    /** Total number of observations so far (all examples). */
    public long observations() {
        return observations;
    }

    /**
     * Records one observation for every row of a batch.
     *
     * @param indices stable example indices of the rows, each in [0, N)
     * @param logits  [rows, numClasses] pre-softmax outputs (any float type; not modified, not kept)
     * @param labels  [rows, numClasses] one-hot labels (the given, possibly noisy, labels)
     * @param epoch   the epoch of this observation (0-based)
     */
    public void observe(long[] indices, INDArray logits, INDArray labels, int epoch) {
        if (labels.rank() != 2 || labels.size(1) != numClasses) {
            throw new IllegalArgumentException("labels must be [rows, " + numClasses + "] one-hot, got "
                    + Arrays.toString(labels.shape()));
        }
        observe(indices, logits, labelsOf(labels), epoch);
    }

    /** The class of each row of a one-hot (or probability) label matrix: its argmax. */
    public static int[] labelsOf(INDArray oneHot) {
        int rows = (int) oneHot.size(0);
        int c = (int) oneHot.size(1);
        double[] lm = BulkRead.doubles(oneHot);
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int k = 1; k < c; k++) {
                if (lm[r * c + k] > lm[r * c + best]) {
                    best = k;
                }
            }
            y[r] = best;
        }
        return y;
    }

    /**
     * Records one observation for every row of a batch.
     *
     * @param indices stable example indices of the rows, each in [0, N)
     * @param logits  [rows, numClasses] pre-softmax outputs (not modified, not kept)
     * @param labels  the given label of each row
     * @param epoch   the epoch of this observation (0-based)
     */
    public void observe(long[] indices, INDArray logits, int[] labels, int epoch) {
        if (logits.rank() != 2 || logits.size(1) != numClasses) {
            throw new IllegalArgumentException("logits must be [rows, " + numClasses + "], got "
                    + Arrays.toString(logits.shape()));
        }
        if (logits.size(0) != indices.length || labels.length != indices.length) {
            throw new IllegalArgumentException(indices.length + " indices, " + labels.length + " labels and "
                    + logits.size(0) + " logit rows: they must match");
        }
        observe(indices, BulkRead.doubles(logits), labels, epoch);
    }

    /**
     * Records one observation for every row of a batch.
     *
     * @param indices stable example indices of the rows, each in [0, N)
     * @param logits  row-major [rows x numClasses] pre-softmax outputs
     * @param labels  the given label of each row
     * @param epoch   the epoch of this observation (0-based)
     */
    public void observe(long[] indices, double[] logits, int[] labels, int epoch) {
        if (logits.length != indices.length * numClasses || labels.length != indices.length) {
            throw new IllegalArgumentException(indices.length + " indices, " + labels.length + " labels and "
                    + logits.length + " logits (expected rows x " + numClasses + "): they must match");
        }
        double[] row = new double[numClasses];
        for (int r = 0; r < indices.length; r++) {
            System.arraycopy(logits, r * numClasses, row, 0, numClasses);
            observe(indices[r], row, labels[r], epoch);
        }
    }

    /**
     * Records one observation of one example.
     *
     * @param index  stable example index in [0, N)
     * @param logits its numClasses logits
     * @param label  its given label
     * @param epoch  the epoch of this observation
     */
    public void observe(long index, double[] logits, int label, int epoch) {
        if (index < 0 || index >= n) {
            throw new IllegalArgumentException("Example index " + index + " outside [0, " + n
                    + "): the dynamics state was created for " + n + " examples");
        }
        if (label < 0 || label >= numClasses) {
            throw new IllegalArgumentException("Label " + label + " of example " + index + " outside [0, "
                    + numClasses + ")");
        }
        int i = (int) index;
        if (givenLabel[i] >= 0 && givenLabel[i] != label) {
            throw new IllegalArgumentException("Example " + i + " was seen with label " + givenLabel[i]
                    + " before and now with label " + label
                    + ": example indices are not stable (each index must always name the same example)");
        }
        givenLabel[i] = label;

        double zy = logits[label];
        double maxOther = Double.NEGATIVE_INFINITY;
        int argmax = 0;
        double max = logits[0];
        for (int k = 0; k < numClasses; k++) {
            double v = logits[k];
            if (k != label && v > maxOther) {
                maxOther = v;
            }
            if (v > max) {
                max = v;
                argmax = k;
            }
        }
        double sumExp = 0;
        for (int k = 0; k < numClasses; k++) {
            sumExp += Math.exp(logits[k] - max);
        }
        double logP = zy - max - Math.log(sumExp);
        double p = Math.exp(logP);
        double margin = zy - maxOther;
        // a tie counts as wrong: the given label is not the unique argmax
        boolean correct = margin > 0;
        int pred = correct ? label : argmax;

        int c = ++count[i];
        marginSum[i] += margin;
        lossSum[i] += -logP;
        double delta = p - confMean[i];
        confMean[i] += delta / c;
        confM2[i] += delta * (p - confMean[i]);
        if (correct) {
            correctCount[i]++;
            if (lastCorrect[i] != 1) {
                learnedSince[i] = epoch;
            }
        } else {
            if (lastCorrect[i] == 1) {
                forgetCount[i]++;
            }
            learnedSince[i] = -1;
        }
        lastCorrect[i] = (byte) (correct ? 1 : 0);
        predicted[i] = pred;
        lastMargin[i] = (float) margin;
        lastLoss[i] = (float) -logP;
        lastEpoch[i] = epoch;
        observations++;
    }

    /** Number of observations of example i. */
    public int count(int i) {
        return count[i];
    }

    /** Whether example i was observed at least once. */
    public boolean seen(int i) {
        return count[i] > 0;
    }

    /** Number of examples observed at least once. */
    public int seenCount() {
        int s = 0;
        for (int c : count) {
            if (c > 0) {
                s++;
            }
        }
        return s;
    }

    /** Given label of example i (-1 if never observed). */
    public int givenLabel(int i) {
        return givenLabel[i];
    }

    /** Predicted label (argmax of the logits) at the latest observation (-1 if never observed). */
    public int predictedLabel(int i) {
        return predicted[i];
    }

    /** Area under the margin: mean margin over the observations (NaN if never observed). */
    public double aum(int i) {
        return count[i] == 0 ? Double.NaN : marginSum[i] / count[i];
    }

    /** Mean probability of the given label (NaN if never observed). */
    public double confidence(int i) {
        return count[i] == 0 ? Double.NaN : confMean[i];
    }

    /** Population standard deviation of the probability of the given label (NaN if never observed). */
    public double variability(int i) {
        return count[i] == 0 ? Double.NaN : Math.sqrt(Math.max(0, confM2[i] / count[i]));
    }

    /** Fraction of observations where the given label was the predicted one (NaN if never observed). */
    public double correctness(int i) {
        return count[i] == 0 ? Double.NaN : (double) correctCount[i] / count[i];
    }

    /** Mean cross-entropy loss of the given label over the observations (NaN if never observed). */
    public double meanLoss(int i) {
        return count[i] == 0 ? Double.NaN : lossSum[i] / count[i];
    }

    /** Number of forgetting events (correct at one observation, wrong at the next). */
    public int forgettingEvents(int i) {
        return forgetCount[i];
    }

    /**
     * The epoch from which example i stays learned: the epoch of the first
     * observation of the final run of correct observations; -1 if the latest
     * observation was wrong or there was none.
     */
    public int learnedSinceEpoch(int i) {
        return learnedSince[i];
    }

    /** Whether the latest observation of example i was correct. */
    public boolean lastCorrect(int i) {
        return lastCorrect[i] == 1;
    }

    /** Margin at the latest observation (NaN if never observed). */
    public double lastMargin(int i) {
        return lastMargin[i];
    }

    /** Loss at the latest observation (NaN if never observed). */
    public double lastLoss(int i) {
        return lastLoss[i];
    }

    /** Epoch of the latest observation (-1 if never observed). */
    public int lastEpoch(int i) {
        return lastEpoch[i];
    }

    /**
     * Weight of the correctness term of the combined score, in units of
     * {@link #combinedScale()} (see {@link SuspectScore#COMBINED} for how it was chosen).
     */
    public static final double CORRECTNESS_WEIGHT = 0.1;

    /**
     * The scale of the correctness term of the combined score: the population
     * standard deviation of the AUM over the observed examples (1 if undefined).
     * See {@link SuspectScore#COMBINED}.
     */
    public double combinedScale() {
        double mean = 0;
        double m2 = 0;
        int c = 0;
        for (int i = 0; i < n; i++) {
            if (count[i] > 0) {
                double v = marginSum[i] / count[i];
                c++;
                double delta = v - mean;
                mean += delta / c;
                m2 += delta * (v - mean);
            }
        }
        double s = c == 0 ? Double.NaN : Math.sqrt(m2 / c);
        return s > 0 && Double.isFinite(s) ? s : 1;
    }

    /**
     * The combined suspect score of example i with the given scale (see
     * {@link SuspectScore#COMBINED}); NaN if never observed.
     */
    public double combinedScore(int i, double scale) {
        if (count[i] == 0) {
            return Double.NaN;
        }
        return -marginSum[i] / count[i] + CORRECTNESS_WEIGHT * (1 - (double) correctCount[i] / count[i]) * scale;
    }

    /**
     * The suspect score of one kind for every example (higher = more likely
     * mislabeled); NaN for examples never observed.
     */
    public double[] scores(SuspectScore kind) {
        return kind.compute(this);
    }

    /**
     * Number of values this state stores: one per example per state array
     * ({@value #VALUES_PER_EXAMPLE} arrays of length N). Independent of the
     * number of observations and epochs.
     */
    public long storedValues() {
        Object[] arrays = {givenLabel, count, marginSum, lossSum, confMean, confM2, correctCount, forgetCount,
                lastCorrect, learnedSince, predicted, lastMargin, lastLoss, lastEpoch};
        long total = 0;
        for (Object a : arrays) {
            total += java.lang.reflect.Array.getLength(a);
        }
        return total;
    }

    /** Approximate heap size of the state in bytes. */
    public long storedBytes() {
        return (long) n * (4 + 4 + 8 + 8 + 8 + 8 + 4 + 4 + 1 + 4 + 4 + 4 + 4 + 4);
    }
}
