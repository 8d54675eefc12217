package dev.stethoscope.sample.bench;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.probes.similarity.ConvMode;
import dev.stethoscope.probes.similarity.ConvRepresentations;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import dev.stethoscope.probes.similarity.Representation;
import dev.stethoscope.probes.similarity.Similarity;
import dev.stethoscope.probes.similarity.SimilarityMethod;
import dev.stethoscope.probes.similarity.SimilarityOptions;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmarks of the similarity and probe monitors on MNIST (run with
 * {@code java -cp <sample jar and deps> dev.stethoscope.sample.bench.SimilarityBenchmark [cnn|mlp|all] [key=value...]}).
 *
 * <ul>
 *   <li><b>cnn</b>: time of SVCCA for every layer of the sample LeNet on {@code probe} (default 2000)
 *       test examples (forward pass on a copy, SVD step per layer, each layer against itself at a
 *       second snapshot, and the layer x layer matrix), in both conv modes, against the time of one
 *       training epoch estimated from {@code cnnBatches} (default 20) minibatches of 128 scaled to
 *       60000 examples.</li>
 *   <li><b>mlp</b>: wall time per epoch of the sample MLP with the LinearProbeListener and the
 *       SvccaListener at their defaults (each monitored epoch includes waiting for its background
 *       analyses) against the same run without them (same seed, epochs interleaved in ABBA order
 *       so both see the same machine load), on {@code trainExamples} (default 60000) examples for
 *       {@code epochs} (default 3) epochs; wall time and process CPU time (all threads, native
 *       BLAS threads included); and whether both runs end with identical parameters.</li>
 * </ul>
 */
