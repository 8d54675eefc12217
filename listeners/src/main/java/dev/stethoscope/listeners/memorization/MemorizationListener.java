package dev.stethoscope.listeners.memorization;

import dev.stethoscope.listeners.core.AnalysisContext;
import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.probes.memorization.CriticalSamples;
import dev.stethoscope.probes.memorization.CsrResult;
import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.probes.memorization.LossSensitivity;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Memorisation signals of Arpit et al. 2017 during training (METHODS.md section 5).
 *
 * <ul>
 *   <li>At the iterations of the sensitivity schedule ({@link Builder#sensitivitySchedule}, default
 *       {@code Schedule.iterations(50)}; accepted kinds: iterations, never): loss sensitivity g_x^t = ||dL/dx||_1
 *       of each example of a fixed training subset (with its labels as given), on a
 *       private copy of the network; a {@link LossSensitivitySample} is published.</li>
 *   <li>At each epoch end: the critical sample ratio of a fixed validation subset at the epochs of
 *       the {@link Builder#schedule schedule} (default {@code Schedule.epochs(1)}; accepted kinds:
 *       epochs, epoch lists, never; {@code andLast()} needs {@code totalEpochs(n)}; NaN in the
 *       other epochs' records) with LASS ({@link CriticalSamples}); the Gini coefficient of the
 *       per-example averages of g_x over the epoch's measurements (and over all so far);
 *       the per-class sensitivity matrix on the training subset; accuracy and loss of the
 *       training and validation subsets (inference mode, loss without regularisation
 *       terms), and the mean training minibatch score of the epoch: one
 *       {@link Memorization} carrying the LASS parameters.</li>
 * </ul>
 *
 * <p>All forward and backward passes run on a copy of the network
 * ({@link InputGradients#analysisCopy}: dropout and weight noise removed from the
 * copy), outside any workspace of the training thread, with a private random
 * generator; the training network is only read ({@code params()}, {@code score()}),
 * so training is bit-identical with and without this listener. A ComputationGraph
 * with one output layer is analysed the same way (input gradients by the graph's own
 * vertex backward passes, interval bounds over its vertices: {@link CriticalSamples}); a graph with
 * several outputs is refused by {@code build()} with the reason.
 *
 * <p><b>Graphs with several inputs</b> take their data as {@link MultiDataSet}s ({@link Builder#training(MultiDataSet)},
 * {@link Builder#validation(MultiDataSet)}: one features array per graph input, one labels array), or as DataSets
 * whose features are the joint form of the inputs ({@link dev.stethoscope.probes.model.GraphInputs}: each example's
 * inputs flattened and concatenated in the graph's input order; flat inputs only). x is then the
 * concatenation of all inputs of an example: loss sensitivity g_x = ||dL/dx||_1 sums the L1 norms of the gradients
 * with respect to every input (the L1 norm of the concatenated gradient), the per-class matrix likewise, and LASS
 * perturbs every input jointly within the same box ||x~ - x||_inf &lt;= r ({@link CriticalSamples#search(
 * ComputationGraph, INDArray[], LassParameters, int, boolean)}). So a graph with several inputs gives the numbers of
 * the one-input network that reads the concatenated input (tested).
 *
 * <p><b>Threads.</b> By default ({@link Builder#async}) the analyses run on one background
 * thread: at a measurement point the training thread only copies the parameters and goes on;
 * the background thread loads them into the analysis copy, computes, and hands the records
 * back, which the training thread publishes at its next callback (DL4J's {@code fit} holds the
 * network's monitor, so nothing is published or read from the network off the training
 * thread). Call {@link #flush()} (or {@link #close()}) after {@code fit} to publish what is
 * still running. The background thread competes with training for the CPU: it saves wall time
 * when training leaves cores idle, not otherwise (measured with {@code bench-memorization}:
 * docs/memorization.md, "Cost").
 *
 * <pre>{@code
 * MemorizationListener m = MemorizationListener.builder(net, statsStorage)
 *     .training(trainIter).validation(testIter)
 *     .lass(LassParameters.defaults())          // or LassParameters.preset("paper"), or .withRadius(r)
 *     .attach();
 * net.fit(trainIter, epochs);
 * m.close();   // publishes the last epoch's analyses
 * }</pre>
 */
public class MemorizationListener extends BackgroundListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MemorizationListener.class);
    private final LassParameters lass;
    private final int csrBatchSize;
    /** The default CSR schedule: every epoch end. */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.epochs(1);
    /** The default loss-sensitivity schedule: every 50th iteration. */
    public static final Schedule DEFAULT_SENSITIVITY_SCHEDULE = Schedule.iterations(50);
    private static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.EPOCHS, Schedule.Kind.EPOCH_LIST, Schedule.Kind.NEVER};
    private static final Schedule.Kind[] ACCEPTED_SENSITIVITY = {Schedule.Kind.ITERATIONS, Schedule.Kind.NEVER};

    private final Schedule csrSchedule;
    private final Schedule sensitivitySchedule;
    private final boolean perClass;
    /** Validation features, one array per network input. */
    private final INDArray[] valX;
    private final INDArray valY;
    /** Training features, one array per network input. */
    private final INDArray[] trainX;
    private final INDArray trainY;
    private final long[] trainKeys;

    private final LossSensitivity epochSensitivity = new LossSensitivity();
    private final LossSensitivity allSensitivity = new LossSensitivity();
    // state below the copy is touched by the worker's tasks only (in submission order)
    /** Only the architecture matters (each task loads its parameters); rebuilt after deserialisation. */
    private transient NetworkCopy copy;
    private double scoreSum;
    private int scoreCount;
    private int epochsSeen;
    private int measurementsThisEpoch;
    private boolean certificationNoteLogged;

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
    protected MemorizationListener(Builder b, MultiDataSet train, MultiDataSet val) {
        super(b, "memorization", "analysis");
        this.lass = b.lass;
        this.csrBatchSize = b.csrBatchSize;
        this.csrSchedule = b.csrSchedule();
        this.sensitivitySchedule = b.sensitivitySchedule();
        this.perClass = b.perClass;
        this.valX = val.getFeatures();
        this.valY = val.getLabels(0);
        this.trainX = train.getFeatures();
        this.trainY = train.getLabels(0);
        this.trainKeys = new long[(int) trainY.size(0)];
        for (int i = 0; i < trainKeys.length; i++) {
            trainKeys[i] = i;
        }
    }

    /**
     * A builder for {@code model} (a MultiLayerNetwork or a single-output ComputationGraph with one or more inputs),
     * publishing to {@code router}.
     */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    /** True: interval bounds through the network in double precision (runs the backend self-test first). */
    @Override
    protected boolean usesDoublePrecisionLinearAlgebra() {
        return true;
    }

    @Override
    public String monitorName() {
        return "memorization";
    }

    @Override
    protected Map<String, String> settings() {
        return parameters();
    }

    /** Every parameter of this monitor (LASS ones first), as published with each record. */
    public Map<String, String> parameters() {
        Map<String, String> s = new LinkedHashMap<>(lass.asMap());
        s.put("csrExamples", String.valueOf(valY.size(0)));
        s.put("csrBatchSize", String.valueOf(csrBatchSize));
        s.put("csrSchedule", csrSchedule.toString());
        s.put("totalEpochs", String.valueOf(csrSchedule.totalEpochs()));
        s.put("sensitivityExamples", String.valueOf(trainY.size(0)));
        s.put("sensitivitySchedule", sensitivitySchedule.toString());
        s.put("perClass", String.valueOf(perClass));
        return s;
    }

    /** When the critical sample ratio is computed (epoch ends). */
    public Schedule schedule() {
        return csrSchedule;
    }

    /** When loss sensitivity is measured (iterations). */
    public Schedule sensitivitySchedule() {
        return sensitivitySchedule;
    }

    /** The LASS parameters. */
    public LassParameters lass() {
        return lass;
    }

    /** The private analysis copy, loaded with {@code params}; used by the worker's tasks only. */
    private Model analysisNet(AnalysisContext.Snapshot params) {
        AnalysisContext ctx = context();
        if (ctx != null) {
            return ctx.load(params).model(); // the shared copy (same analysisCopy configuration)
        }
        copy.model().setParams(params.params());
        return copy.model();
    }

    private static double[] perExampleL1(Model net, INDArray[] x, INDArray y) {
        return net instanceof ComputationGraph g ? LossSensitivity.perExampleL1(g, x, y)
                : LossSensitivity.perExampleL1((MultiLayerNetwork) net, x[0], y);
    }

    /**
     * A copy of the training network's parameters now, outside the training workspaces (on the
     * training thread; the first call also makes the analysis copy of the network, here, because
     * reading the network from another thread while {@code fit} runs would block).
     */
    private AnalysisContext.Snapshot snapshot() {
        AnalysisContext ctx = context();
        if (ctx != null) {
            return ctx.snapshot();
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (copy == null) {
                copy = InputGradients.analysisCopy(model());
            }
            return new AnalysisContext.Snapshot(-1, currentEpoch(), currentIteration(), model().params().dup());
        }
    }

    @Override
    public void onEpochStart(Model model) {
        bind(model);
        drain();
        guard("onEpochStart", () -> {
            scoreSum = 0;
            scoreCount = 0;
            // the epoch's sensitivity state belongs to the worker: reset it in order with its tasks
            worker().submit(() -> {
                epochSensitivity.reset();
                measurementsThisEpoch = 0;
                return null;
            });
        });
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model);
        guard("iterationDone", () -> {
            double s = model.score();
            if (Double.isFinite(s)) {
                scoreSum += s;
                scoreCount++;
            }
            if (sensitivitySchedule.dueAtIteration(iteration)) {
                AnalysisContext.Snapshot params = snapshot();
                worker().submit(() -> {
                    LossSensitivitySample r = measureSensitivity(analysisNet(params));
                    return () -> publish(r, epoch, iteration);
                });
            }
        });
        drain(); // earlier background results; without a background thread, this one too
    }

    private LossSensitivitySample measureSensitivity(Model net) {
        double[] g = perExampleL1(net, trainX, trainY);
        epochSensitivity.add(trainKeys, g);
        measurementsThisEpoch++;
        allSensitivity.add(trainKeys, g);
        double mean = 0;
        for (double v : g) {
            mean += v;
        }
        return new LossSensitivitySample(mean / g.length, LossSensitivity.gini(g), epochSensitivity.gini(), g.length);
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        guard("onEpochEnd", () -> {
            int epoch = currentEpoch();
            long iteration = currentIteration();
            epochsSeen++;
            boolean csrDue = csrSchedule.dueAtEpochEnd(epochsSeen);
            double trainScoreMean = scoreCount == 0 ? Double.NaN : scoreSum / scoreCount;
            AnalysisContext.Snapshot params = snapshot();
            worker().submit(() -> {
                List<Record> out = epochRecords(analysisNet(params), csrDue, trainScoreMean);
                return () -> publishAll(out, epoch, iteration);
            });
        });
        drain();
    }

    /**
     * The epoch-end analysis on the analysis copy: a sensitivity measurement if the epoch had none
     * (fewer iterations than the sensitivity period), then the {@link Memorization}.
     */
    private List<Record> epochRecords(Model net, boolean csrDue, double trainScoreMean) {
        List<Record> out = new ArrayList<>(2);
        if (epochSensitivity.size() == 0) {
            out.add(measureSensitivity(net));
        }
        Memorization.Builder r = Memorization.builder().parameters(parameters());
        if (csrDue) {
            long t0 = System.nanoTime();
            CsrResult csr = net instanceof ComputationGraph g ? CriticalSamples.search(g, valX, lass, csrBatchSize, false)
                    : CriticalSamples.search((MultiLayerNetwork) net, valX[0], lass, csrBatchSize, false);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            double iters = 0;
            for (int i = 0; i < csr.numExamples(); i++) {
                if (csr.critical()[i]) {
                    iters += csr.iterationsUsed()[i];
                }
            }
            int c = csr.numCritical();
            r.csr(csr.criticalSampleRatio(), c, csr.numExamples(), c == 0 ? Double.NaN : iters / c, ms)
                    .csrCertified(csr.numCertified()).csrRadius(lass.radius(), lass.presetName());
            if (csr.certificationNote() != null && !certificationNoteLogged) {
                certificationNoteLogged = true;
                log.info("Critical samples: every example is searched (no interval bounds): {}",
                        csr.certificationNote());
            }
        } else {
            r.csr(Double.NaN, 0, 0, Double.NaN, 0);
        }
        double[] trainEval = evaluate(net, trainX, trainY);
        double[] valEval = evaluate(net, valX, valY);
        r.train(trainEval[0], trainEval[1], (int) trainY.size(0), trainScoreMean);
        r.validation(valEval[0], valEval[1], (int) valY.size(0));
        double mean = 0;
        for (double v : epochSensitivity.averages().values()) {
            mean += v;
        }
        r.sensitivity(epochSensitivity.gini(), allSensitivity.gini(), mean / epochSensitivity.size(),
                measurementsThisEpoch);
        double[][] matrix = new double[0][0];
        if (perClass) {
            matrix = net instanceof ComputationGraph g ? LossSensitivity.perClassMatrix(g, trainX, trainY)
                    : LossSensitivity.perClassMatrix((MultiLayerNetwork) net, trainX[0], trainY);
        }
        r.perClass(matrix);
        out.add(r.build());
        return out;
    }

    /** Accuracy and mean loss (no regularisation terms) of {@code net} on (x, y). */
    static double[] evaluate(Model net, INDArray[] x, INDArray y) {
        INDArray out = net instanceof ComputationGraph g ? g.output(false, x)[0]
                : ((MultiLayerNetwork) net).output(x[0], false);
        int[] pred = InputGradients.argmax(out);
        int[] truth = InputGradients.argmax(y);
        int ok = 0;
        for (int i = 0; i < pred.length; i++) {
            if (pred[i] == truth[i]) {
                ok++;
            }
        }
        INDArray losses = net instanceof ComputationGraph g
                ? g.scoreExamples(new org.nd4j.linalg.dataset.MultiDataSet(x, new INDArray[]{y}), false)
                : ((MultiLayerNetwork) net).scoreExamples(new DataSet(x[0], y), false);
        return new double[]{ok / (double) pred.length, losses.meanNumber().doubleValue()};
    }

    /** Builder of {@link MemorizationListener}. */
    public static class Builder extends BackgroundListener.Builder<Builder, MemorizationListener> {
        private LassParameters lass = LassParameters.defaults();
        private int csrBatchSize = 500;
        private Schedule sensitivitySchedule;
        private boolean perClass = true;
        private int validationSize = 500;
        private int trainingSize = 256;
        private DataSet validation;
        private DataSetIterator validationIterator;
        private DataSet training;
        private DataSetIterator trainingIterator;
        private MultiDataSet multiValidation;
        private MultiDataSet multiTraining;

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router, 16);
            if (model instanceof ComputationGraph g) {
                InputGradients.requireSingleOutput(g, "The memorisation monitor");
            } else {
                InputGradients.requireMultiLayer(model);
            }
        }

        /**
         * LASS parameters (default {@link LassParameters#defaults()}: r = 4/255 on [0,1] inputs, calibrated
         * on MNIST; {@code LassParameters.preset("paper")} is Arpit et al.'s r = 0.3/255).
         */
        public Builder lass(LassParameters p) {
            this.lass = Objects.requireNonNull(p, "lass");
            return this;
        }

        /** Validation examples searched together by LASS (default 500). */
        public Builder csrBatchSize(int n) {
            this.csrBatchSize = positive("csrBatchSize", n);
            return this;
        }

        /**
         * When loss sensitivity is measured: {@code Schedule.iterations(n)} (default
         * {@code iterations(50)}) or {@code Schedule.never()} (then once per epoch, at its end).
         * The CSR's epochs are set with {@link #schedule}.
         */
        public Builder sensitivitySchedule(Schedule s) {
            this.sensitivitySchedule = Objects.requireNonNull(s, "sensitivitySchedule");
            return this;
        }

        private Schedule csrSchedule() {
            Schedule s = scheduleOr(DEFAULT_SCHEDULE, ACCEPTED);
            if (s.includesLast() && s.totalEpochs() == null) {
                throw new IllegalArgumentException("MemorizationListener: schedule '" + s + "' includes the last epoch "
                        + "but not the run length; give it with .totalEpochs(n) (the CSR runs at epoch ends)");
            }
            return s;
        }

        private Schedule sensitivitySchedule() {
            return checkKind("MemorizationListener", "sensitivitySchedule",
                    sensitivitySchedule != null ? sensitivitySchedule : DEFAULT_SENSITIVITY_SCHEDULE, ACCEPTED_SENSITIVITY);
        }

        /** Whether to compute the per-class sensitivity matrix each epoch (default true; k backward passes). */
        public Builder perClass(boolean on) {
            this.perClass = on;
            return this;
        }

        /** Size of the fixed validation subset for CSR and validation accuracy (default 500). */
        public Builder validationSize(int n) {
            this.validationSize = positive("validationSize", n);
            return this;
        }

        /** Size of the fixed training subset for loss sensitivity and training accuracy (default 256). */
        public Builder trainingSize(int n) {
            this.trainingSize = positive("trainingSize", n);
            return this;
        }

        /** Validation data: its first {@code validationSize} examples are used. */
        public Builder validation(DataSet data) {
            this.validation = Objects.requireNonNull(data, "validation");
            return this;
        }

        /**
         * Validation data: its first {@code validationSize} examples are read once at build time (then it is
         * reset). Pass an unshuffled iterator so the subset is fixed.
         */
        public Builder validation(DataSetIterator data) {
            this.validationIterator = Objects.requireNonNull(data, "validation");
            return this;
        }

        /**
         * Validation data of a graph with several inputs (one features array per graph input, in its input order;
         * one labels array): its first {@code validationSize} examples are used.
         */
        public Builder validation(MultiDataSet data) {
            this.multiValidation = Objects.requireNonNull(data, "validation");
            return this;
        }

        /**
         * Training data of a graph with several inputs (one features array per graph input, in its input order;
         * one labels array, as trained on): its first {@code trainingSize} examples are used.
         */
        public Builder training(MultiDataSet data) {
            this.multiTraining = Objects.requireNonNull(data, "training");
            return this;
        }

        /** Training data (labels as trained on): its first {@code trainingSize} examples are used. */
        public Builder training(DataSet data) {
            this.training = Objects.requireNonNull(data, "training");
            return this;
        }

        /**
         * Training data: its first {@code trainingSize} examples are read once at build time (then it is reset).
         * Pass a separate, unshuffled iterator (or a DataSet), not the one being trained on: reading and
         * resetting a shuffling iterator may advance its shuffle and so change the training order.
         */
        public Builder training(DataSetIterator data) {
            this.trainingIterator = Objects.requireNonNull(data, "training");
            return this;
        }

        @Override
        public MemorizationListener build() {
            csrSchedule();
            sensitivitySchedule();
            if (validation == null && validationIterator == null && multiValidation == null) {
                throw new IllegalArgumentException("The memorisation monitor needs validation data for the critical "
                        + "sample ratio: call validation(DataSet), validation(DataSetIterator) or (graphs with several "
                        + "inputs) validation(MultiDataSet)");
            }
            if (training == null && trainingIterator == null && multiTraining == null) {
                throw new IllegalArgumentException("The memorisation monitor needs training data for loss sensitivity: "
                        + "call training(DataSet), training(DataSetIterator) or (graphs with several inputs) "
                        + "training(MultiDataSet)");
            }
            List<String> inputs = model instanceof ComputationGraph g ? g.getConfiguration().getNetworkInputs()
                    : List.of("input");
            MultiDataSet val = multiValidation != null ? firstExamples(multiValidation, validationSize, "validation")
                    : asMulti(model, firstExamples(validation, validationIterator, validationSize, "validation"));
            MultiDataSet train = multiTraining != null ? firstExamples(multiTraining, trainingSize, "training")
                    : asMulti(model, firstExamples(training, trainingIterator, trainingSize, "training"));
            for (MultiDataSet d : List.of(val, train)) {
                if (d.getFeatures().length != inputs.size()) {
                    throw new IllegalArgumentException("The network takes " + inputs.size() + " input array(s) "
                            + inputs + "; the data has " + d.getFeatures().length + (inputs.size() > 1
                            ? ": give training(MultiDataSet) and validation(MultiDataSet) with one features array per input"
                            : ""));
                }
                if (d.getLabels().length != 1) {
                    throw new IllegalArgumentException("The memorisation monitor needs one labels array; got "
                            + d.getLabels().length);
                }
            }
            int k = model instanceof ComputationGraph g ? InputGradients.numClasses(g)
                    : InputGradients.numClasses((MultiLayerNetwork) model);
            for (MultiDataSet d : List.of(val, train)) {
                INDArray labels = d.getLabels(0);
                if (labels.rank() != 2 || labels.size(1) != k) {
                    throw new IllegalArgumentException("Labels must be one-hot rows over the network's " + k
                            + " classes; got shape " + java.util.Arrays.toString(labels.shape()));
                }
            }
            for (INDArray f : val.getFeatures()) {
                double min = f.minNumber().doubleValue();
                double max = f.maxNumber().doubleValue();
                if (min < lass.inputMin() || max > lass.inputMax()) {
                    throw new IllegalArgumentException("Validation inputs lie in [" + min + ", " + max
                            + "], outside the LASS input range [" + lass.inputMin() + ", " + lass.inputMax()
                            + "]: set lass(LassParameters.defaults().withInputRange(lo, hi))");
                }
            }
            try {
                INDArray[] first = new INDArray[val.getFeatures().length];
                for (int j = 0; j < first.length; j++) {
                    first[j] = val.getFeatures(j).get(NDArrayIndex.interval(0, 1));
                }
                if (model instanceof ComputationGraph g) {
                    g.output(false, first);
                } else {
                    ((MultiLayerNetwork) model).output(first[0], false);
                }
            } catch (RuntimeException e) {
                StringBuilder shapes = new StringBuilder();
                for (INDArray f : val.getFeatures()) {
                    shapes.append(shapes.length() == 0 ? "" : ", ").append(java.util.Arrays.toString(f.shape()));
                }
                throw new IllegalArgumentException("The validation features do not fit the network's input (shape "
                        + shapes + "): " + e.getMessage(), e);
            }
            return new MemorizationListener(this, train, val);
        }

        private static int positive(String name, int n) {
            if (n < 1) {
                throw new IllegalArgumentException(name + " must be >= 1, got " + n);
            }
            return n;
        }

        /** A DataSet as the network takes it: for a graph with several inputs, its features split (joint form). */
        private static MultiDataSet asMulti(Model model, DataSet d) {
            if (model instanceof ComputationGraph g && g.getConfiguration().getNetworkInputs().size() > 1) {
                INDArray[] parts;
                try {
                    parts = dev.stethoscope.probes.model.GraphInputs.split(g, d.getFeatures());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("The network takes " + g.getConfiguration().getNetworkInputs()
                            .size() + " input array(s) " + g.getConfiguration().getNetworkInputs() + ": give "
                            + "training(MultiDataSet) and validation(MultiDataSet) with one features array per input, "
                            + "or DataSets of the joint form (" + e.getMessage() + ")", e);
                }
                return new org.nd4j.linalg.dataset.MultiDataSet(parts, new INDArray[]{d.getLabels()});
            }
            return new org.nd4j.linalg.dataset.MultiDataSet(d.getFeatures(), d.getLabels());
        }

        private static MultiDataSet firstExamples(MultiDataSet ds, int n, String what) {
            int m = (int) Math.min(n, ds.getLabels(0).size(0));
            if (m == 0) {
                throw new IllegalArgumentException("The " + what + " data set is empty");
            }
            INDArray[] f = new INDArray[ds.getFeatures().length];
            for (int j = 0; j < f.length; j++) {
                f[j] = ds.getFeatures(j).get(NDArrayIndex.interval(0, m)).dup();
            }
            INDArray[] l = new INDArray[ds.getLabels().length];
            for (int j = 0; j < l.length; j++) {
                l[j] = ds.getLabels(j).get(NDArrayIndex.interval(0, m)).dup();
            }
            return new org.nd4j.linalg.dataset.MultiDataSet(f, l);
        }

        private static DataSet firstExamples(DataSet ds, DataSetIterator it, int n, String what) {
            if (ds != null) {
                int m = Math.min(n, ds.numExamples());
                if (m == 0) {
                    throw new IllegalArgumentException("The " + what + " data set is empty");
                }
                return new DataSet(ds.getFeatures().get(NDArrayIndex.interval(0, m)).dup(),
                        ds.getLabels().get(NDArrayIndex.interval(0, m)).dup());
            }
            if (it.resetSupported()) {
                it.reset();
            }
            List<INDArray> xs = new ArrayList<>();
            List<INDArray> ys = new ArrayList<>();
            int have = 0;
            while (have < n && it.hasNext()) {
                DataSet b = it.next();
                int take = Math.min(n - have, b.numExamples());
                xs.add(b.getFeatures().get(NDArrayIndex.interval(0, take)).dup());
                ys.add(b.getLabels().get(NDArrayIndex.interval(0, take)).dup());
                have += take;
            }
            if (it.resetSupported()) {
                it.reset();
            }
            if (have == 0) {
                throw new IllegalArgumentException("The " + what + " iterator gave no examples");
            }
            return new DataSet(Nd4j.concat(0, xs.toArray(new INDArray[0])), Nd4j.concat(0, ys.toArray(new INDArray[0])));
        }
    }
}
