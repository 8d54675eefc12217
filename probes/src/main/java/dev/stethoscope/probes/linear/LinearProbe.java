package dev.stethoscope.probes.linear;

import dev.stethoscope.probes.similarity.ConvRepresentations;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.Objects;
import java.util.Random;

/**
 * Linear classifier probe (Alain and Bengio 2016; METHODS.md section 2): multinomial softmax
 * regression with an L2 penalty, trained on frozen activations of one layer.
 *
 * <p>Training is full-batch Adam (ND4J's fused Adam updater, learning rate 0.05 decaying as
 * {@code 0.05 / (1 + t/100)} over the steps t of a fit) on
 * {@code mean cross-entropy + l2/2 ||W||^2} (the bias, a constant feature, is not penalised), in
 * single precision with ND4J (the standardisation statistics in double). Features are
 * standardised with the probe-train mean and standard deviation (constant features become 0;
 * a standard deviation below a tenth of the features' root-mean-square one is floored there, see
 * {@link #standardisationScales}).
 *
 * <p><b>Choice of L2.</b> With hundreds of features and about a thousand probe-train examples the
 * classes are usually linearly separable: with a tiny L2 the loss keeps falling towards 0 as the
 * weights grow, the optimiser never converges, and the test accuracy depends on where it happened
 * to stop (measured on the sample's 512-unit layer: docs/PROBES_AND_SIMILARITY.md, "Linear
 * probe"). By default L2 is chosen on a held-out
 * split of the probe-train set: every 5th probe-train example is held out, probes with L2 from
 * {@link Options#DEFAULT_L2_GRID} are fitted on the rest along a warm-started path from the largest
 * L2 to the smallest (100 Adam steps for the first, 30 more for each next), and the L2 with the
 * lowest held-out cross-entropy is refitted on the whole probe-train set for the full number of
 * steps (300) from the usual initialisation. The probe-test set is never used for the choice.
 * {@link Options#withL2(double)} fixes L2 instead (no selection). The result reports the L2 used,
 * the held-out losses and the final gradient norm (convergence).
 *
 * <p>Weights start from N(0, 0.01^2) drawn with the seed from a private {@link Random}, so the result
 * is deterministic for a seed and ND4J's global random generator (which the training network
 * may use) is never touched. The probe only reads the activation arrays it is given; it never
 * sees a network, so it cannot send gradient into one.
 *
 * <p>Cost per step: two products of [n, d] x [d, k]; with selection 220 steps on the 4/5 split
 * (0.8 * 220 = 176 full-size steps) plus the final 300 steps, about 1.6 times the steps of one fit. Stateless and
 * thread-safe: probes may run off the training thread.
 */
public final class LinearProbe {
    /** Precision of the optimisation steps (feature statistics are computed in double). */
    private static final DataType STEP_TYPE = DataType.FLOAT;

    private LinearProbe() {
    }

    /** Probe options; immutable, use the {@code with...} methods. */
    public static final class Options implements java.io.Serializable {
        @java.io.Serial
        private static final long serialVersionUID = 1L;
        /** L2 values tried by default, largest first (held-out selection). */
        public static final double[] DEFAULT_L2_GRID = {1e-1, 3e-2, 1e-2, 3e-3, 1e-3};
        /** Adam steps for the first L2 of the selection path, and for each further one (warm-started). */
        public static final int SELECTION_FIRST_STEPS = 100;
        public static final int SELECTION_NEXT_STEPS = 30;
        /** Every {@code HOLD_OUT_EVERY}-th probe-train example is held out for the L2 selection. */
        public static final int HOLD_OUT_EVERY = 5;

        private final double l2;
        private final double[] l2Grid;
        private final int iterations;
        private final double learningRate;
        private final long seed;
        private final ProbeFeatures features;
        private final int maxFeatures;

        private Options(double l2, double[] l2Grid, int iterations, double learningRate, long seed,
                        ProbeFeatures features) {
            this(l2, l2Grid, iterations, learningRate, seed, features, 0);
        }

        private Options(double l2, double[] l2Grid, int iterations, double learningRate, long seed,
                        ProbeFeatures features, int maxFeatures) {
            this.l2 = l2;
            this.l2Grid = l2Grid;
            this.iterations = iterations;
            this.learningRate = learningRate;
            this.seed = seed;
            this.features = features;
            this.maxFeatures = maxFeatures;
        }

