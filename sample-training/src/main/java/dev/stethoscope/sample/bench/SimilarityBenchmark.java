package dev.stethoscope.sample.bench;

import dev.stethoscope.listeners.core.Schedule;
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
 *       SvccaListener at their defaults against the same run without them: whole runs of
 *       {@code epochs} (default 3) epochs on {@code trainExamples} (default 60000) examples, from
 *       the same seed, {@code pairs} (default 2) of each in ABBA order ({@link OverheadRuns}; a
 *       monitored run includes waiting for its last background analyses); wall time and process
 *       CPU time (all threads, native BLAS threads included); and whether all runs end with
 *       identical parameters.</li>
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
            mlp(mnist, trainExamples, epochs, intArg(args, "pairs", 2));
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

    static void mlp(MnistData mnist, int trainExamples, int epochs, int pairs) throws Exception {
        int classes = mnist.numClasses();
        LabeledImages train = mnist.train().head(Math.min(trainExamples, mnist.train().size()));
        LabeledImages probeSet = mnist.test().head(2000);
        int[] errors = new int[1];
        OverheadRuns.Result res = OverheadRuns.measure((monitored, runEpochs) -> {
            MultiLayerNetwork net = Models.build(Models.Kind.mlp, 7, mnist.rows(), mnist.cols(), classes);
            LinearProbeListener probes = null;
            SvccaListener svcca = null;
            if (monitored) {
                InMemoryStatsStorage storage = new InMemoryStatsStorage();
                probes = LinearProbeListener.builder(net, storage).probeData(new DataSet(probeSet.features(),
                        probeSet.oneHotLabels(classes))).schedule(Schedule.epochs(1).andLast().totalEpochs(runEpochs)).attach();
                svcca = SvccaListener.builder(net, storage).schedule(Schedule.epochs(1).andLast().totalEpochs(runEpochs)).attach();
            }
            net.fit(train.iterator(classes, 128, true, 1), runEpochs);
            if (monitored) {
                probes.close(); // waits for the background analyses
                svcca.close();
                errors[0] += probes.errorCount() + svcca.errorCount();
            }
            return net;
        }, epochs, pairs);
        System.out.printf(Locale.ROOT, "MLP with LinearProbeListener + SvccaListener at defaults (%d examples, %d epochs"
                + " per run, batch 128): %s; monitor errors: %d%n", train.size(), epochs, res.summary(epochs), errors[0]);
    }
}
