package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.probes.linear.ProbeResult;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import dev.stethoscope.listeners.core.Schedule;

/**
 * Linear classifier probes on every monitored layer (Alain and Bengio 2016; METHODS.md section 2).
 *
 * <p>At the epochs of its {@link Schedule} (default {@code Schedule.epochs(1).andLast()}: every
 * epoch and the final parameters; accepted kinds: epochs, epoch lists, never, each optionally
 * {@code andLast()}; see {@link EpochAnalysisListener}), it copies the network's
 * parameters (on the training thread, a single {@code params().dup()}), then, on a background
 * thread, loads them into a private {@link NetworkCopy}, computes each layer's activations on a
 * fixed probe-train and probe-test set in inference mode, trains one {@link LinearProbe} per
 * layer on the probe-train activations; the {@link ProbeAccuracy} with train/test
 * accuracy and loss per layer is published from the training thread at its next callback (or by
 * {@link #close()}). The training network is only read; training never
 * waits for probes unless two evaluations are already pending (then it waits for one).
 *
 * <p>DL4J has no end-of-training callback: give the run length to the schedule
 * ({@code Schedule.epochs(1).andLast().totalEpochs(5)}) so the last epoch is recognised at its
 * end, or let {@link #close()} after {@code fit} evaluate the final parameters (if they were not
 * yet) and wait for pending probes.
 *
 * <p>Memory: the probe sets, at most two pending parameter copies, and during one evaluation the
 * activations of the probe sets for the monitored layers.
 *
 * <pre>{@code
 * LinearProbeListener probes = LinearProbeListener.builder(net, storage)
 *         .probeData(testIterator, 2000)   // first 2000 test examples, alternately probe-train / probe-test
 *         .schedule(Schedule.epochs(1).andLast().totalEpochs(5)).attach();
 * try {
 *     net.fit(train, 5);
 * } finally {
 *     probes.close();
 * }
 * }</pre>
 */