        /**
         * L2 chosen on a held-out split of probe-train from {@link #DEFAULT_L2_GRID}, 300 Adam steps at
         * learning rate 0.05, seed 12345, flattened features.
         */
        public static Options defaults() {
            return new Options(Double.NaN, DEFAULT_L2_GRID.clone(), 300, 0.05, 12345L, ProbeFeatures.FLATTEN);
        }

        /** A fixed L2 coefficient (&gt;= 0): no held-out selection. */
        public Options withL2(double v) {
            if (!(v >= 0) || !Double.isFinite(v)) {
                throw new IllegalArgumentException("l2 must be >= 0, got " + v);
            }
            return new Options(v, null, iterations, learningRate, seed, features, maxFeatures);
        }

        /** Select L2 from these values (each &gt;= 0, at least one) on a held-out split of probe-train. */
        public Options withL2Grid(double... grid) {
            if (grid == null || grid.length == 0) {
                throw new IllegalArgumentException("the L2 grid needs at least one value");
            }
            double[] g = grid.clone();
            for (double v : g) {
                if (!(v >= 0) || !Double.isFinite(v)) {
                    throw new IllegalArgumentException("l2 values must be >= 0, got " + v);
                }
            }
            // largest first: the warm-started path goes from the smoothest problem to the least smooth
            Arrays.sort(g);
            for (int i = 0; i < g.length / 2; i++) {
                double t = g[i];
                g[i] = g[g.length - 1 - i];
                g[g.length - 1 - i] = t;
            }
            return new Options(Double.NaN, g, iterations, learningRate, seed, features, maxFeatures);
        }

        /** Number of full-batch steps of the final fit (&gt;= 1). */
        public Options withIterations(int v) {
            if (v < 1) {
                throw new IllegalArgumentException("iterations must be >= 1, got " + v);
            }
            return new Options(l2, l2Grid, v, learningRate, seed, features, maxFeatures);
        }

        /** Adam learning rate (&gt; 0). */
        public Options withLearningRate(double v) {
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new IllegalArgumentException("learning rate must be > 0, got " + v);
            }
            return new Options(l2, l2Grid, iterations, v, seed, features, maxFeatures);
        }

        /** Seed of the weight initialisation. */
        public Options withSeed(long v) {
            return new Options(l2, l2Grid, iterations, learningRate, v, features, maxFeatures);
        }

        /**
         * Caps a probe's width: a rank-3 or rank-4 activation (conv, [n, c, h, w]) whose flattened size
         * c*h*w is above {@code max} is first average-pooled over positions in k x k windows (stride k,
         * the last window of a row or column may be smaller), with the smallest k that brings it to at
         * most {@code max} features (or to one position per channel). 0 (the default) never pools. A
         * probe costs time and memory in proportion to its width, and a probe of a very wide layer on a
         * thousand examples is under-determined (LeNet conv1: 11 520 features, a fit that does not
         * converge, docs/PROBES_AND_SIMILARITY.md); the presets of {@code Stethoscope} use 2048.
         * Ignored by {@link ProbeFeatures#GLOBAL_AVERAGE_POOL} (already one feature per channel).
         */
        public Options withMaxFeatures(int max) {
            if (max < 0) {
                throw new IllegalArgumentException("maxFeatures must be >= 0 (0 = never pool), got " + max);
            }
            return new Options(l2, l2Grid, iterations, learningRate, seed, features, max);
        }

        /** Feature mode for rank &gt; 2 activations. */
        public Options withFeatures(ProbeFeatures v) {
            return new Options(l2, l2Grid, iterations, learningRate, seed, Objects.requireNonNull(v, "features"), maxFeatures);
        }

        /** The fixed L2 coefficient, or NaN when it is selected from {@link #l2Grid()}. */
        public double l2() {
            return l2;
        }

        /** The L2 values to select from (largest first), or null for a fixed L2. */
        public double[] l2Grid() {
            return l2Grid == null ? null : l2Grid.clone();
        }

        /** Whether L2 is chosen on a held-out split. */
        public boolean selectsL2() {
            return l2Grid != null;
        }

        /** A short description of the L2 setting, for records and the page. */
        public String l2Description() {
            return l2Grid == null ? String.valueOf(l2) : "held-out choice from " + Arrays.toString(l2Grid);
        }

