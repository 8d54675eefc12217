package dev.stethoscope.probes.linear;

import dev.stethoscope.probes.similarity.ConvRepresentations;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.Objects;
import java.util.Random;

/**
 * Linear classifier probe (Alain and Bengio 2016; METHODS.md section 2): multinomial softmax
 * regression with a small L2 penalty, trained on frozen activations of one layer.
 *
 * <p>Training is full-batch Adam (ND4J's fused Adam updater) on
 * {@code mean cross-entropy + l2/2 ||W||^2}, in single precision with ND4J (the
 * standardisation statistics in double), for a fixed number of steps; the bias is a constant feature, so the tiny L2 term also applies to it. Features are
 * standardised with the probe-train mean and standard deviation (constant features become 0).
 * Weights start from N(0, 0.01^2) drawn with the seed from a private {@link Random}, so the result
 * is deterministic for a seed and ND4J's global random generator (which the training network
 * may use) is never touched. The probe only reads the activation arrays it is given; it never
 * sees a network, so it cannot send gradient into one.
 *
 * <p>Cost per step: two products of [n, d] x [d, k]. Stateless and thread-safe: probes may run
 * off the training thread.
 */
public final class LinearProbe {
    /** Precision of the optimisation steps (feature statistics are computed in double). */
    private static final DataType STEP_TYPE = DataType.FLOAT;

    private LinearProbe() {
    }

    /** Probe options; immutable, use the {@code with...} methods. */
    public static final class Options {
        private final double l2;
        private final int iterations;
        private final double learningRate;
        private final long seed;
        private final ProbeFeatures features;

        private Options(double l2, int iterations, double learningRate, long seed, ProbeFeatures features) {
            this.l2 = l2;
            this.iterations = iterations;
            this.learningRate = learningRate;
            this.seed = seed;
            this.features = features;
        }

        /** l2 = 1e-4, 300 Adam steps at learning rate 0.05, seed 12345, flattened features. */
        public static Options defaults() {
            return new Options(1e-4, 300, 0.05, 12345L, ProbeFeatures.FLATTEN);
        }

        /** L2 coefficient (&gt;= 0). */
        public Options withL2(double v) {
            if (!(v >= 0) || !Double.isFinite(v)) {
                throw new IllegalArgumentException("l2 must be >= 0, got " + v);
            }
            return new Options(v, iterations, learningRate, seed, features);
        }

        /** Number of full-batch steps (&gt;= 1). */
        public Options withIterations(int v) {
            if (v < 1) {
                throw new IllegalArgumentException("iterations must be >= 1, got " + v);
            }
            return new Options(l2, v, learningRate, seed, features);
        }

        /** Adam learning rate (&gt; 0). */
        public Options withLearningRate(double v) {
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new IllegalArgumentException("learning rate must be > 0, got " + v);
            }
            return new Options(l2, iterations, v, seed, features);
        }

        /** Seed of the weight initialisation. */
        public Options withSeed(long v) {
            return new Options(l2, iterations, learningRate, v, features);
        }

        /** Feature mode for rank &gt; 2 activations. */
        public Options withFeatures(ProbeFeatures v) {
            return new Options(l2, iterations, learningRate, seed, Objects.requireNonNull(v, "features"));
        }

        public double l2() {
            return l2;
        }

        public int iterations() {
            return iterations;
        }

        public double learningRate() {
            return learningRate;
        }

        public long seed() {
            return seed;
        }

