package dev.stethoscope.sample.bench;

import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.probes.dynamics.RankingMetrics;
import dev.stethoscope.probes.dynamics.SuspectScore;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import dev.stethoscope.sample.Models;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.DataInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Quality of the suspect ranking of {@link TrainingDynamicsListener} on MNIST
 * with injected symmetric label noise, and the listener's overhead.
 *
 * <p>Setup (issue 5): the MNIST training set (60000), a fraction {@code noise}
 * of the examples chosen at random (seeded) get a label drawn uniformly from
 * the 9 other classes (so exactly round(noise N) labels are wrong: the flipped
 * set); the MLP 784-512(ReLU)-10(softmax), Adam 1e-3, batch 128, shuffled each
 * epoch. Per epoch it prints AUROC, precision@k and recall@k (k = number
 * flipped) of the ranking by the combined score, by AUM alone, and by the
 * training loss at the latest observation ("final-epoch loss" as seen by
 * training); after the last epoch also by the loss of an inference pass over
 * the training set with the final network (the classic final-epoch loss
 * baseline).
 *
 * <p>Overhead: a second network with the same seed trains without the
 * listener, its epochs interleaved with the monitored network's, so both see
 * the same machine load; the ratio of summed epoch times (monitored / plain) is
 * printed. With {@code --copy} a third network runs the listener in
 * {@link TrainingDynamicsListener.Capture#INFERENCE_COPY} mode, for its cost.
 *
 * <p>Usage: {@code SuspectQualityBenchmark --data DIR [--noise 0.2] [--epochs 10]
 * [--seed 42] [--model mlp|cnn] [--limit N] [--copy] [--no-plain] [--identity tracked|hash] [--dump FILE.csv]}; DIR holds
 * {@code train-images-idx3-ubyte} and {@code train-labels-idx1-ubyte}.
 *
 * <p>{@code --identity hash}: the monitored network trains on the plain shuffled iterator (no example indices,
 * not wrapped by {@code track}; the listener only added with {@code addListeners}), so the listener identifies
 * examples by content hash ({@link dev.stethoscope.listeners.data.ExampleIdentity}); its indices are mapped back to
 * data-set indices (order of first appearance = the first epoch's shuffle) before the metrics, and the hashing
 * cost is printed as a ratio of CPU time (training thread's hashing CPU / the process CPU of the monitored
 * epochs, and / the plain network's epochs) measured in the same run.
 */
public final class SuspectQualityBenchmark {
    private SuspectQualityBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> a = parse(args);
        File dir = new File(require(a, "data"));
        double noise = Double.parseDouble(a.getOrDefault("noise", "0.2"));
        int epochs = Integer.parseInt(a.getOrDefault("epochs", "10"));
        long seed = Long.parseLong(a.getOrDefault("seed", "42"));
        int limit = Integer.parseInt(a.getOrDefault("limit", "60000"));
        boolean copyMode = a.containsKey("copy");
        boolean plain = !a.containsKey("no-plain");
        Models.Kind kind = Models.Kind.valueOf(a.getOrDefault("model", "mlp"));
        String identity = a.getOrDefault("identity", "tracked");
        if (!identity.equals("tracked") && !identity.equals("hash")) {
            throw new IllegalArgumentException("--identity must be one of [tracked, hash], got '" + identity + "'");
        }
        boolean hash = identity.equals("hash");
        PrintStream out = System.out;

        float[][] images = readImages(new File(dir, "train-images-idx3-ubyte"), limit);
        int[] labels = readLabels(new File(dir, "train-labels-idx1-ubyte"), limit);
        int n = images.length;
        int[] noisy = labels.clone();
        long[] flipped = injectSymmetricNoise(noisy, noise, 10, seed);
        boolean[] mask = RankingMetrics.mask(n, flipped);
        INDArray x = Nd4j.create(images);
        out.printf(Locale.ROOT, "# MNIST train N=%d, symmetric noise %.2f: %d flipped; %s, Adam 1e-3, "
                + "batch 128, %d epochs, seed %d%n", n, noise, flipped.length,
                kind == Models.Kind.mlp ? "MLP 784-512-10" : "LeNet CNN", epochs, seed);

        MultiLayerNetwork watched = Models.build(kind, seed, 28, 28, 10);
        // data-set index of each content-hash index: the order of first appearance is the first epoch's order
        int[] firstOrder = new ShuffledIterator(x, noisy, 128, seed).order.clone();
        long[] watchedFlipped = flipped;
        if (hash) {
            int[] toHash = new int[n];
            for (int h = 0; h < n; h++) {
                toHash[firstOrder[h]] = h;
            }
            watchedFlipped = Arrays.stream(flipped).map(i -> toHash[(int) i]).sorted().toArray();
        }
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(watched, new InMemoryStatsStorage())
                .numExamples(n).flippedIndices(watchedFlipped).featureShape(1, 28, 28).attach();
        DataSetIterator watchedIt = hash ? new ShuffledIterator(x, noisy, 128, seed, false)
                : l.track(new ShuffledIterator(x, noisy, 128, seed));

        MultiLayerNetwork plainNet = plain ? Models.build(kind, seed, 28, 28, 10) : null;
        DataSetIterator plainIt = plain ? new ShuffledIterator(x, noisy, 128, seed) : null;

        MultiLayerNetwork copyNet = copyMode ? Models.build(kind, seed, 28, 28, 10) : null;
        TrainingDynamicsListener lc = copyMode ? TrainingDynamicsListener.builder(copyNet, new InMemoryStatsStorage())
                .numExamples(n).flippedIndices(flipped).capture(TrainingDynamicsListener.Capture.INFERENCE_COPY)
                .attach() : null;
        DataSetIterator copyIt = copyMode ? lc.track(new ShuffledIterator(x, noisy, 128, seed)) : null;

        Map<String, Candidate> extra = candidates();
        out.println("epoch\tscore\tauroc\tprecision@k\trecall@k");
        long tWatched = 0;
        long tPlain = 0;
        long tCopy = 0;
        long cWatched = 0;
        long cPlain = 0;
        for (int e = 0; e < epochs; e++) {
            if (plain) {
                long t0 = System.nanoTime();
                long c0 = OverheadRuns.processCpuNanos();
                plainNet.fit(plainIt);
                long dt = System.nanoTime() - t0;
                tPlain += dt;
                cPlain += OverheadRuns.processCpuNanos() - c0;
                plainIt.reset();
            }
            long t0 = System.nanoTime();
            long c0 = OverheadRuns.processCpuNanos();
            watched.fit(watchedIt);
            long dtW = System.nanoTime() - t0;
            tWatched += dtW;
            cWatched += OverheadRuns.processCpuNanos() - c0;
            watchedIt.reset();
            if (copyMode) {
                long t1 = System.nanoTime();
                copyNet.fit(copyIt);
                tCopy += System.nanoTime() - t1;
                copyIt.reset();
            }
            TrainingDynamics d = l.dynamics();
            for (SuspectScore s : List.of(SuspectScore.COMBINED, SuspectScore.AUM, SuspectScore.LAST_LOSS,
                    SuspectScore.MEAN_LOSS, SuspectScore.CONFIDENCE, SuspectScore.CORRECTNESS,
                    SuspectScore.FORGETTING)) {
                report(out, e, s.key(), hash ? byDataIndex(d.scores(s), firstOrder) : d.scores(s), mask,
                        flipped.length);
            }
            for (Map.Entry<String, Candidate> c : extra.entrySet()) {
                double[] sc = new double[n];
                double scale = d.combinedScale();
                for (int i = 0; i < n; i++) {
                    sc[i] = c.getValue().score(d, i, scale);
                }
                report(out, e, c.getKey(), hash ? byDataIndex(sc, firstOrder) : sc, mask, flipped.length);
            }
            out.printf(Locale.ROOT, "# epoch %d: monitored %.2f s (capture %.3f s total so far)%s%s%n", e, dtW / 1e9,
                    l.captureNanos() / 1e9, plain ? String.format(Locale.ROOT, ", plain total %.2f s", tPlain / 1e9) : "",
                    copyMode ? String.format(Locale.ROOT, ", inference-copy total %.2f s (capture %.3f s)",
                            tCopy / 1e9, lc.captureNanos() / 1e9) : "");
            out.flush();
        }
        if (a.containsKey("dump")) {
            dump(new File(a.get("dump")), l.dynamics(), mask);
        }
        // classic baseline: loss of the final network on the training set (inference pass)
        // in batches: the whole training set at once needs ~13 GB for the CNN's conv activations
        double[] loss = new double[n];
        for (int start = 0; start < n; start += 1000) {
            int end = Math.min(n, start + 1000);
            INDArray p = watched.output(x.get(NDArrayIndex.interval(start, end), NDArrayIndex.all()), false);
            for (int i = start; i < end; i++) {
                loss[i] = -Math.log(Math.max(p.getDouble(i - start, noisy[i]), 1e-30));
            }
        }
        report(out, epochs - 1, "finalInferenceLoss", loss, mask, flipped.length);
        if (plain) {
            out.printf(Locale.ROOT, "# overhead train-pass: monitored %.2f s / plain %.2f s = %.4fx over %d epochs "
                    + "(capture itself %.3f s, epoch-end work %.3f s)%n", tWatched / 1e9, tPlain / 1e9,
                    (double) tWatched / tPlain, epochs, l.captureNanos() / 1e9, l.epochEndNanos() / 1e9);
            if (copyMode) {
                out.printf(Locale.ROOT, "# overhead inference-copy: %.2f s / plain %.2f s = %.4fx (capture itself "
                        + "%.3f s)%n", tCopy / 1e9, tPlain / 1e9, (double) tCopy / tPlain, lc.captureNanos() / 1e9);
            }
            out.printf(Locale.ROOT, "# overhead train-pass by process CPU time: %.2f s / %.2f s = %.4fx%n",
                    cWatched / 1e9, cPlain / 1e9, (double) cWatched / cPlain);
            out.printf(Locale.ROOT, "# parameters identical with and without the listener: %s%n",
                    watched.params().equalsWithEps(plainNet.params(), 0.0));
        }
        out.printf(Locale.ROOT, "# identity %s: %s; training-thread CPU in identify %.3f s (wall %.3f s) = %.4f of "
                        + "the monitored epochs' process CPU (%.2f s)%s%n", hash ? "hash" : "tracked",
                l.identitySource() == null ? "none" : l.identitySource().key(), l.identityCpuNanos() / 1e9,
                l.identityNanos() / 1e9, (double) l.identityCpuNanos() / cWatched, cWatched / 1e9,
                plain ? String.format(Locale.ROOT, ", %.4f of the plain epochs' (%.2f s)",
                        (double) l.identityCpuNanos() / cPlain, cPlain / 1e9) : "");
        if (l.identityLost() != null) {
            out.println("# identity lost: " + l.identityLost());
        }
    }

    /** Scores indexed by content-hash index, re-indexed by data-set index ({@code firstOrder[h]} = data index). */
    static double[] byDataIndex(double[] byHash, int[] firstOrder) {
        double[] out = new double[byHash.length];
        for (int h = 0; h < byHash.length; h++) {
            out[firstOrder[h]] = byHash[h];
        }
        return out;
    }

    /** Writes the final per-example statistics (for offline analysis of score designs). */
    static void dump(File f, TrainingDynamics d, boolean[] flipped) throws IOException {
        try (PrintStream out = new PrintStream(f, "UTF-8")) {
            out.println("index,flipped,given,predicted,aum,confidence,variability,correctness,meanLoss,lastMargin,"
                    + "lastLoss,forgetting,learnedSince");
            for (int i = 0; i < d.numExamples(); i++) {
                out.printf(Locale.ROOT, "%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%d%n", i, flipped[i] ? 1 : 0,
                        d.givenLabel(i), d.predictedLabel(i), d.aum(i), d.confidence(i), d.variability(i),
                        d.correctness(i), d.meanLoss(i), d.lastMargin(i), d.lastLoss(i), d.forgettingEvents(i),
                        d.learnedSinceEpoch(i));
            }
        }
    }

    /** A candidate score of example i; {@code scale} is {@link TrainingDynamics#combinedScale()} of the epoch. */
    @FunctionalInterface
    interface Candidate {
        double score(TrainingDynamics d, int i, double scale);
    }

    /** Other combinations printed for comparison (exploration of the combined score's design). */
    static Map<String, Candidate> candidates() {
        Map<String, Candidate> m = new LinkedHashMap<>();
        m.put("x:aum+loss", (d, i, s) -> -d.aum(i) + d.meanLoss(i));
        m.put("x:aum+2wrong", (d, i, s) -> -d.aum(i) + 2 * (1 - d.correctness(i)));
        for (double w : new double[]{0.25, 0.5, 1.0}) {
            m.put("x:aum+" + w + "s*wrong", (d, i, s) -> -d.aum(i) + w * s * (1 - d.correctness(i)));
        }
        m.put("x:aum-0.5last", (d, i, s) -> -d.aum(i) - 0.5 * d.lastMargin(i));
        // the forgetting score before the fix (never-learned value for any example wrong at its latest
        // observation), to compare with SuspectScore.FORGETTING in the same run
        m.put("x:forgetting-lastwrong", (d, i, s) -> d.forgettingEvents(i) + (d.learnedSinceEpoch(i) < 0 ? 1e6 : 0));
        return m;
    }

    static void report(PrintStream out, int epoch, String name, double[] scores, boolean[] mask, int k) {
        out.printf(Locale.ROOT, "%d\t%s\t%.4f\t%.4f\t%.4f%n", epoch, name, RankingMetrics.auroc(scores, mask),
                RankingMetrics.precisionAtK(scores, mask, k), RankingMetrics.recallAtK(scores, mask, k));
    }

    /**
     * Replaces the labels of round(rate N) examples, chosen at random, by a
     * different class drawn uniformly; returns their indices (sorted).
     */
    public static long[] injectSymmetricNoise(int[] labels, double rate, int classes, long seed) {
        if (rate < 0 || rate > 1) {
            throw new IllegalArgumentException("noise rate must be in [0, 1], got " + rate);
        }
        int n = labels.length;
        int m = (int) Math.round(rate * n);
        Random rnd = new Random(seed ^ 0x5DEECE66DL);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        long[] flipped = new long[m];
        for (int f = 0; f < m; f++) {
            int i = perm[f];
            labels[i] = (labels[i] + 1 + rnd.nextInt(classes - 1)) % classes;
            flipped[f] = i;
        }
        Arrays.sort(flipped);
        return flipped;
    }

    /** In-memory iterator, reshuffled (seeded) at each reset, with example indices attached. */
    static final class ShuffledIterator implements DataSetIterator {
        private static final long serialVersionUID = 1L;
        private final INDArray x;
        private final int[] labels;
        private final int batch;
        private final Random rnd;
        final int[] order;
        private final boolean withIndices;
        private int pos;

        ShuffledIterator(INDArray x, int[] labels, int batch, long seed) {
            this(x, labels, batch, seed, true);
        }

        /** With {@code withIndices == false} the batches carry no example metadata (a plain user iterator). */
        ShuffledIterator(INDArray x, int[] labels, int batch, long seed, boolean withIndices) {
            this.withIndices = withIndices;
            this.x = x;
            this.labels = labels;
            this.batch = batch;
            this.rnd = new Random(seed);
            this.order = new int[labels.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            shuffle();
        }

        private void shuffle() {
            for (int i = order.length - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }

        @Override
        public DataSet next(int num) {
            int to = Math.min(order.length, pos + num);
            long[] idx = new long[to - pos];
            INDArray y = Nd4j.zeros(DataType.FLOAT, idx.length, 10);
            for (int r = 0; r < idx.length; r++) {
                idx[r] = order[pos + r];
                y.putScalar(r, labels[order[pos + r]], 1.0);
            }
            INDArray f = x.get(NDArrayIndex.indices(idx), NDArrayIndex.all());
            DataSet ds = new DataSet(f, y);
            if (withIndices) {
                ExampleIndex.attach(ds, idx);
            }
            pos = to;
            return ds;
        }

        @Override
        public DataSet next() {
            return next(batch);
        }

        @Override
        public boolean hasNext() {
            return pos < order.length;
        }

        @Override
        public int inputColumns() {
            return (int) x.size(1);
        }

        @Override
        public int totalOutcomes() {
            return 10;
        }

        @Override
        public boolean resetSupported() {
            return true;
        }

        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            pos = 0;
            shuffle();
        }

        @Override
        public int batch() {
            return batch;
        }

        @Override
        public void setPreProcessor(DataSetPreProcessor preProcessor) {
            throw new UnsupportedOperationException("no preprocessing in the benchmark");
        }

        @Override
        public DataSetPreProcessor getPreProcessor() {
            return null;
        }

        @Override
        public List<String> getLabels() {
            return null;
        }
    }

    static float[][] readImages(File f, int limit) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(f), 1 << 16))) {
            int magic = in.readInt();
            if (magic != 2051) {
                throw new IOException(f + " is not an IDX image file (magic " + magic + ")");
            }
            int n = Math.min(in.readInt(), limit);
            int rows = in.readInt();
            int cols = in.readInt();
            float[][] out = new float[n][rows * cols];
            byte[] buf = new byte[rows * cols];
            for (int i = 0; i < n; i++) {
                in.readFully(buf);
                for (int j = 0; j < buf.length; j++) {
                    out[i][j] = (buf[j] & 0xff) / 255f;
                }
            }
            return out;
        }
    }

    static int[] readLabels(File f, int limit) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(f)))) {
            int magic = in.readInt();
            if (magic != 2049) {
                throw new IOException(f + " is not an IDX label file (magic " + magic + ")");
            }
            int n = Math.min(in.readInt(), limit);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = in.readUnsignedByte();
            }
            return out;
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        List<String> valid = List.of("data", "model", "noise", "epochs", "seed", "limit", "copy", "no-plain", "identity",
                "dump");
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("Unexpected argument '" + args[i] + "'. Options: " + valid);
            }
            String k = args[i].substring(2);
            if (!valid.contains(k)) {
                throw new IllegalArgumentException("Unknown option --" + k + ". Options: " + valid);
            }
            if (k.equals("copy") || k.equals("no-plain")) {
                m.put(k, "true");
            } else {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("--" + k + " needs a value");
                }
                m.put(k, args[++i]);
            }
        }
        return m;
    }

    private static String require(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) {
            throw new IllegalArgumentException("--" + k + " is required (directory with the MNIST IDX files)");
        }
        return v;
    }
}