        /** Gradient steps of each probe fit. */
        public int iterations() {
            return iterations;
        }

        /** Step size of the probe's gradient descent. */
        public double learningRate() {
            return learningRate;
        }

        /** Seed of the probe's initial weights and of the held-out split that chooses L2. */
        public long seed() {
            return seed;
        }

        /** How rank &gt; 2 (convolutional) activations become a probe's features. */
        public ProbeFeatures features() {
            return features;
        }

        /** The width above which conv activations are average-pooled over positions (0 = never). */
        public int maxFeatures() {
            return maxFeatures;
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
        return features(activation, mode, 0);
    }

    /**
     * The probe's feature matrix [n, d] (double) for an activation, per the feature mode, average-pooled
     * over positions first when wider than {@code maxFeatures} (see {@link Options#withMaxFeatures}).
     */
    public static INDArray features(INDArray activation, ProbeFeatures mode, int maxFeatures) {
        INDArray a = mode == ProbeFeatures.GLOBAL_AVERAGE_POOL ? ConvRepresentations.globalAveragePool(activation)
                : maxFeatures > 0 ? poolPositions(activation, maxFeatures) : activation;
        INDArray d = a.castTo(DataType.DOUBLE);
        INDArray out = d.rank() == 2 ? d.dup('c') : d.dup('c').reshape('c', d.size(0), d.length() / d.size(0));
        // free the intermediates now rather than at the next garbage collection (never the caller's array)
        if (d != activation && d != a) {
            release(d);
        }
        if (a != activation) {
            release(a);
        }
        return out;
    }