        public ProbeFeatures features() {
            return features;
        }
    }

    /**
     * Class indices from labels given either as indices ([n] or [n, 1]) or one-hot / probability rows
     * ([n, k], argmax).
     */
    public static int[] classIndices(INDArray labels) {
        if (labels.rank() == 1 || (labels.rank() == 2 && labels.columns() == 1)) {
            double[] d = labels.castTo(DataType.DOUBLE).reshape(labels.length()).toDoubleVector();
            int[] out = new int[d.length];
            for (int i = 0; i < d.length; i++) {
                if (d[i] != Math.rint(d[i]) || d[i] < 0) {
                    throw new IllegalArgumentException("Label " + d[i] + " at " + i + " is not a class index");
                }
                out[i] = (int) d[i];
            }
            return out;
        }
        if (labels.rank() != 2) {
            throw new IllegalArgumentException("Labels must be [n], [n, 1] or one-hot [n, k], got "
                    + Arrays.toString(labels.shape()));
        }
        return labels.argMax(1).toIntVector();
    }

    /** The probe's feature matrix [n, d] (double) for an activation, per the feature mode. */
    public static INDArray features(INDArray activation, ProbeFeatures mode) {
        INDArray a = mode == ProbeFeatures.GLOBAL_AVERAGE_POOL ? ConvRepresentations.globalAveragePool(activation) : activation;
        a = a.castTo(DataType.DOUBLE);
        if (a.rank() == 2) {
            return a.dup('c');
        }
        long n = a.size(0);
        return a.dup('c').reshape('c', n, a.length() / n);
    }

    /**
     * Trains a probe on {@code trainActs} and evaluates it on both sets.
     *
     * @param trainActs  probe-train activations [n, ...]
     * @param trainY     probe-train class indices (length n)
     * @param testActs   probe-test activations [n', ...] with the same per-example shape
     * @param testY      probe-test class indices
     * @param numClasses number of classes k (&gt;= 2, larger than every label)
     * @param options    probe options
     */
    public static ProbeResult train(INDArray trainActs, int[] trainY, INDArray testActs, int[] testY,
                                    int numClasses, Options options) {
        Objects.requireNonNull(options, "options");
        INDArray xtr = features(trainActs, options.features());
        INDArray xte = features(testActs, options.features());
        int n = (int) xtr.rows();
        int d = (int) xtr.columns();
        if (n == 0 || xte.rows() == 0) {
            throw new IllegalArgumentException("Probe needs at least one train and one test example, got "
                    + n + " and " + xte.rows());
        }
        if (xte.columns() != d) {
            throw new IllegalArgumentException("Probe-train has " + d + " features per example, probe-test has "
                    + xte.columns());
        }
        if (trainY.length != n || testY.length != xte.rows()) {
            throw new IllegalArgumentException("Label count mismatch: " + trainY.length + " labels for " + n
                    + " train examples, " + testY.length + " for " + xte.rows() + " test examples");
        }
        if (numClasses < 2) {
            throw new IllegalArgumentException("numClasses must be >= 2, got " + numClasses);
        }
        checkLabels(trainY, numClasses, "train");
        checkLabels(testY, numClasses, "test");
        if (!Double.isFinite(xtr.norm2Number().doubleValue()) || !Double.isFinite(xte.norm2Number().doubleValue())) {
            throw new IllegalArgumentException("Probe activations contain NaN or infinite values");
        }

        // standardise with train statistics
        INDArray mean = xtr.mean(true, 0);
        INDArray std = xtr.std(false, true, 0);
        double[] sd = std.toDoubleVector();
        for (int j = 0; j < sd.length; j++) {
            sd[j] = sd[j] > 1e-12 ? 1.0 / sd[j] : 0.0;
        }
        INDArray inv = Nd4j.createFromArray(sd).reshape(1, d);
        xtr.subiRowVector(mean).muliRowVector(inv);
        xte.subiRowVector(mean).muliRowVector(inv);

        // bias folded in as a constant feature (so it shares the small L2 term); the optimisation runs in
        // single precision (statistics above in double): half the time of double for the same accuracies
        xtr = Nd4j.hstack(xtr.castTo(STEP_TYPE), Nd4j.ones(STEP_TYPE, n, 1));
        xte = Nd4j.hstack(xte.castTo(STEP_TYPE), Nd4j.ones(STEP_TYPE, xte.rows(), 1));
        // the 1/n of the mean is folded into the transposed features once
        INDArray xtrTn = xtr.transpose().dup('c').divi(n);
        INDArray ytr = oneHot(trainY, numClasses);
        Random rnd = new Random(options.seed());
        double[] w0 = new double[(d + 1) * numClasses];
        for (int i = 0; i < w0.length; i++) {
            w0[i] = 0.01 * rnd.nextGaussian();
        }
        INDArray w = Nd4j.createFromArray(w0).reshape('c', d + 1, numClasses).castTo(STEP_TYPE);
        INDArray state = Nd4j.zeros(STEP_TYPE, 1, 2L * w.length());
        GradientUpdater adam = new Adam(options.learningRate()).instantiate(state, true);
        // buffers reused by every step: a step is 2 products, softmax, 1 subtraction, axpy, Adam, update
        INDArray logits = Nd4j.create(STEP_TYPE, new long[]{n, numClasses}, 'c');
        INDArray p = Nd4j.create(STEP_TYPE, new long[]{n, numClasses}, 'c');
        INDArray gw = Nd4j.create(STEP_TYPE, new long[]{d + 1, numClasses}, 'c');
        for (int t = 0; t < options.iterations(); t++) {
            xtr.mmul(w, logits);
            Nd4j.exec(new SoftMax(logits, p, 1));
            p.subi(ytr);
            xtrTn.mmul(p, gw);
            if (options.l2() > 0) {
                Nd4j.getBlasWrapper().level1().axpy(w.length(), options.l2(), w, gw); // gw += l2 w
            }
            adam.applyUpdater(gw, t, 0);
            w.subi(gw);
        }
        double[] tr = evaluate(xtr, trainY, w);
        double[] te = evaluate(xte, testY, w);
        return new ProbeResult(tr[0], te[0], tr[1], te[1], d, numClasses, options.iterations());
    }

    /** {@link #train(INDArray, int[], INDArray, int[], int, Options)} with default options. */
    public static ProbeResult train(INDArray trainActs, int[] trainY, INDArray testActs, int[] testY, int numClasses) {
        return train(trainActs, trainY, testActs, testY, numClasses, Options.defaults());
    }

    /** Returns {accuracy, mean cross-entropy}. */
    private static double[] evaluate(INDArray x, int[] y, INDArray w) {
        INDArray logits = x.mmul(w);
        INDArray shifted = logits.subColumnVector(logits.max(true, 1));
        INDArray logZ = Transforms.log(Transforms.exp(shifted, true).sum(true, 1), false);
        INDArray logp = shifted.subiColumnVector(logZ);
        int[] pred = logp.argMax(1).toIntVector();
        int correct = 0;
        double nll = 0;
        for (int i = 0; i < y.length; i++) {
            if (pred[i] == y[i]) {
                correct++;
            }
            nll -= logp.getDouble(i, y[i]);
        }
        return new double[]{(double) correct / y.length, nll / y.length};
    }

    private static INDArray oneHot(int[] y, int k) {
        INDArray out = Nd4j.zeros(STEP_TYPE, y.length, k);
        for (int i = 0; i < y.length; i++) {
            out.putScalar(i, y[i], 1.0);
        }
        return out;
    }

    private static void checkLabels(int[] y, int k, String set) {
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= k) {
                throw new IllegalArgumentException("Probe-" + set + " label " + y[i] + " at index " + i
                        + " is outside 0.." + (k - 1));
            }
        }
    }
}
