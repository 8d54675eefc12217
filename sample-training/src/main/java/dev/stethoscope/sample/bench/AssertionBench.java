package dev.stethoscope.sample.bench;

import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.assertions.ConfigLint;
import dev.stethoscope.probes.assertions.DyingReluDetector;
import dev.stethoscope.probes.assertions.ExplodingGradientDetector;
import dev.stethoscope.probes.assertions.NonFiniteDetector;
import dev.stethoscope.probes.assertions.OscillatingLossDetector;
import dev.stethoscope.probes.assertions.SaturationDetector;
import dev.stethoscope.probes.assertions.SingleClassLabelsDetector;
import dev.stethoscope.probes.assertions.SlowProgressDetector;
import dev.stethoscope.probes.assertions.UpdateRatioDetector;
import dev.stethoscope.probes.assertions.ValidationDivergenceDetector;
import dev.stethoscope.probes.assertions.VanishingGradientDetector;
import dev.stethoscope.sample.ConfigModels;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The assertion bench (issue #14): small real trainings on MNIST slices, healthy and with one
 * injected fault each, every network given as DL4J configuration JSON and built through
 * {@link ConfigModels} (the {@code train --config} path), with the assertion monitor attached.
 * {@link #summarize} scores the detectors: faulty runs flagged, the expected detector among those
 * that fired, per-detector precision and recall, false alarms on healthy runs by severity, and
 * detection latency in iterations.
 *
 * <p>Each faulty case names, before it is run, the detectors that name its fault (its
 * {@code expected} set: for a learning rate out of range the lint rule is one of them, for a
 * NaN batch only {@code non-finite}). The data faults (NaN batch, one-class labels, label noise,
 * unnormalised inputs) are applied to the MNIST slice; the others are in the configuration.
 */
public final class AssertionBench {
    private AssertionBench() {
    }

    /** A fault applied to the data rather than to the configuration. */
    public enum DataFault {
        NONE, NAN_BATCH, ONE_CLASS, LABEL_NOISE_60, PIXELS_0_255
    }

    /**
     * One training of the bench.
     *
     * @param name       short id
     * @param healthy    no fault injected
     * @param expected   detector ids that name the fault (empty for healthy runs)
     * @param json       the network's DL4J configuration JSON
     * @param fault      the data fault
     * @param faultStep  the iteration at which the fault starts (latency is counted from it)
     * @param epochs     epochs to train
     * @param batch      minibatch size
     * @param examples   training examples (from MNIST's training set, starting at {@code 10000 * variant})
     * @param variant    0 for the calibration suite; k > 0 moves every seed (weights, shuffling, noise)
     *                   by 100 k and the data slice by 10000 k, for a check on other runs
     */
    public record Case(String name, boolean healthy, Set<String> expected, String json, DataFault fault,
                       int faultStep, int epochs, int batch, int examples, int variant) {
    }

    /** One fired assertion: detector, severity, the iteration its record was published at. */
    public record Fired(String detector, String severity, long iteration) {
    }

    /** The outcome of one case. */
    public record Result(Case c, List<Fired> fired, double seconds, String failure, double maxGradientRms,
                         double maxLogUpdateRatio) {
        /** Whether any assertion fired. */
        public boolean flagged() {
            return !fired.isEmpty();
        }

        /** Whether one of the case's expected detectors fired. */
        public boolean expectedFired() {
            return fired.stream().anyMatch(f -> c.expected().contains(f.detector()));
        }

        /** Iterations from the fault's start to the first firing of an expected detector; -1 when none fired. */
        public long latency() {
            return fired.stream().filter(f -> c.expected().contains(f.detector()))
                    .mapToLong(f -> Math.max(0, f.iteration() - c.faultStep())).min().orElse(-1);
        }

        /** Detector ids that fired, each once. */
        public Set<String> detectors() {
            Set<String> s = new LinkedHashSet<>();
            fired.forEach(f -> s.add(f.detector()));
            return s;
        }

        /** Number of firings of {@code severity}. */
        public long count(String severity) {
            return fired.stream().filter(f -> f.severity().equals(severity)).count();
        }
    }

    // ----------------------------------------------------------------- configurations

    static final int INPUTS = 28 * 28;
    static final int CLASSES = 10;

    private static NeuralNetConfiguration.ListBuilder base(long seed, IUpdater u, WeightInit init) {
        return new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT).updater(u).weightInit(init)
                .list();
    }

    /** An MLP of {@code depth} hidden layers of {@code width} units. */
    static MultiLayerConfiguration mlp(long seed, IUpdater u, Activation hidden, int depth, int width,
                                       Activation out, LossFunction loss) {
        return mlp(seed, u, hidden, depth, width, out, loss, null, 0);
    }

    static MultiLayerConfiguration mlp(long seed, IUpdater u, Activation hidden, int depth, int width,
                                       Activation out, LossFunction loss, NormalDistribution dist, double bias) {
        NeuralNetConfiguration.ListBuilder b = base(seed, u, hidden == Activation.RELU ? WeightInit.RELU : WeightInit.XAVIER);
        for (int i = 0; i < depth; i++) {
            DenseLayer.Builder d = new DenseLayer.Builder().nOut(width).activation(hidden).biasInit(bias);
            if (dist != null) {
                d.weightInit(dist);
            }
            b.layer(d.build());
        }
        b.layer(new OutputLayer.Builder(loss).nOut(CLASSES).activation(out).build());
        return b.setInputType(InputType.feedForward(INPUTS)).validateOutputLayerConfig(false).build();
    }

    /** A small LeNet: conv 5x5x8 - max 2x2 - conv 5x5x16 - max 2x2 - dense 64 - softmax. */
    static MultiLayerConfiguration cnn(long seed) {
        return base(seed, new Adam(1e-3), WeightInit.XAVIER)
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(8).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(16).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(64).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1)).build();
    }

    /** The MLP 784-64-10 as a ComputationGraph. */
    static ComputationGraphConfiguration graph(long seed) {
        return new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT).updater(new Adam(1e-3))
                .weightInit(WeightInit.RELU).graphBuilder().addInputs("in")
                .addLayer("dense", new DenseLayer.Builder().nOut(64).activation(Activation.RELU).build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunction.MCXENT).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").setInputTypes(InputType.feedForward(INPUTS)).build();
    }

    private static Set<String> ids(String... ids) {
        return new LinkedHashSet<>(List.of(ids));
    }

    private static final Adam ADAM = new Adam(1e-3);
    private static final int N = 2048;

    private static Case faulty(int v, String name, Set<String> expected, MultiLayerConfiguration conf, int epochs, int batch) {
        return new Case(name, false, expected, conf.toJson(), DataFault.NONE, 0, epochs, batch, N, v);
    }

    private static Case faulty(int v, String name, Set<String> expected, MultiLayerConfiguration conf, DataFault fault,
                               int faultStep, int epochs, int batch, int examples) {
        return new Case(name, false, expected, conf.toJson(), fault, faultStep, epochs, batch, examples, v);
    }

    private static Case healthy(int v, String name, String json, int epochs, int batch, int examples) {
        return new Case(name, true, Set.of(), json, DataFault.NONE, 0, epochs, batch, examples, v);
    }

    /** The calibration suite (variant 0): 16 faulty and 10 healthy trainings. */
    public static List<Case> suite() {
        return suite(0);
    }

    /** The suite with every seed moved by {@code 100 * variant} and the data slice by {@code 10000 * variant}. */
    public static List<Case> suite(int variant) {
        final int v = variant;
        final long o = 100L * variant;
        String lr = ConfigLint.LEARNING_RATE;
        String nonFinite = NonFiniteDetector.ID;
        String exploding = ExplodingGradientDetector.ID;
        String noProgress = SlowProgressDetector.ID;
        String ratio = UpdateRatioDetector.ID;
        Activation relu = Activation.RELU;
        Activation softmax = Activation.SOFTMAX;
        LossFunction mcxent = LossFunction.MCXENT;
        List<Case> c = new ArrayList<>();
        c.add(faulty(v, "lr-10", ids(nonFinite, exploding, lr), mlp(1 + o, new Sgd(10), relu, 1, 64, softmax, mcxent), 3, 32));
        c.add(faulty(v, "lr-1-adam", ids(nonFinite, exploding, lr), mlp(1 + o, new Adam(1.0), relu, 1, 64, softmax, mcxent), 3, 32));
        c.add(faulty(v, "lr-1e-7", ids(noProgress, ratio, lr), mlp(1 + o, new Sgd(1e-7), relu, 1, 64, softmax, mcxent), 3, 32));
        c.add(faulty(v, "lr-0-frozen", ids(noProgress, ratio, lr), mlp(1 + o, new Sgd(0.0), relu, 1, 64, softmax, mcxent), 3, 32));
        c.add(faulty(v, "softmax-mse", ids(ConfigLint.LOSS_ACTIVATION), mlp(1 + o, ADAM, relu, 1, 64, softmax, LossFunction.MSE), 3, 32));
        c.add(faulty(v, "sigmoid-mcxent", ids(ConfigLint.LOSS_ACTIVATION), mlp(1 + o, ADAM, relu, 1, 64, Activation.SIGMOID, mcxent), 3, 32));
        c.add(faulty(v, "one-class-labels", ids(SingleClassLabelsDetector.ID), mlp(1 + o, ADAM, relu, 1, 64, softmax, mcxent),
                DataFault.ONE_CLASS, 0, 3, 32, N));
        c.add(faulty(v, "nan-batch", ids(nonFinite), mlp(1 + o, ADAM, relu, 1, 64, softmax, mcxent),
                DataFault.NAN_BATCH, 40, 3, 32, N));
        c.add(faulty(v, "label-noise-60", ids(ValidationDivergenceDetector.ID), mlp(1 + o, ADAM, relu, 1, 256, softmax, mcxent),
                DataFault.LABEL_NOISE_60, 0, 25, 32, 512));
        c.add(faulty(v, "exploding-init", ids(exploding, nonFinite),
                mlp(1 + o, new Sgd(0.01), relu, 3, 64, softmax, mcxent, new NormalDistribution(0, 3), 0), 3, 32));
        c.add(faulty(v, "dead-relu-bias", ids(DyingReluDetector.ID),
                mlp(1 + o, new Sgd(0.01), relu, 2, 64, softmax, mcxent, null, -10), 3, 32));
        c.add(faulty(v, "tiny-batch-oscillation", ids(OscillatingLossDetector.ID),
                mlp(1 + o, new Sgd(0.5), relu, 1, 64, softmax, mcxent), 1, 2));
        c.add(faulty(v, "oscillation-tanh-batch-2", ids(OscillatingLossDetector.ID),
                mlp(1 + o, new Sgd(0.5), Activation.TANH, 1, 64, softmax, mcxent), DataFault.NONE, 0, 1, 2, 1024));
        c.add(faulty(v, "deep-sigmoid-vanishing", ids(VanishingGradientDetector.ID),
                mlp(1 + o, new Sgd(0.01), Activation.SIGMOID, 8, 32, softmax, mcxent), 3, 32));
        c.add(faulty(v, "pixels-0-255-relu", ids(ConfigLint.INPUT_RANGE), mlp(1 + o, ADAM, relu, 1, 64, softmax, mcxent),
                DataFault.PIXELS_0_255, 0, 3, 32, N));
        c.add(faulty(v, "pixels-0-255-tanh", ids(ConfigLint.INPUT_RANGE, SaturationDetector.ID),
                mlp(1 + o, ADAM, Activation.TANH, 1, 64, softmax, mcxent), DataFault.PIXELS_0_255, 0, 3, 32, N));

        for (long seed = 1; seed <= 3; seed++) {
            c.add(healthy(v, "mlp-seed-" + seed, mlp(seed + o, ADAM, relu, 1, 64, softmax, mcxent).toJson(), 3, 32, N));
        }
        c.add(healthy(v, "mlp-batch-64", mlp(4 + o, ADAM, relu, 1, 64, softmax, mcxent).toJson(), 3, 64, N));
        c.add(healthy(v, "mlp-batch-128", mlp(5 + o, ADAM, relu, 1, 64, softmax, mcxent).toJson(), 4, 128, N));
        c.add(healthy(v, "mlp-tanh-2x64", mlp(6 + o, ADAM, Activation.TANH, 2, 64, softmax, mcxent).toJson(), 3, 32, N));
        c.add(healthy(v, "mlp-nesterovs-0.01", mlp(7 + o, new Nesterovs(0.01, 0.9), relu, 1, 64, softmax, mcxent).toJson(), 3, 32, N));
        c.add(healthy(v, "cnn-seed-1", cnn(1 + o).toJson(), 2, 32, 1024));
        c.add(healthy(v, "cnn-seed-2-batch-64", cnn(2 + o).toJson(), 2, 64, 1024));
        c.add(healthy(v, "graph-mlp", graph(1 + o).toJson(), 3, 32, N));
        return c;
    }

    /**
     * A reduced suite for the test: 5 faulty and 3 healthy runs of the full suite (the cheapest, no
     * CNN), each on 1024 examples for at most 2 epochs (so at least 64 steps at batch 32: every
     * expected detector of these cases fires by step 40 in the full suite).
     */
    public static List<Case> reduced() {
        Set<String> keep = Set.of("lr-10", "lr-1e-7", "softmax-mse", "nan-batch", "dead-relu-bias",
                "mlp-seed-1", "mlp-batch-128", "graph-mlp");
        return suite().stream().filter(x -> keep.contains(x.name()))
                .map(x -> new Case(x.name(), x.healthy(), x.expected(), x.json(), x.fault(), x.faultStep(),
                        Math.min(2, x.epochs()), x.batch(), Math.min(1024, x.examples()), x.variant()))
                .toList();
    }

    // ----------------------------------------------------------------- running

    /** Runs one case on {@code mnist}: the first {@code examples} training images, 512 test images for validation. */
    public static Result run(Case c, MnistData mnist) {
        return run(c, mnist, null);
    }

    /**
     * As {@link #run(Case, MnistData)}; with {@code trace} non-null, prints every 10th step's loss,
     * first/last layer gradient norms, update/parameter ratios and zero fractions, and each
     * epoch's training and validation loss (for calibration).
     */
    public static Result run(Case c, MnistData mnist, PrintStream trace) {
        long t0 = System.nanoTime();
        int from = 10000 * c.variant();
        LabeledImages all = mnist.train().head(Math.min(mnist.train().size(), from + c.examples()));
        int[] labels = java.util.Arrays.copyOfRange(all.labelValues(), from, all.size());
        if (c.fault() == DataFault.ONE_CLASS) {
            java.util.Arrays.fill(labels, 3);
        } else if (c.fault() == DataFault.LABEL_NOISE_60) {
            labels = LabelNoise.flip(labels, CLASSES, 0.6, 1 + 100L * c.variant()).labels();
        }
        INDArray x = from == 0 ? all.features()
                : all.features().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(from, all.size()),
                        org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
        LabeledImages test = mnist.test().head(512);
        INDArray vx = test.features();
        if (c.fault() == DataFault.PIXELS_0_255) {
            x = x.mul(255);
            vx = vx.mul(255);
        }
        DataSet validation = new DataSet(vx, test.oneHotLabels(CLASSES));
        IndexedArrayIterator.Builder ib = IndexedArrayIterator.builder(x, DataConversion.oneHot(labels, CLASSES))
                .batchSize(c.batch()).shuffle(1 + 100L * c.variant());
        if (c.fault() == DataFault.NAN_BATCH) {
            ib.preProcessor(new NanAt(c.faultStep()));
        }
        IndexedArrayIterator it = ib.build();
        Model net = ConfigModels.fromJson(c.json());
        ConfigModels.check(net, 28, 28, CLASSES);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AssertionListener.Builder lb = ModelAssertions.builder(net, storage).defaultAction(AssertionListener.Action.RECORD)
                .plannedEpochs(c.epochs()).validation(validation);
        if (trace != null) {
            lb.assertThat("trace", w -> {
                dev.stethoscope.probes.assertions.StepSignals t = w.latest();
                if (t.step() < 10 || t.step() % 10 == 0) {
                    trace.printf(Locale.ROOT, "  %s step %d loss %.4g grad %s upd/par %s zero %s sat %s%n", c.name(), t.step(), t.loss(),
                            fmtArr(t.gradientNorms()), ratios(t), fmtArr(t.zeroFractions()), fmtArr(t.saturatedFractions()));
                }
                return dev.stethoscope.probes.assertions.Severity.NONE;
            }).assertThatEpochs("trace-epochs", "trace", w -> {
                var e = w.epochs().get(w.epochs().size() - 1);
                trace.printf(Locale.ROOT, "  %s epoch %d train %.4f validation %.4f%n", c.name(), e.epoch(), e.trainLoss(), e.validationLoss());
                return dev.stethoscope.probes.assertions.Severity.NONE;
            });
        }
        double[] max = {Double.NaN, Double.NaN};
        // an epoch assertion over the kept sampled steps (a step assertion would make the monitor evaluate
        // every step at once, which is not its default behaviour; 200 samples cover every bench run)
        lb.assertThatEpochs("bench-maxima", "bench maxima", w -> {
            for (dev.stethoscope.probes.assertions.StepSignals t : w.sampledSteps()) {
                for (int i = 0; i < t.gradientNorms().length; i++) {
                    double g = t.gradientRms(i);
                    if (Double.isFinite(g) && !(g <= max[0])) {
                        max[0] = g;
                    }
                }
                if (t.updateNorms().length == t.parameterNorms().length) {
                    for (int i = 0; i < t.updateNorms().length; i++) {
                        double r = Math.log10(t.updateNorms()[i] / t.parameterNorms()[i]);
                        if (Double.isFinite(r) && !(r <= max[1])) {
                            max[1] = r;
                        }
                    }
                }
            }
            return dev.stethoscope.probes.assertions.Severity.NONE;
        });
        AssertionListener l = lb.attach();
        String failure = null;
        try {
            for (int e = 0; e < c.epochs(); e++) {
                it.reset();
                ConfigModels.fit(net, it);
            }
        } catch (RuntimeException e) {
            failure = e.toString(); // training itself failed: the firings so far still count
        } finally {
            l.close();
        }
        List<Fired> fired = new ArrayList<>();
        for (StethoscopeRecord r : RecordReader.updates(storage, l.sessionId(), AssertionFinding.TYPE_ID, 0)) {
            AssertionFinding f = r.payload(AssertionFinding.class);
            fired.add(new Fired(f.detector(), f.severity(), r.getIteration()));
        }
        return new Result(c, fired, (System.nanoTime() - t0) / 1e9, failure, max[0], max[1]);
    }

    private static String fmtArr(double[] a) {
        if (a == null) {
            return "-";
        }
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < a.length; i++) {
            sb.append(i > 0 ? " " : "").append(String.format(Locale.ROOT, "%.3g", a[i]));
        }
        return sb.append(']').toString();
    }

    private static String ratios(dev.stethoscope.probes.assertions.StepSignals t) {
        if (t.updateNorms() == null || t.parameterNorms() == null) {
            return "-";
        }
        double[] r = new double[t.updateNorms().length];
        for (int i = 0; i < r.length; i++) {
            r[i] = Math.log10(t.updateNorms()[i] / t.parameterNorms()[i]);
        }
        return fmtArr(r);
    }

    /** Puts NaN into the features of the batch of iteration {@code at} (counted over the whole run). */
    static final class NanAt implements DataSetPreProcessor {
        private final int at;
        private int seen;

        NanAt(int at) {
            this.at = at;
        }

        @Override
        public void preProcess(org.nd4j.linalg.dataset.api.DataSet ds) {
            if (seen++ == at) {
                INDArray f = ds.getFeatures().dup();
                f.getRow(0).putScalar(0, Double.NaN);
                ds.setFeatures(f);
            }
        }
    }

    // ----------------------------------------------------------------- scoring

    /** The bench's scores and whether its targets hold. */
    public record Summary(int faulty, int flagged, int expectedAmongFired, int healthy, long healthyWarnings,
                          long healthyErrors, int healthyRunsWithAlarm) {
        /** >= 90 % of faulty runs flagged. */
        public boolean flaggedTarget() {
            return flagged >= Math.ceil(0.9 * faulty);
        }

        /** The expected detector among those that fire for >= 80 % of faulty runs. */
        public boolean expectedTarget() {
            return expectedAmongFired >= Math.ceil(0.8 * faulty);
        }

        /** No ERROR on healthy runs. */
        public boolean healthyTarget() {
            return healthyErrors == 0;
        }

        /** All three targets. */
        public boolean targetsMet() {
            return flaggedTarget() && expectedTarget() && healthyTarget();
        }
    }

    /** Scores the results. */
    public static Summary score(List<Result> results) {
        int faulty = 0;
        int flagged = 0;
        int expected = 0;
        int healthy = 0;
        long warn = 0;
        long err = 0;
        int alarmed = 0;
        for (Result r : results) {
            if (r.c().healthy()) {
                healthy++;
                warn += r.count("WARNING");
                err += r.count("ERROR");
                alarmed += r.flagged() ? 1 : 0;
            } else {
                faulty++;
                flagged += r.flagged() ? 1 : 0;
                expected += r.expectedFired() ? 1 : 0;
            }
        }
        return new Summary(faulty, flagged, expected, healthy, warn, err, alarmed);
    }

    /** Prints the per-run table, the per-detector table and the targets; returns the summary. */
    public static Summary summarize(List<Result> results, PrintStream out) {
        out.println();
        out.println("| run | kind | expected | fired (severity, first iteration) | flagged | expected fired | latency (it) | max RMS grad | max log10 upd/par | s |");
        out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Result r : results) {
            Map<String, String> first = new LinkedHashMap<>();
            for (Fired f : r.fired()) {
                first.merge(f.detector(), f.severity().charAt(0) + "@" + f.iteration(),
                        (a, b) -> a.startsWith("E") ? a : b.startsWith("E") ? b : a);
            }
            String fired = first.isEmpty() ? "none" : first.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                    .reduce((a, b) -> a + ", " + b).orElse("");
            out.printf(Locale.ROOT, "| %s | %s | %s | %s%s | %s | %s | %s | %.3g | %.2f | %.1f |%n", r.c().name(),
                    r.c().healthy() ? "healthy" : "faulty", r.c().healthy() ? "-" : String.join(", ", r.c().expected()),
                    fired, r.failure() == null ? "" : " (training threw " + r.failure() + ")",
                    r.c().healthy() ? "-" : r.flagged() ? "yes" : "NO",
                    r.c().healthy() ? "-" : r.expectedFired() ? "yes" : "NO",
                    r.latency() < 0 ? "-" : String.valueOf(r.latency()), r.maxGradientRms(), r.maxLogUpdateRatio(), r.seconds());
        }
        Set<String> detectors = new TreeSet<>();
        results.forEach(r -> {
            detectors.addAll(r.detectors());
            detectors.addAll(r.c().expected());
        });
        out.println();
        out.println("| detector | runs expecting it | fired on | of those expected (TP) | on healthy runs (W/E) | precision | recall | median latency (it) |");
        out.println("|---|---|---|---|---|---|---|---|");
        for (String d : detectors) {
            int expecting = 0;
            int firedOn = 0;
            int tp = 0;
            int healthyW = 0;
            int healthyE = 0;
            List<Long> lat = new ArrayList<>();
            for (Result r : results) {
                boolean exp = r.c().expected().contains(d);
                boolean f = r.detectors().contains(d);
                expecting += exp ? 1 : 0;
                firedOn += f ? 1 : 0;
                if (exp && f) {
                    tp++;
                    r.fired().stream().filter(x -> x.detector().equals(d)).mapToLong(x -> Math.max(0, x.iteration() - r.c().faultStep()))
                            .min().ifPresent(lat::add);
                }
                if (r.c().healthy()) {
                    healthyW += (int) r.fired().stream().filter(x -> x.detector().equals(d) && x.severity().equals("WARNING")).count();
                    healthyE += (int) r.fired().stream().filter(x -> x.detector().equals(d) && x.severity().equals("ERROR")).count();
                }
            }
            lat.sort(Long::compare);
            out.printf(Locale.ROOT, "| %s | %d | %d | %d | %d/%d | %s | %s | %s |%n", d, expecting, firedOn, tp, healthyW, healthyE,
                    firedOn == 0 ? "-" : String.format(Locale.ROOT, "%.2f", (double) tp / firedOn),
                    expecting == 0 ? "-" : String.format(Locale.ROOT, "%.2f", (double) tp / expecting),
                    lat.isEmpty() ? "-" : String.valueOf(lat.get(lat.size() / 2)));
        }
        Summary s = score(results);
        out.println();
        out.printf(Locale.ROOT, "Faulty runs flagged: %d of %d (%.0f %%; target >= 90 %%) %s%n", s.flagged(), s.faulty(),
                100.0 * s.flagged() / Math.max(1, s.faulty()), s.flaggedTarget() ? "MET" : "NOT MET");
        out.printf(Locale.ROOT, "Expected detector among those fired: %d of %d (%.0f %%; target >= 80 %%) %s%n",
                s.expectedAmongFired(), s.faulty(), 100.0 * s.expectedAmongFired() / Math.max(1, s.faulty()),
                s.expectedTarget() ? "MET" : "NOT MET");
        out.printf(Locale.ROOT, "Healthy runs: %d; with any alarm: %d; alarms WARNING %d, ERROR %d (target 0 ERROR) %s%n",
                s.healthy(), s.healthyRunsWithAlarm(), s.healthyWarnings(), s.healthyErrors(),
                s.healthyTarget() ? "MET" : "NOT MET");
        Map<String, Integer> byKind = new TreeMap<>();
        results.stream().filter(r -> r.c().healthy()).forEach(r -> r.detectors().forEach(d -> byKind.merge(d, 1, Integer::sum)));
        if (!byKind.isEmpty()) {
            out.println("Healthy runs with a firing, by detector: " + byKind);
        }
        return s;
    }
}