public final class SimilarityBenchmark {
    private SimilarityBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String part = args.length > 0 ? args[0] : "all";
        int probe = intArg(args, "probe", 2000);
        int cnnBatches = intArg(args, "cnnBatches", 20);
        int trainExamples = intArg(args, "trainExamples", 60000);
        int epochs = intArg(args, "epochs", 3);
        MnistData mnist = MnistData.load(null, null);
        if (!List.of("cnn", "mlp", "all").contains(part)) {
            throw new IllegalArgumentException("Unknown part '" + part + "'. Valid: cnn, mlp, all");
        }
        if (part.equals("cnn") || part.equals("all")) {
            cnn(mnist, probe, cnnBatches);
        }
        if (part.equals("mlp") || part.equals("all")) {
            mlp(mnist, trainExamples, epochs);
        }
    }

    private static int intArg(String[] args, String key, int def) {
        for (String a : args) {
            if (a.startsWith(key + "=")) {
                return Integer.parseInt(a.substring(key.length() + 1));
            }
        }
        return def;
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void cnn(MnistData mnist, int probe, int batches) throws IOException {
        int classes = mnist.numClasses();
        MultiLayerNetwork net = Models.build(Models.Kind.cnn, 7, mnist.rows(), mnist.cols(), classes);
        LabeledImages train = mnist.train().head(batches * 128);
        IndexedArrayIterator it = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(128).shuffle(1).build();
        net.fit(IndexedArrayIterator.builder(train.features().get(NDArrayIndex.interval(0, 256)),
                train.oneHotLabels(classes).get(NDArrayIndex.interval(0, 256))).batchSize(128).build()); // warm-up
        long t0 = System.nanoTime();
        net.fit(it);
        double part = secs(t0);
        double epoch = part * mnist.train().size() / train.size();
        System.out.printf(Locale.ROOT, "CNN: %d minibatches of 128 took %.2f s -> one epoch of %d examples ~ %.1f s%n",
                batches, part, mnist.train().size(), epoch);

        INDArray x = mnist.test().features().get(NDArrayIndex.interval(0, probe));
        List<String> layers = LayerSelection.layerNames(net);
        NetworkCopy copy = NetworkCopy.of(net);
        MultiLayerNetwork other = Models.build(Models.Kind.cnn, 8, mnist.rows(), mnist.cols(), classes); // a second "snapshot"
        for (ConvMode mode : ConvMode.values()) {
            long ta = System.nanoTime();
            Map<String, INDArray> acts = LayerRepresentations.activations(copy.model(), x, layers, 500);
            Map<String, INDArray> acts2 = LayerRepresentations.activations(other, x, layers, 500);
            double tAct = secs(ta) / 2;
            List<Representation> reps = new ArrayList<>();
            List<Representation> reps2 = new ArrayList<>();
            StringBuilder per = new StringBuilder();
            long tp = System.nanoTime();
            for (String l : layers) {
                long tl = System.nanoTime();
                INDArray m = ConvRepresentations.toNeuronsByPoints(acts.get(l), mode, 4096, 1);
                reps.add(Representation.of(m, ConvRepresentations.pointLayout(acts.get(l), mode, 4096, 1)));
                per.append(String.format(Locale.ROOT, " %s %dx%d %.2fs;", l, m.rows(), m.columns(), secs(tl)));
            }
            double tPrep = secs(tp);
            for (String l : layers) {
                reps2.add(Representation.of(ConvRepresentations.toNeuronsByPoints(acts2.get(l), mode, 4096, 1),
                        ConvRepresentations.pointLayout(acts2.get(l), mode, 4096, 1)));
            }
            long tc = System.nanoTime();
            double[] self = new double[layers.size()];
            for (int i = 0; i < layers.size(); i++) {
                self[i] = Similarity.compute(SimilarityMethod.SVCCA, reps.get(i), reps2.get(i), SimilarityOptions.defaults()).value();
            }
            double tSelf = secs(tc);
            long tm = System.nanoTime();
            var matrix = LayerRepresentations.matrix(layers, reps, layers, reps, SimilarityMethod.SVCCA, SimilarityOptions.defaults());
            double tMatrix = secs(tm);
            double total = tAct + tPrep + tSelf + tMatrix;
            System.out.printf(Locale.ROOT, "CNN SVCCA, %s, %d probe examples: activations %.2f s, SVD step %.2f s (%s),"
                            + " layer vs other snapshot %.2f s, layer x layer matrix %.2f s (%d undefined pairs);"
                            + " total %.2f s = %.1f %% of one epoch%n",
                    mode, probe, tAct, tPrep, per.toString().trim(), tSelf, tMatrix, matrix.undefinedPairs(), total,
                    100 * total / epoch);
            System.out.println("  layer vs other-seed network: " + Arrays.toString(self));
        }
    }

    static void mlp(MnistData mnist, int trainExamples, int epochs) {
        int classes = mnist.numClasses();
        LabeledImages train = mnist.train().head(Math.min(trainExamples, mnist.train().size()));
        MultiLayerNetwork plain = Models.build(Models.Kind.mlp, 7, mnist.rows(), mnist.cols(), classes);
        MultiLayerNetwork watched = Models.build(Models.Kind.mlp, 7, mnist.rows(), mnist.cols(), classes);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        LabeledImages probeSet = mnist.test().head(2000);
        LinearProbeListener probes = LinearProbeListener.builder(watched, storage)
                .probeData(new DataSet(probeSet.features(), probeSet.oneHotLabels(classes))).totalEpochs(epochs).attach();
        SvccaListener svcca = SvccaListener.builder(watched, storage).totalEpochs(epochs).attach();
        IndexedArrayIterator a = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(128).shuffle(1).build();
        IndexedArrayIterator b = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(128).shuffle(1).build();
        double[] without = new double[epochs];
        double[] with = new double[epochs];
        double[] cpuWithout = new double[epochs];
        double[] cpuWith = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            // ABBA order, so neither run always goes first; the monitored epoch includes waiting for its
            // background analyses (flush), so no work spills into the next measurement
            boolean plainFirst = e % 2 == 0;
            for (int k = 0; k < 2; k++) {
                boolean plainNow = (k == 0) == plainFirst;
                long c0 = cpu();
                long t0 = System.nanoTime();
                if (plainNow) {
                    plain.fit(a);
                    without[e] = secs(t0);
                    cpuWithout[e] = (cpu() - c0) / 1e9;
                } else {
                    watched.fit(b);
                    probes.flush();
                    svcca.flush();
                    with[e] = secs(t0);
                    cpuWith[e] = (cpu() - c0) / 1e9;
                }
            }
            System.out.printf(Locale.ROOT, "MLP epoch %d: without %.2f s (cpu %.2f s), with probes+svcca %.2f s (cpu %.2f s)%n",
                    e + 1, without[e], cpuWithout[e], with[e], cpuWith[e]);
        }
        long tf = System.nanoTime();
        probes.finish();
        svcca.finish();
        double finish = secs(tf);
        System.out.printf(Locale.ROOT, "MLP (%d examples, %d epochs, batch 128): median epoch wall time without %.2f s,"
                        + " with %.2f s, ratio %.3f; median process CPU time without %.2f s, with %.2f s, ratio %.3f;"
                        + " finish() after the last epoch %.2f s%n",
                train.size(), epochs, median(without), median(with), median(with) / median(without),
                median(cpuWithout), median(cpuWith), median(cpuWith) / median(cpuWithout), finish);
        System.out.println("identical parameters after training: " + plain.params().equals(watched.params())
                + "; monitor errors: probes " + probes.errorCount() + ", svcca " + svcca.errorCount());
        probes.close();
        svcca.close();
    }

    private static long cpu() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0L;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