public class LinearProbeListener extends EpochAnalysisListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final org.slf4j.Logger MEM_LOG = org.slf4j.LoggerFactory.getLogger("dev.stethoscope.memory");
    private final List<String> layers;
    private final LinearProbe.Options options;
    private final int batchSize;
    private final INDArray trainX;
    private final int[] trainY;
    private final INDArray testX;
    private final int[] testY;
    private final int numClasses;

    private int lastEvaluated = -1;
    private boolean finalDone;
    /** Only the architecture matters (each task loads its parameters); rebuilt after deserialisation. */
    private transient NetworkCopy copy;
    /** The probe sets as shared probe sets (with a context only; the context is not serialised). */
    private final transient dev.stethoscope.listeners.core.AnalysisContext.ProbeSet trainSet;
    private final transient dev.stethoscope.listeners.core.AnalysisContext.ProbeSet testSet;

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
    protected LinearProbeListener(Builder b, List<String> layers, DataSet train, DataSet test, int numClasses) {
        super(b, "probe");
        this.layers = List.copyOf(layers); // serialisable (a subList is not)
        this.options = b.options;
        this.batchSize = b.batchSize;
        this.trainX = train.getFeatures();
        this.trainY = LinearProbe.classIndices(train.getLabels());
        this.testX = test.getFeatures();
        this.testY = LinearProbe.classIndices(test.getLabels());
        this.numClasses = numClasses;
        this.trainSet = context() == null ? null : dev.stethoscope.listeners.core.AnalysisContext.ProbeSet.of(trainX);
        this.testSet = context() == null ? null : dev.stethoscope.listeners.core.AnalysisContext.ProbeSet.of(testX);
        if (context() != null) {
            context().declare(trainSet, layers);
            context().declare(testSet, layers);
        }
    }

    /** A builder for {@code model}, publishing to {@code router}. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    /** True: feature standardisation statistics in double precision (runs the backend self-test first). */
    @Override
    protected boolean usesDoublePrecisionLinearAlgebra() {
        return true;
    }

    @Override
    public String monitorName() {
        return "probes";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("schedule", schedule().toString());
        s.put("totalEpochs", String.valueOf(schedule().totalEpochs()));
        s.put("layers", String.join(",", layers));
        s.put("probeTrainExamples", String.valueOf(trainY.length));
        s.put("probeTestExamples", String.valueOf(testY.length));
        s.put("features", options.features().name());
        s.put("maxFeatures", options.maxFeatures() == 0 ? "none" : String.valueOf(options.maxFeatures()));
        s.put("l2", options.l2Description());
        s.put("iterations", String.valueOf(options.iterations()));
        s.put("learningRate", String.valueOf(options.learningRate()));
        s.put("seed", String.valueOf(options.seed()));
        return s;
    }

    /** The probed layers, in forward order. */
    public List<String> layers() {
        return layers;
    }

    @Override
    protected void analyse(int completed, boolean isFinal) {
        evaluate(completed, isFinal);
    }

    private void evaluate(int completed, boolean isFinal) {
        var ctx = context();
        if (ctx != null) {
            var snap = ctx.snapshot();
            long iteration = currentIteration();
            lastEvaluated = completed;
            if (isFinal) {
                finalDone = true;
            }
            worker().submit(() -> {
                ProbeAccuracy r = probe(ctx.activations(snap, trainSet, layers, batchSize),
                        ctx.activations(snap, testSet, layers, batchSize), completed, isFinal);
                return () -> publish(r, completed - 1, iteration);
            });
            return;
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (copy == null) {
                copy = NetworkCopy.of(model());
            }
            submitSnapshot(completed, isFinal);
        }
    }

    private void submitSnapshot(int completed, boolean isFinal) {
        INDArray params = model().params().dup();
        long iteration = currentIteration();
        lastEvaluated = completed;
        if (isFinal) {
            finalDone = true;
        }
        worker().submit(() -> {
            ProbeAccuracy r = probe(params, completed, isFinal);
            return () -> publish(r, completed - 1, iteration);
        });
    }

    private ProbeAccuracy probe(INDArray params, int completed, boolean isFinal) {
        copy.model().setParams(params);
        Map<String, INDArray> tr = LayerRepresentations.activations(copy.model(), trainX, layers, batchSize);
        Map<String, INDArray> te = LayerRepresentations.activations(copy.model(), testX, layers, batchSize);
        return probe(tr, te, completed, isFinal);
    }

    private ProbeAccuracy probe(Map<String, INDArray> tr, Map<String, INDArray> te, int completed, boolean isFinal) {
        int n = layers.size();
        int[] feats = new int[n];
        double[] trAcc = new double[n];
        double[] teAcc = new double[n];
        double[] trLoss = new double[n];
        double[] teLoss = new double[n];
        double[] l2 = new double[n];
        double[] gradNorm = new double[n];
        for (int i = 0; i < n; i++) {
            String l = layers.get(i);
            var before = MEM_LOG.isDebugEnabled() ? dev.stethoscope.listeners.core.MemoryUse.now() : null;
            ProbeResult r = LinearProbe.train(tr.get(l), trainY, te.get(l), testY, numClasses, options);
            dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown();
            if (before != null) {
                MEM_LOG.debug("probe of layer {} ({} features): {}", l, r.features(),
                        before.to(dev.stethoscope.listeners.core.MemoryUse.now()));
            }
            feats[i] = r.features();
            trAcc[i] = r.trainAccuracy();
            teAcc[i] = r.testAccuracy();
            trLoss[i] = r.trainLoss();
            teLoss[i] = r.testLoss();
            l2[i] = r.l2();
            gradNorm[i] = r.gradientNorm();
        }
        return new ProbeAccuracy(completed, isFinal, options.features().name(), trainY.length, testY.length,
                layers, feats, trAcc, teAcc, trLoss, teLoss, l2, gradNorm);
    }

    /** Probes the current (final) parameters unless that was already done (run by {@link #close()}). */
    @Override
    protected void finalAnalysis() {
        if (!finalDone && lastCompleted() > 0) {
            if (lastEvaluated == lastCompleted()) {
                finalDone = true; // the last completed epoch was already probed with these parameters
            } else {
                evaluate(lastCompleted(), true);
            }
        }
    }

    /** Builder of {@link LinearProbeListener}. */
    public static class Builder extends EpochAnalysisListener.Builder<Builder, LinearProbeListener> {
        private List<String> layers = List.of();
        private LinearProbe.Options options = LinearProbe.Options.defaults();
        private DataSet train;
        private DataSet test;

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /** Separate probe-train and probe-test sets (features and labels, one-hot or class indices). */
        public Builder probeData(DataSet probeTrain, DataSet probeTest) {
            this.train = probeTrain.copy();
            this.test = probeTest.copy();
            return this;
        }

        /** One probe set, split alternately: even rows probe-train, odd rows probe-test. */
        public Builder probeData(DataSet probe) {
            int n = probe.numExamples();
            if (n < 4) {
                throw new IllegalArgumentException("The probe set needs at least 4 examples, got " + n);
            }
            int[] even = new int[(n + 1) / 2];
            int[] odd = new int[n / 2];
            for (int i = 0; i < n; i++) {
                if (i % 2 == 0) {
                    even[i / 2] = i;
                } else {
                    odd[i / 2] = i;
                }
            }
            this.train = new DataSet(probe.getFeatures().getRows(even).dup(), probe.getLabels().getRows(even).dup());
            this.test = new DataSet(probe.getFeatures().getRows(odd).dup(), probe.getLabels().getRows(odd).dup());
            return this;
        }

        /**
         * The first {@code n} examples of {@code iterator} (for example the test iterator), split
         * alternately into probe-train and probe-test. The iterator is reset before and after.
         */
        public Builder probeData(DataSetIterator iterator, int n) {
            if (n < 4) {
                throw new IllegalArgumentException("The probe set needs at least 4 examples, got " + n);
            }
            return probeData(ProbeData.firstExamples(iterator, n));
        }

        /** Layers to probe, by name (or MultiLayerNetwork index); default every hidden layer. */
        public Builder layers(String... names) {
            this.layers = Arrays.asList(names);
            return this;
        }

        /** Probe options (L2, steps, learning rate, seed, conv feature mode). */
        public Builder options(LinearProbe.Options options) {
            this.options = java.util.Objects.requireNonNull(options, "options");
            return this;
        }

        @Override
        public LinearProbeListener build() {
            resolvedSchedule();
            if (train == null || test == null) {
                throw new IllegalArgumentException("Probe data is required: call probeData(train, test), probeData(dataSet)"
                        + " or probeData(iterator, n)");
            }
            if (train.getLabels() == null || test.getLabels() == null) {
                throw new IllegalArgumentException("The probe sets need labels");
            }
            List<String> chosen = layers.isEmpty() ? LayerSelection.hiddenLayerNames(model)
                    : LayerSelection.resolve(model, layers);
            if (chosen.isEmpty()) {
                throw new IllegalArgumentException("No layer to probe. Layers: " + LayerSelection.layerNames(model));
            }
            int[] ytr = LinearProbe.classIndices(train.getLabels());
            int[] yte = LinearProbe.classIndices(test.getLabels());
            int k = train.getLabels().rank() == 2 && train.getLabels().columns() > 1 ? (int) train.getLabels().columns()
                    : Math.max(Arrays.stream(ytr).max().orElse(0), Arrays.stream(yte).max().orElse(0)) + 1;
            if (k < 2) {
                throw new IllegalArgumentException("The probe labels have fewer than 2 classes");
            }
            dev.stethoscope.probes.model.GraphInputs.checkJointForm(model, "The linear probe monitor",
                    train.getFeatures(), test.getFeatures());
            return new LinearProbeListener(this, chosen, train, test, k);
        }
    }
}
