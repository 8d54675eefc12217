package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.Stethoscope;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.SparkTraining;
import dev.stethoscope.sample.bench.OverheadRuns;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.spark.StethoscopeSpark;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Stethoscope on Spark measured against one JVM, on MNIST with injected label noise, the sample's
 * models trained from the same initial weights and minibatch size:
 * <ul>
 *   <li>{@code --measure suspects}: the suspects ranking (precision@k and AUROC of each score against
 *   the flipped labels) after the last epoch, of {@code --runs} runs of each of {@code --kinds}: one JVM
 *   (shuffle seeds), Spark with parameter averaging (DL4J's split seeds) and parameter averaging done in one
 *   JVM without Spark (order seeds), seeds {@code --first-seed} on; the spread within each side is the
 *   yardstick for the difference between the sides. {@code --updater sgd --averaging-frequency 1
 *   --one-jvm-batch 64} (with 2 workers and {@code --batch 32}) makes the one-JVM side the equivalent training
 *   (docs/spark.md);</li>
 *   <li>{@code --measure overhead}: whole Spark runs without and with the preset's monitors in ABBA
 *   order ({@link OverheadRuns}) on one Spark context: ratios of wall time and of process CPU (in
 *   {@code local[N]} the workers are threads of this JVM, so process CPU counts their work).</li>
 * </ul>
 */
@Command(name = "bench-spark", mixinStandardHelpOptions = true,
        description = "Stethoscope on Spark vs one JVM: suspects ranking quality (--measure suspects) or the "
                + "monitors' overhead on Spark, with vs without, as ratios (--measure overhead).")
public final class BenchSparkCommand implements Callable<Integer> {
    /** What is measured. */
    public enum Measure { suspects, overhead }

    /** The updater of every run of {@code --measure suspects}. */
    public enum UpdaterKind { adam, sgd }

    /** The kinds of run of {@code --measure suspects}. */
    public enum RunKind { onejvm, averaging, spark }

    @Option(names = "--measure", defaultValue = "suspects", description = "suspects or overhead (default: ${DEFAULT-VALUE}).")
    Measure measure;

    @Option(names = "--spark", defaultValue = "local[2]", paramLabel = "MASTER", description = "Spark master (default: ${DEFAULT-VALUE}).")
    String spark;

    @Option(names = "--averaging-frequency", defaultValue = "5", description = "Minibatches per worker between averagings (default: ${DEFAULT-VALUE}).")
    int averagingFrequency;

    @Option(names = "--label-noise", defaultValue = "0.2", description = "Fraction of training labels flipped (default: ${DEFAULT-VALUE}).")
    double labelNoise;

    @Option(names = "--runs", defaultValue = "2", description = "With --measure suspects: runs per side, different seeds (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--updater", defaultValue = "adam", description = "With --measure suspects: adam (the sample's "
            + "model, Adam 1e-3) or sgd (the same model and initial weights with plain SGD, --learning-rate; with "
            + "--averaging-frequency 1 parameter averaging of W workers on batch B is then one SGD step on W x B "
            + "examples) (default: ${DEFAULT-VALUE}).")
    UpdaterKind updater;

    @Option(names = "--learning-rate", defaultValue = "0.1", description = "With --updater sgd: the SGD learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--one-jvm-batch", defaultValue = "0", description = "With --measure suspects: minibatch size of the "
            + "one-JVM runs (default 0: --batch; workers x --batch is the batch one averaging round of --averaging-frequency 1 "
            + "amounts to).")
    int oneJvmBatch;

    @Option(names = "--kinds", split = ",", defaultValue = "onejvm,averaging,spark", description = "With --measure suspects: "
            + "the kinds of run, of onejvm, averaging (parameter averaging in one JVM without Spark), spark "
            + "(default: ${DEFAULT-VALUE}).")
    List<RunKind> kinds;

    @Option(names = "--first-seed", defaultValue = "1", description = "With --measure suspects: the seeds of the runs of "
            + "each kind are first-seed .. first-seed + runs - 1 (default: ${DEFAULT-VALUE}).")
    int firstSeed;

    @Option(names = "--preset", defaultValue = "business", description = "With --measure overhead: the monitors (economy, business, full; default: ${DEFAULT-VALUE}).")
    String preset;

    @Mixin
    OverheadOptions run;

    @Mixin
    DataOptions dataOptions;

    @Override
    public Integer call() throws Exception {
        Checks.inRange("--label-noise", labelNoise, 0, 1, true);
        Checks.atLeast("--averaging-frequency", averagingFrequency, 1);
        Checks.atLeast("--runs", runs, 1);
        Checks.atLeast("--one-jvm-batch", oneJvmBatch, 0);
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("--learning-rate must be > 0, got " + learningRate);
        }
        if (kinds.isEmpty()) {
            throw new IllegalArgumentException("--kinds needs at least one of " + Arrays.toString(RunKind.values()));
        }
        run.validate();
        if (run.model.isGraph()) {
            throw new IllegalArgumentException("bench-spark measures the sample's MultiLayerNetwork models (--model mlp or cnn)");
        }
        Stethoscope.Preset p = Stethoscope.Preset.valueOf(preset.toUpperCase(Locale.ROOT));
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), run.trainLimit);
        int classes = mnist.numClasses();
        LabelNoise.Result noise = LabelNoise.flip(train.labelValues(), classes, labelNoise, 42);
        INDArray x = train.features();
        INDArray y = DataConversion.oneHot(noise.labels(), classes);
        long[] flipped = Arrays.stream(noise.flippedIndices()).asLongStream().toArray();
        int n = train.size();
        System.out.printf(Locale.ROOT, "%s, %d training examples (%d labels flipped), batch %d, %d epochs, Spark %s "
                        + "averaging every %d minibatches; load average %s%n", run.model, n, flipped.length, run.batch,
                run.epochs, spark, averagingFrequency, loadAverage());
        if (measure == Measure.suspects) {
            System.out.printf(Locale.ROOT, "updater %s; one-JVM batch %d; kinds %s; seeds %d..%d%n", updaterText(),
                    oneJvmBatch > 0 ? oneJvmBatch : run.batch, kinds, firstSeed, firstSeed + runs - 1);
        }
        boolean filterWasActive = dev.stethoscope.plugin.StatsFileFilter.active();
        dev.stethoscope.plugin.StatsFileFilter.suspend(true); // Spark moves tasks with Java serialization
        try (JavaSparkContext sc = SparkTraining.context(spark)) {
            int workers = sc.defaultParallelism();
            JavaRDD<DataSet> data = SparkTraining.batches(sc, x, y, run.batch, workers);
            if (measure == Measure.suspects) {
                suspects(sc, data, x, y, n, flipped, mnist);
            } else {
                overhead(sc, data, n, p, mnist, classes);
            }
        } finally {
            if (filterWasActive) {
                dev.stethoscope.plugin.StatsFileFilter.suspend(false);
            }
        }
        System.out.println("load average at the end: " + loadAverage());
        return 0;
    }

    private void suspects(JavaSparkContext sc, JavaRDD<DataSet> data, INDArray x, INDArray y, int n, long[] flipped,
                          MnistData mnist) {
        Map<String, List<Suspects.Metric>> results = new LinkedHashMap<>();
        int lastSeed = firstSeed + runs - 1;
        int jvmBatch = oneJvmBatch > 0 ? oneJvmBatch : run.batch;
        for (int r = firstSeed; kinds.contains(RunKind.onejvm) && r <= lastSeed; r++) {
            MultiLayerNetwork net = model(mnist);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                    .numExamples(n).flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols()).attach();
            IndexedArrayIterator it = IndexedArrayIterator.builder(x, y).batchSize(jvmBatch).shuffle(r).build();
            long t0 = System.nanoTime();
            net.fit(l.track(it), run.epochs);
            l.close();
            report("one JVM, batch " + jvmBatch + ", shuffle seed " + r, l, n, t0, results);
        }
        List<DataSet> batches = data.collect();
        int workers = sc.defaultParallelism();
        for (int r = firstSeed; kinds.contains(RunKind.averaging) && r <= lastSeed; r++) {
            averagedInOneJvm(r, workers, batches, n, flipped, mnist, results);
        }
        for (int r = firstSeed; kinds.contains(RunKind.spark) && r <= lastSeed; r++) {
            MultiLayerNetwork net = model(mnist);
            SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, SparkTraining.master(run.batch, averagingFrequency, r));
            long t0 = System.nanoTime();
            StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(n)
                    .tuneDynamics(b -> b.flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols()))
                    .attach(sparkNet, new InMemoryStatsStorage());
            try {
                for (int e = 0; e < run.epochs; e++) {
                    s.fit(data);
                }
            } finally {
                s.close();
                sparkNet.getTrainingMaster().deleteTempFiles(sc);
            }
            report("Spark " + spark + ", split seed " + r, s.dynamics(), n, t0, results);
        }
        System.out.println();
        System.out.println("| run | score | precision@k | AUROC |");
        System.out.println("|---|---|---|---|");
        results.forEach((name, ms) -> ms.forEach(m -> System.out.printf(Locale.ROOT, "| %s | %s | %.4f | %.4f |%n",
                name, m.score(), m.precisionAtK(), m.auroc())));
        // per score: mean of each side, the difference, and the spread within each side
        List<String> scores = results.values().iterator().next().stream().map(Suspects.Metric::score).toList();
        System.out.println();
        System.out.println("(each side: the runs' values; mean, sample standard deviation and range when there are several)");
        System.out.println("| score | measure | one JVM (runs) | Spark (runs) | one JVM averaging (runs) | Spark - one JVM | Spark - one JVM averaging |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (String sc0 : scores) {
            for (boolean precision : new boolean[]{true, false}) {
                double[][] v = side(results, sc0, precision);
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |%n", sc0,
                        precision ? "precision@k" : "AUROC", fmt(v[0]), fmt(v[1]), fmt(v[2]),
                        diff(v[1], v[0]), diff(v[1], v[2]));
            }
        }
    }

    /**
     * Parameter averaging as DL4J's training master does it, in one JVM and without Spark: each epoch the
     * same minibatches as the Spark run, in an order shuffled with {@code seed}, in rounds of
     * {@code workers x averagingFrequency}; each worker copy starts the round from the averaged parameters
     * and updater state, fits its {@code averagingFrequency} minibatches, then parameters and updater
     * state are averaged. The logits come from the same worker listener as on Spark, merged into one
     * training-dynamics monitor as the driver does: a run that differs from Spark only by Spark.
     */
    private void averagedInOneJvm(long seed, int workers, List<DataSet> batches, int n, long[] flipped, MnistData mnist,
                                  Map<String, List<Suspects.Metric>> results) {
        MultiLayerNetwork net = model(mnist);
        TrainingDynamicsListener dyn = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage()).numExamples(n)
                .flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols()).build();
        int[] epoch = new int[1];
        org.deeplearning4j.core.storage.StatsStorageRouter merge = new MergeRouter((ids, z, labels) ->
                dyn.observeBatch(ids, z, labels, null, epoch[0]));
        java.util.Random rnd = new java.util.Random(seed);
        long t0 = System.nanoTime();
        for (int e = 0; e < run.epochs; e++) {
            epoch[0] = e;
            net.setEpochCount(e);
            dyn.onEpochStart(net);
            List<DataSet> order = new ArrayList<>(batches);
            java.util.Collections.shuffle(order, rnd);
            int perRound = workers * averagingFrequency;
            for (int start = 0; start < order.size(); start += perRound) {
                List<DataSet> round = order.subList(start, Math.min(order.size(), start + perRound));
                INDArray params = null;
                INDArray updater = null;
                int used = 0;
                for (int w = 0; w < workers; w++) {
                    int from = w * averagingFrequency;
                    if (from >= round.size()) {
                        break;
                    }
                    MultiLayerNetwork copy = net.clone();
                    copy.setListeners(dev.stethoscope.spark.WorkerDynamicsListener.builder(copy, merge).numExamples(n).build());
                    for (DataSet b : round.subList(from, Math.min(round.size(), from + averagingFrequency))) {
                        hook.preUpdate(b, copy);
                        try {
                            copy.fit(b);
                        } finally {
                            hook.postUpdate(b, copy);
                        }
                    }
                    params = params == null ? copy.params().dup() : params.addi(copy.params());
                    INDArray u = copy.getUpdater().getStateViewArray();
                    if (u != null) { // plain SGD has no updater state
                        updater = updater == null ? u.dup() : updater.addi(u);
                    }
                    used++;
                }
                net.setParams(params.divi(used));
                if (updater != null) {
                    net.getUpdater().getStateViewArray().assign(updater.divi(used));
                }
                // as DL4J's training master after each round (Adam's bias correction reads it)
                net.getLayerWiseConfigurations().setIterationCount(
                        net.getLayerWiseConfigurations().getIterationCount() + averagingFrequency);
            }
            dyn.onEpochEnd(net);
        }
        net.setEpochCount(run.epochs);
        dyn.close();
        report("one JVM averaging " + workers + " copies, order seed " + seed, dyn, n, t0, results);
    }

    private final dev.stethoscope.spark.BatchHook hook = new dev.stethoscope.spark.BatchHook();

    /** Hands the worker listener's per-batch logits to the merge (the driver's part of StethoscopeSpark). */
    private static final class MergeRouter implements org.deeplearning4j.core.storage.StatsStorageRouter {
        interface Batch {
            void accept(long[] ids, double[] logits, int[] labels);
        }

        private final Batch batch;

        MergeRouter(Batch batch) {
            this.batch = batch;
        }

        @Override
        public void putStorageMetaData(org.deeplearning4j.core.storage.StorageMetaData m) {
        }

        @Override
        public void putStorageMetaData(java.util.Collection<? extends org.deeplearning4j.core.storage.StorageMetaData> m) {
        }

        @Override
        public void putStaticInfo(org.deeplearning4j.core.storage.Persistable p) {
        }

        @Override
        public void putStaticInfo(java.util.Collection<? extends org.deeplearning4j.core.storage.Persistable> p) {
        }

        @Override
        public void putUpdate(org.deeplearning4j.core.storage.Persistable p) {
            if (p instanceof dev.stethoscope.listeners.records.StethoscopeRecord r
                    && r.holds(dev.stethoscope.spark.ExampleLogits.class)) {
                dev.stethoscope.spark.ExampleLogits b = r.payload(dev.stethoscope.spark.ExampleLogits.class);
                batch.accept(b.ids(), b.logits(), b.labels());
            }
        }

        @Override
        public void putUpdate(java.util.Collection<? extends org.deeplearning4j.core.storage.Persistable> ps) {
            ps.forEach(this::putUpdate);
        }
    }

    /** The values of one score: one-JVM runs, Spark runs, one-JVM averaging runs. */
    private static double[][] side(Map<String, List<Suspects.Metric>> results, String score, boolean precision) {
        List<List<Double>> sides = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        results.forEach((name, ms) -> ms.stream().filter(m -> m.score().equals(score)).forEach(m ->
                sides.get(name.startsWith("Spark") ? 1 : name.contains("averaging") ? 2 : 0)
                        .add(precision ? m.precisionAtK() : m.auroc())));
        return sides.stream().map(l -> l.stream().mapToDouble(Double::doubleValue).toArray()).toArray(double[][]::new);
    }

    private static String fmt(double[] v) {
        if (v.length == 0) {
            return "-";
        }
        List<String> s = new ArrayList<>();
        for (double d : v) {
            s.add(String.format(Locale.ROOT, "%.4f", d));
        }
        String values = String.join(", ", s);
        if (v.length < 2) {
            return values;
        }
        double m = mean(v);
        double ss = 0;
        for (double d : v) {
            ss += (d - m) * (d - m);
        }
        double min = Arrays.stream(v).min().orElseThrow();
        double max = Arrays.stream(v).max().orElseThrow();
        return String.format(Locale.ROOT, "%s (mean %.4f, sd %.4f, range %.4f)", values, m, Math.sqrt(ss / (v.length - 1)),
                max - min);
    }

    private static String diff(double[] a, double[] b) {
        return a.length == 0 || b.length == 0 ? "-" : String.format(Locale.ROOT, "%+.4f", mean(a) - mean(b));
    }

    /**
     * The sample's model from initial weights seed 7; with {@code --updater sgd} the same configuration and
     * initial weights with plain SGD at {@code --learning-rate} on every layer.
     */
    private MultiLayerNetwork model(MnistData mnist) {
        if (updater == UpdaterKind.adam) {
            return Models.build(run.model, 7, mnist.rows(), mnist.cols(), mnist.numClasses());
        }
        org.deeplearning4j.nn.conf.MultiLayerConfiguration conf = run.model == Models.Kind.cnn
                ? Models.lenet(7, mnist.rows(), mnist.cols(), mnist.numClasses())
                : Models.mlp(7, mnist.rows() * mnist.cols(), mnist.numClasses());
        for (org.deeplearning4j.nn.conf.NeuralNetConfiguration c : conf.getConfs()) {
            if (c.getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b) {
                b.setIUpdater(new org.nd4j.linalg.learning.config.Sgd(learningRate));
            }
        }
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private String updaterText() {
        return updater == UpdaterKind.adam ? "the sample's (Adam)" : String.format(Locale.ROOT, "SGD, learning rate %s", learningRate);
    }

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }

    private void report(String name, TrainingDynamicsListener l, int n, long t0, Map<String, List<Suspects.Metric>> results) {
        Suspects last = l.lastRecord();
        TrainingDynamics d = l.dynamics();
        long observations = 0;
        for (int i = 0; i < n; i++) {
            observations += d.count(i);
        }
        System.out.printf(Locale.ROOT, "%s: %.1f s; observations per example per epoch %.3f; %s%n", name,
                (System.nanoTime() - t0) / 1e9, observations / (double) n / run.epochs, last == null ? "no record"
                        : last.metrics().stream().map(m -> String.format(Locale.ROOT, "%s p@k %.4f AUROC %.4f",
                        m.score(), m.precisionAtK(), m.auroc())).toList());
        if (last != null) {
            results.put(name, last.metrics());
        }
    }

    private void overhead(JavaSparkContext sc, JavaRDD<DataSet> data, int n, Stethoscope.Preset p, MnistData mnist,
                          int classes) throws Exception {
        List<List<Integer>> deliveries = new ArrayList<>();
        OverheadRuns.Result res = OverheadRuns.measure((monitored, epochs) -> {
            MultiLayerNetwork net = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
            SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, SparkTraining.master(run.batch, averagingFrequency, 1));
            StethoscopeSpark s = null;
            try {
                if (monitored) {
                    LabeledImages test = DataOptions.limit(mnist.test(), 1000);
                    DataSet held = new DataSet(test.features(), DataConversion.oneHot(test.labelValues(), classes));
                    LabeledImages sub = DataOptions.limit(mnist.train(), 1000);
                    s = StethoscopeSpark.preset(p).numExamples(n).probeData(held).totalEpochs(epochs)
                            .training(sub.iterator(classes, 250, false, 0)).validation(test.iterator(classes, 250, false, 0))
                            .tuneDynamics(b -> b.featureShape(1, mnist.rows(), mnist.cols()))
                            .attach(sparkNet, new InMemoryStatsStorage());
                }
                for (int e = 0; e < epochs; e++) {
                    if (s != null) {
                        s.fit(data);
                    } else {
                        sparkNet.fit(data);
                    }
                }
            } finally {
                if (s != null) {
                    s.close(); // a monitored run includes finishing the driver's analyses
                    deliveries.add(s.recordsPerDelivery());
                }
                sparkNet.getTrainingMaster().deleteTempFiles(sc);
            }
            return net;
        }, run.epochs, run.pairs);
        System.out.printf(Locale.ROOT, "%s preset on Spark %s (%s, %d examples, %d epochs per run): %s%n", p, spark,
                run.model, n, run.epochs, res.summary(run.epochs));
        System.out.println("(training-thread CPU here is the driver's thread: on Spark it waits for the workers)");
        System.out.println("worker records per delivery (one delivery per averaging round), last monitored run: "
                + (deliveries.isEmpty() ? "[]" : deliveries.get(deliveries.size() - 1)));
        if (dev.stethoscope.listeners.core.CpuAccounting.enabled()) {
            System.out.printf(Locale.ROOT, "Java serialisation of a delivery's worker records: %.0f bytes on average%n",
                    StethoscopeSpark.serialisedBytesPerDelivery());
            System.out.print(dev.stethoscope.listeners.core.CpuAccounting.report());
        }
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
