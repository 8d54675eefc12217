package dev.stethoscope.probes.memorization;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The data transforms of Zhang et al.'s randomisation tests (METHODS.md section 6),
 * applied per example and seeded by (seed, stable example index): the same
 * example gets the same corrupted label or pixels in every epoch and in every
 * run with the same seed, whatever the batch order. Use with {@link RandomizedIterator}.
 *
 * <ul>
 *   <li>{@link #corruptLabels(double, long)}: each label is replaced, with probability p,
 *       by a class drawn uniformly from all k classes (so it actually changes with
 *       probability p (k-1)/k);</li>
 *   <li>{@link #randomLabels(long)}: p = 1;</li>
 *   <li>{@link #shuffledPixels(long)}: one fixed permutation of the pixels, the same for
 *       every image (train and test: use the same seed for both);</li>
 *   <li>{@link #randomPixels(long)}: an independent permutation per image;</li>
 *   <li>{@link #gaussian(double, double, long)}: every pixel drawn from N(mean, std^2), the data
 *       set's mean and variance ({@link #gaussianLike(DataSetIterator, long)} measures them).</li>
 * </ul>
 * For test or validation data use {@link #forHeldOutData()}: per-example draws are then
 * independent of the training example with the same index.
 * Pixels: for features of rank 4 [n, c, h, w] the h*w positions are permuted (the same
 * way in every channel); otherwise every feature value of an example is permuted.
 */
public interface Randomization extends Serializable {

    /**
     * Transforms one batch.
     *
     * @param batch   features and labels (not modified)
     * @param indices stable index of every example of the batch
     * @return a new data set (the caller keeps masks and metadata)
     */
    DataSet apply(DataSet batch, long[] indices);

    /** A short description with the parameters, e.g. {@code labels:p=0.2,seed=1}. */
    String describe();

    /**
     * The same transform for a second data set (test or validation data) whose examples are
     * indexed from 0 like the training set's: what is drawn per example (Gaussian pixels, the
     * per-image permutation of random pixels) is drawn independently of the training example
     * with the same index, while what is shared by all examples (the one permutation of shuffled
     * pixels, the Gaussian's mean and variance, the label corruption's p) stays the same.
     * Without this, test example i would receive exactly the Gaussian pixels of training
     * example i, i.e. a memorised training input.
     */
    default Randomization forHeldOutData() {
        return this;
    }

    /** The seed of the held-out data's per-example draws, derived from {@code seed}, independent of it. */
    static long heldOutSeed(long seed) {
        return rngFor(seed, -3, 5).nextLong();
    }

    /** Partial label corruption with probability {@code p} (0 &lt;= p &lt;= 1). */
    static Randomization corruptLabels(double p, long seed) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("Label corruption probability must be in [0, 1], got " + p);
        }
        return new LabelCorruption(p, seed);
    }

    /** Every label replaced by a uniformly random class. */
    static Randomization randomLabels(long seed) {
        return new LabelCorruption(1.0, seed);
    }

    /** One fixed pixel permutation for all images. */
    static Randomization shuffledPixels(long seed) {
        return new PixelPermutation(false, seed);
    }

    /** An independent pixel permutation per image. */
    static Randomization randomPixels(long seed) {
        return new PixelPermutation(true, seed);
    }

    /** Pixels drawn from N(mean, std^2), independently per image and pixel. */
    static Randomization gaussian(double mean, double std, long seed) {
        if (!Double.isFinite(mean) || !(std >= 0) || !Double.isFinite(std)) {
            throw new IllegalArgumentException("Gaussian pixels need a finite mean and std >= 0, got "
                    + mean + ", " + std);
        }
        return new GaussianPixels(mean, std, seed);
    }

    /**
     * Gaussian pixels with the mean and variance of all feature values of
     * {@code data} (one pass over it; it is reset before and after).
     */
    static Randomization gaussianLike(DataSetIterator data, long seed) {
        double[] mv = featureMeanAndVariance(data);
        return gaussian(mv[0], Math.sqrt(mv[1]), seed);
    }

    /** Mean and (population) variance of every feature value of {@code data}; resets it before and after. */
    static double[] featureMeanAndVariance(DataSetIterator data) {
        if (data.resetSupported()) {
            data.reset();
        }
        double n = 0;
        double sum = 0;
        double sumSq = 0;
        while (data.hasNext()) {
            // accumulate in double: float sums over a whole data set lose digits
            INDArray f = data.next().getFeatures().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
            n += f.length();
            sum += f.sumNumber().doubleValue();
            sumSq += f.mul(f).sumNumber().doubleValue();
        }
        if (data.resetSupported()) {
            data.reset();
        }
        if (n == 0) {
            throw new IllegalArgumentException("The data set is empty: cannot measure its mean and variance");
        }
        double mean = sum / n;
        return new double[]{mean, Math.max(0, sumSq / n - mean * mean)};
    }

    /** A generator for (seed, example index, stream), independent of call order. */
    static SplittableRandom rngFor(long seed, long index, long stream) {
        long h = seed * 0x9E3779B97F4A7C15L + index;
        h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L + stream * 0xD1B54A32D192ED03L;
        h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
        return new SplittableRandom(h ^ (h >>> 31));
    }

    /** Partial or full label corruption. */
    record LabelCorruption(double p, long seed) implements Randomization {
        @Override
        public DataSet apply(DataSet batch, long[] indices) {
            INDArray labels = batch.getLabels();
            if (labels == null || labels.rank() != 2) {
                throw new IllegalArgumentException("Label corruption needs 2-d one-hot labels [examples, classes], got "
                        + (labels == null ? "none" : java.util.Arrays.toString(labels.shape())));
            }
            int k = (int) labels.size(1);
            INDArray out = labels.dup();
            for (int i = 0; i < indices.length; i++) {
                SplittableRandom r = rngFor(seed, indices[i], 1);
                if (r.nextDouble() < p) {
                    int c = r.nextInt(k);
                    INDArray row = out.getRow(i);
                    row.assign(0);
                    row.putScalar(c, 1.0);
                }
            }
            return new DataSet(batch.getFeatures(), out);
        }

        @Override
        public String describe() {
            return p >= 1 ? "random-labels(seed=" + seed + ")"
                    : String.format(Locale.ROOT, "labels(p=%s,seed=%d)", p, seed);
        }
    }

    /** Pixel permutation: one for all images, or one per image. */
    record PixelPermutation(boolean perImage, long seed) implements Randomization {
        @Override
        public DataSet apply(DataSet batch, long[] indices) {
            INDArray f = batch.getFeatures();
            long[] shape = f.shape();
            int n = (int) shape[0];
            int channels = shape.length == 4 ? (int) shape[1] : 1;
            int positions = (int) (f.length() / n / channels);
            double[] data = f.dup('c').data().asDouble();
            double[] out = new double[data.length];
            int[] shared = perImage ? null : permutation(positions, rngFor(seed, -1, 2));
            int perExample = channels * positions;
            for (int e = 0; e < n; e++) {
                int[] perm = perImage ? permutation(positions, rngFor(seed, indices[e], 3)) : shared;
                for (int c = 0; c < channels; c++) {
                    int base = e * perExample + c * positions;
                    for (int j = 0; j < positions; j++) {
                        out[base + j] = data[base + perm[j]];
                    }
                }
            }
            INDArray nf = Nd4j.create(out, shape, 'c').castTo(f.dataType());
            return new DataSet(nf, batch.getLabels());
        }

        /** Shuffled pixels: this (the same permutation); random pixels: independent per-image permutations. */
        @Override
        public Randomization forHeldOutData() {
            return perImage ? new PixelPermutation(true, Randomization.heldOutSeed(seed)) : this;
        }

        /** The permutation used for all images (shuffled pixels), for {@code positions} pixel positions. */
        public int[] sharedPermutation(int positions) {
            return permutation(positions, rngFor(seed, -1, 2));
        }

        @Override
        public String describe() {
            return (perImage ? "random-pixels" : "shuffled-pixels") + "(seed=" + seed + ")";
        }

        private static int[] permutation(int n, SplittableRandom r) {
            int[] p = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = i;
            }
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
            return p;
        }
    }

    /** Gaussian pixels with a given mean and standard deviation. */
    record GaussianPixels(double mean, double std, long seed) implements Randomization {
        @Override
        public DataSet apply(DataSet batch, long[] indices) {
            INDArray f = batch.getFeatures();
            int n = (int) f.size(0);
            int d = (int) (f.length() / n);
            double[] out = new double[n * d];
            for (int e = 0; e < n; e++) {
                SplittableRandom r = rngFor(seed, indices[e], 4);
                for (int j = 0; j < d; j++) {
                    out[e * d + j] = mean + std * r.nextGaussian();
                }
            }
            INDArray nf = Nd4j.create(out, f.shape(), 'c').castTo(f.dataType());
            return new DataSet(nf, batch.getLabels());
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "gaussian(mean=%.6g,std=%.6g,seed=%d)", mean, std, seed);
        }

        /** The same mean and standard deviation, pixels drawn independently of the training examples'. */
        @Override
        public Randomization forHeldOutData() {
            return new GaussianPixels(mean, std, Randomization.heldOutSeed(seed));
        }
    }
}