    /**
     * The pooling window k for a rank-3 or rank-4 activation shape so that its flattened width is at
     * most {@code maxFeatures} (smallest such k, at most the largest spatial size); 1 when it already
     * fits or the rank is 2.
     */
    public static int poolWindow(long[] shape, int maxFeatures) {
        if (shape.length < 3 || shape.length > 4 || maxFeatures <= 0) {
            return 1;
        }
        long c = shape[1];
        long h = shape[2];
        long w = shape.length == 4 ? shape[3] : 1;
        long largest = Math.max(h, w);
        for (int k = 1; k < largest; k++) {
            if (c * ceilDiv(h, k) * ceilDiv(w, k) <= maxFeatures) {
                return k;
            }
        }
        return (int) Math.max(1, largest);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /**
     * Average-pools a rank-3 ([n, c, t]) or rank-4 ([n, c, h, w]) activation over positions in windows
     * of {@link #poolWindow} (stride = window, a last partial window averages the positions it has),
     * returning [n, c, h', w'] (or [n, c, t']); other ranks, and activations already at most
     * {@code maxFeatures} wide, are returned as they are.
     */
    public static INDArray poolPositions(INDArray activation, int maxFeatures) {
        long[] shape = activation.shape();
        int k = poolWindow(shape, maxFeatures);
        if (k <= 1) {
            return activation;
        }
        int n = (int) shape[0];
        int c = (int) shape[1];
        int h = (int) shape[2];
        int w = shape.length == 4 ? (int) shape[3] : 1;
        int oh = (int) ceilDiv(h, k);
        int ow = (int) ceilDiv(w, shape.length == 4 ? k : 1);
        int kw = shape.length == 4 ? k : 1;
        INDArray src = activation.castTo(DataType.DOUBLE);
        double[] x = Nd4j.toFlattened('c', src).toDoubleVector();
        double[] out = new double[n * c * oh * ow];
        for (int e = 0, o = 0; e < n; e++) {
            for (int ch = 0; ch < c; ch++) {
                int base = (e * c + ch) * h * w;
                for (int i = 0; i < oh; i++) {
                    int r0 = i * k;
                    int r1 = Math.min(h, r0 + k);
                    for (int j = 0; j < ow; j++, o++) {
                        int c0 = j * kw;
                        int c1 = Math.min(w, c0 + kw);
                        double sum = 0;
                        for (int r = r0; r < r1; r++) {
                            for (int q = c0; q < c1; q++) {
                                sum += x[base + r * w + q];
                            }
                        }
                        out[o] = sum / ((r1 - r0) * (c1 - c0));
                    }
                }
            }
        }
        long[] outShape = shape.length == 4 ? new long[]{n, c, oh, ow} : new long[]{n, c, oh};
        return Nd4j.createFromArray(out).reshape('c', outShape);
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
        INDArray xtr = features(trainActs, options.features(), options.maxFeatures());
        INDArray xte = features(testActs, options.features(), options.maxFeatures());
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

        // standardise with train statistics (near-constant features: see standardisationScales)
        INDArray mean = xtr.mean(true, 0);
        double[] sd = standardisationScales(xtr.std(false, true, 0).toDoubleVector());
        INDArray inv = Nd4j.createFromArray(sd).reshape(1, d);
        xtr.subiRowVector(mean).muliRowVector(inv);
        xte.subiRowVector(mean).muliRowVector(inv);

        // bias folded in as a constant feature (not penalised); the optimisation runs in single precision
        // (statistics above in double): half the time of double for the same accuracies
        xtr = withBiasColumn(xtr);
        xte = withBiasColumn(xte);

        double l2;
        double[] grid = options.l2Grid();
        double[] heldOutLoss = null;
        if (grid != null && grid.length > 1) {
            int every = Options.HOLD_OUT_EVERY;
            int nHold = n / every;
            if (nHold < 1 || n - nHold < 2) {
                throw new IllegalArgumentException("L2 selection needs at least " + every + " probe-train examples, got "
                        + n + "; use Options.withL2 to fix L2");
            }
            int[] fitIdx = new int[n - nHold];
            int[] holdIdx = new int[nHold];
            for (int i = 0, a = 0, b = 0; i < n; i++) {
                if (i % every == every - 1 && b < nHold) {
                    holdIdx[b++] = i;
                } else {
                    fitIdx[a++] = i;
                }
            }
            INDArray xFit = xtr.getRows(fitIdx);
            INDArray xHold = xtr.getRows(holdIdx);
            int[] yFit = new int[fitIdx.length];
            int[] yHold = new int[holdIdx.length];
            for (int i = 0; i < fitIdx.length; i++) {
                yFit[i] = trainY[fitIdx[i]];
            }
            for (int i = 0; i < holdIdx.length; i++) {
                yHold[i] = trainY[holdIdx[i]];
            }
            heldOutLoss = new double[grid.length];
            Fit path = new Fit(xFit, yFit, numClasses, options);
            int best = 0;
            for (int g = 0; g < grid.length; g++) {
                path.run(grid[g], g == 0 ? Options.SELECTION_FIRST_STEPS : Options.SELECTION_NEXT_STEPS);
                heldOutLoss[g] = evaluate(xHold, yHold, path.w)[1];
                if (heldOutLoss[g] < heldOutLoss[best]) {
                    best = g;
                }
            }
            l2 = grid[best];
            path.close();
            release(xFit);
            release(xHold);
        } else {
            l2 = grid != null ? grid[0] : options.l2();
        }
        Fit fit = new Fit(xtr, trainY, numClasses, options);
        fit.run(l2, options.iterations());
        double gradNorm = fit.gradientNorm(l2);
        double[] tr = evaluate(xtr, trainY, fit.w);
        double[] te = evaluate(xte, testY, fit.w);
        fit.close();
        release(xtr);
        release(xte);
        return new ProbeResult(tr[0], te[0], tr[1], te[1], d, numClasses, options.iterations(), l2, gradNorm,
                grid, heldOutLoss);
    }

    /** Frees an array of this class's own now (when ND4J allows it), instead of at a garbage collection. */
    private static void release(INDArray a) {
        if (a != null && a.closeable()) {
            a.close();
        }
    }

    /** [x (single precision), 1]; closes {@code x} (a double matrix of this class's own). */
    private static INDArray withBiasColumn(INDArray x) {
        INDArray f = x.castTo(STEP_TYPE);
        INDArray ones = Nd4j.ones(STEP_TYPE, x.rows(), 1);
        INDArray out = Nd4j.hstack(f, ones);
        release(f);
        release(ones);
        release(x);
        return out;
    }

    /** A feature's standard deviation is floored at this fraction of the root mean square of all of them. */
    public static final double STD_FLOOR_FRACTION = 0.1;

    /**
     * The factors that standardise each feature: 1/std, with std floored at
     * {@link #STD_FLOOR_FRACTION} times the root mean square of the features' stds (a scale that
     * near-constant features cannot drag down, even when they are most of the features); 0 for a
     * constant feature (std &lt;= 1e-12).
     *
     * <p>Why the floor: a feature that is almost constant on probe-train (a conv position at the
     * image border that is nearly always 0) but not on probe-test would otherwise be multiplied by
     * a huge 1/std; on LeNet's first conv layer such features reached thousands of standard units on
     * probe-test, and the probe's test accuracy on one network jumped with changes of 1e-7 in the
     * activations (measured in docs/PROBES_AND_SIMILARITY.md, "Probe test accuracy by depth"). With
     * the floor such a feature
     * keeps less than a tenth of a typical feature's spread on probe-train and cannot dominate the
     * logits on probe-test; features of ordinary spread are standardised as before.
     */
    static double[] standardisationScales(double[] std) {
        double sumSq = 0;
        for (double v : std) {
            sumSq += v * v;
        }
        double floor = std.length == 0 ? 0 : STD_FLOOR_FRACTION * Math.sqrt(sumSq / std.length);
        double[] inv = new double[std.length];
        for (int j = 0; j < std.length; j++) {
            inv[j] = std[j] > 1e-12 ? 1.0 / Math.max(std[j], floor) : 0.0;
        }
        return inv;
    }

    /** Full-batch Adam on mean cross-entropy + l2/2 ||W||^2 (bias row not penalised); state kept across runs. */
    private static final class Fit {
        private final INDArray x;
        private final INDArray xTn;
        private final INDArray y;
        private final INDArray w;
        private final INDArray wTop;
        private final INDArray gw;
        private final INDArray gwTop;
        private final INDArray logits;
        private final INDArray p;
        private final GradientUpdater adam;
        private int t;

        Fit(INDArray x, int[] labels, int numClasses, Options options) {
            int n = (int) x.rows();
            int d1 = (int) x.columns();
            this.x = x;
            // the 1/n of the mean is folded into the transposed features once
            this.xTn = x.transpose().dup('c').divi(n);
            this.y = oneHot(labels, numClasses);
            Random rnd = new Random(options.seed());
            double[] w0 = new double[d1 * numClasses];
            for (int i = 0; i < w0.length; i++) {
                w0[i] = 0.01 * rnd.nextGaussian();
            }
            this.w = Nd4j.createFromArray(w0).reshape('c', d1, numClasses).castTo(STEP_TYPE);
            this.wTop = w.get(NDArrayIndex.interval(0, d1 - 1), NDArrayIndex.all());
            INDArray state = Nd4j.zeros(STEP_TYPE, 1, 2L * w.length());
            // step size decays as lr / (1 + t / 100): a constant-rate full-batch Adam keeps oscillating on
            // wide layers (thousands of features) instead of settling at the optimum of this convex objective
            this.adam = new Adam(new org.nd4j.linalg.schedule.InverseSchedule(
                    org.nd4j.linalg.schedule.ScheduleType.ITERATION, options.learningRate(), 0.01, 1.0))
                    .instantiate(state, true);
            // buffers reused by every step: a step is 2 products, softmax, 1 subtraction, axpy, Adam, update
            this.logits = Nd4j.create(STEP_TYPE, new long[]{n, numClasses}, 'c');
            this.p = Nd4j.create(STEP_TYPE, new long[]{n, numClasses}, 'c');
            this.gw = Nd4j.create(STEP_TYPE, new long[]{d1, numClasses}, 'c');
            this.gwTop = gw.get(NDArrayIndex.interval(0, d1 - 1), NDArrayIndex.all());
        }

        /** The gradient of the objective at the current weights into {@code gw}. */
        private void gradient(double l2) {
            x.mmul(w, logits);
            Nd4j.exec(new SoftMax(logits, p, 1));
            p.subi(y);
            xTn.mmul(p, gw);
            if (l2 > 0) {
                gwTop.addi(wTop.mul(l2)); // gw += l2 w, bias row excluded
            }
        }

        void run(double l2, int steps) {
            for (int s = 0; s < steps; s++) {
                gradient(l2);
                adam.applyUpdater(gw, t++, 0);
                w.subi(gw);
            }
        }

        /** Frees the fit's arrays (the features it was given stay the caller's). */
        void close() {
            for (INDArray a : new INDArray[]{xTn, y, w, gw, logits, p}) {
                release(a);
            }
        }

                /** Euclidean norm of the objective's gradient at the current weights (0 at the optimum). */
        double gradientNorm(double l2) {
            gradient(l2);
            return gw.norm2Number().doubleValue();
        }
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
