package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.probes.assertions.ConfigLint;
import dev.stethoscope.probes.assertions.Detector;
import dev.stethoscope.probes.assertions.DetectorSuite;
import dev.stethoscope.probes.assertions.EpochSignals;
import dev.stethoscope.probes.assertions.Episode;
import dev.stethoscope.probes.assertions.Finding;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.probes.assertions.SignalWindow;
import dev.stethoscope.probes.assertions.Signals;
import dev.stethoscope.probes.assertions.StepSignals;
import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Model assertions while training (issue #14): the built-in training-bug detectors of
 * {@code dev.stethoscope.probes.assertions} (non-finite values, exploding and vanishing gradients,
 * dying ReLU, saturation, oscillating loss, no progress, update/parameter ratio, validation
 * divergence, prediction collapse, single-class labels), the configuration lint, and the user's
 * own assertions ({@link Builder#assertThat}), each behind its {@link Episode} (fires once per
 * episode, re-arms after the condition has been absent for a while). Every firing is published as
 * an {@link AssertionFinding} (the <i>Assertions</i> panel) and, per assertion, logged or used to
 * stop training ({@link Action}). docs/ASSERTIONS.md lists the detectors and their thresholds.
 *
 * <pre>{@code
 * AssertionListener assertions = ModelAssertions.builder(net, statsStorage)
 *         .assertThat("loss-below-start", w -> w.latest().loss() > 2 * w.startLoss() ? Severity.ERROR : Severity.NONE)
 *         .action("non-finite", Action.STOP)
 *         .validation(heldOut)
 *         .attach();
 * try {
 *     net.fit(train, epochs);
 * } catch (AssertionStopException stop) {
 *     log.info("stopped: {}", stop.finding());
 * } finally {
 *     assertions.close();
 * }
 * }</pre>
 *
 * <p><b>What it reads, per step.</b> {@code onForwardPass}: the activations DL4J already computed on
 * the training batch (zero and saturated fractions, non-finite values; nothing is kept), the
 * batch's labels and the predicted classes (for a dense output layer, the arg-max of its
 * pre-activation computed from the last hidden activation: the training network's output layer
 * is not run); {@code onGradientCalculation}: per-layer raw gradient norms; {@code iterationDone}:
 * the loss, per-layer update and parameter norms. Then the step goes to the detectors. At the
 * first batch the configuration lint and the first batch's input range run. At each epoch end
 * the mean training loss and, when {@link Builder#validation validation data} is set, the
 * validation loss, computed on a copy of the network (never the training network), go to the
 * epoch detectors. For a {@link ComputationGraph} the activation signals are not collected (the
 * activation detectors abstain); the rest is.
 *
 * <p><b>Per-example and time-consistency assertions.</b> {@link Builder#assertExamples(String,
 * String, ExampleAssertion)} runs a function over each example's input, the training forward
 * pass's output and its label (copies) at every training step (not only the sampled ones; none
 * with {@code Schedule.never()}); the flagged examples of an epoch
 * (top {@link Builder#topExamples N} by severity and the count of all) are published at its end,
 * named by their example index when training runs on {@link #track} with indexed batches, else by
 * their stream position. The held-out variant and {@link Builder#assertTimeConsistency} run on the
 * network copy. {@link Action#CHECKPOINT} saves the model, {@link Action#SEND_TO_SUSPECTS} puts the
 * flagged examples on the Suspects page's review list.
 *
 * <p><b>Cost and schedule.</b> Two tiers. At <i>every</i> iteration the listener reads the loss
 * DL4J already computed, and the detectors over the loss (non-finite loss, loss limit, oscillating
 * loss, no progress) and the user's step assertions run on every step. The <i>sampled</i> signals
 * (per-layer norms of the gradient, update and parameters, activation fractions, non-finite
 * activations, predicted and label classes) are collected on the schedule's iterations only: by
 * default {@link #DEFAULT_SCHEDULE} ({@code Schedule.iterations(10)}); {@code Schedule.iterations(1)}
 * collects them at every step. On the other iterations the listener does no ND4J work. The
 * detectors over sampled signals (gradients, updates, activations, predictions, labels) are
 * evaluated on sampled steps only; their sustain windows keep their span in iterations, with at
 * least 3 samples ({@link SignalWindow#samplePeriod(int)}): at {@code iterations(10)} "10 steps" is 3
 * samples over 20 iterations (docs/ASSERTIONS.md). Epoch signals are collected at every epoch
 * end whatever the schedule. Accepted kinds: iterations and never (never keeps the lint and the
 * epoch detectors only).
 *
 * <p><b>Stopping training.</b> DL4J 1.0.0-M2.1 has no way for a listener to end {@code fit}
 * cleanly. An assertion with {@link Action#STOP} publishes its record when it fires, and the
 * listener throws an {@link AssertionStopException} at the start of the next training callback
 * ({@code onEpochStart} or {@code onForwardPass}, before any computation of the next step): the
 * step that fired is complete (its update applied, every listener's {@code iterationDone} run,
 * DL4J's iteration and epoch counters advanced), and the exception propagates out of the user's
 * {@code fit}, which is where training stops. The network stays usable (predict, save, fit again;
 * tested). If the assertion fires in the very last step or epoch end of {@code fit}, {@code fit}
 * has already returned normally; a pending stop is then dropped by {@link #close()}. (Throwing
 * from {@code iterationDone} itself would skip the listeners after this one and DL4J's increment
 * of the iteration counter.)
 *
 * <p>Serializable (see {@link StethoscopeListener}): the detectors, their windows and episodes and
 * the user assertions travel (user assertions are {@link UserAssertion}s, serializable lambdas);
 * a validation iterator, the network copy and the per-step scratch values do not.
 */
public class AssertionListener extends StethoscopeListener {
    @Serial
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(AssertionListener.class);
    /** The default number of flagged examples a record keeps. */
    public static final int DEFAULT_TOP_EXAMPLES = 16;
    /** Iterations between two sampled steps at the default schedule. */
    public static final int DEFAULT_SAMPLE_EVERY = 10;
    /**
     * The default schedule of the sampled signals: every {@value #DEFAULT_SAMPLE_EVERY}th iteration
     * (the loss is read at every iteration whatever the schedule).
     */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.iterations(DEFAULT_SAMPLE_EVERY);
    private static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.ITERATIONS, Schedule.Kind.NEVER};

    /** What happens when an assertion fires, besides publishing its record (always done). */
    public enum Action {
        /** Only the record. */
        RECORD,
        /** The record and a log line (WARN; the default). */
        LOG,
        /** The record, a log line (ERROR) and training stopped with an {@link AssertionStopException}. */
        STOP,
        /**
         * The record and the model saved with DL4J's {@link ModelSerializer} (with its updater state)
         * to the {@link Builder#checkpointDirectory checkpoint directory}, as
         * {@code <assertion>-epoch<E>-iter<I>.zip}; the record names the file. Training is not changed.
         */
        CHECKPOINT,
        /**
         * The record, whose flagged examples (indices, raw features, the assertion's name and
         * message) the Suspects page lists for review, so they can be marked and exported like
         * suspects. Only for per-example and time-consistency assertions.
         */
        SEND_TO_SUSPECTS;

        String recordName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * A per-example user assertion over one example: returns its severity, 0 (or less, or NaN) to
     * abstain, more to flag it; the listener keeps the flagged examples of highest severity.
     * Each argument is one example: slice i of the batch (so of rank one less: a vector for a
     * dense network), a copy (changing it changes nothing); {@code label} is null when the data
     * have no labels. Serializable, so a lambda is too.
     */
    @FunctionalInterface
    public interface ExampleAssertion extends Serializable {
        /**
         * @param input  the example's features
         * @param output the network's output for it (the output layer's activation)
         * @param label  its label, or null
         * @return its severity (&gt; 0 flags it)
         */
        double check(INDArray input, INDArray output, INDArray label);
    }

    /**
     * A user assertion over the window of recent training signals: returns {@link Severity#NONE}
     * (or null) to abstain, WARNING or ERROR to fire. Serializable, so a lambda is too.
     */
    @FunctionalInterface
    public interface UserAssertion extends Serializable {
        /**
         * @param window the recent steps and every epoch so far (read only)
         * @return the severity now
         */
        Severity check(SignalWindow window);
    }

    private final Schedule schedule;
    private final DetectorSuite suite;
    private final Set<String> userIds;
    private final Set<String> disabled;
    private final Map<String, EnumSet<Action>> actions;
    private final Action defaultAction;
    private final List<ExampleRule> exampleRules;
    private final String checkpointDirectory;
    private final int topExamples;
    private final DataSet validation;
    private final int plannedEpochs;
    private transient DataSetIterator validationIterator;

    private boolean linted;
    private double epochLossSum;
    private int epochLossCount;
    private int findingsPublished;

    private transient Signals.LayerNorms gradients;
    private transient Signals.ActivationSignals activations;
    private transient int[] predicted;
    private transient int[] labels;
    private transient NetworkCopy copy;
    private transient Finding stop;
    private transient boolean closed;
    /** The example indices of the batch the tracking iterator handed out last (null: none or not carried). */
    private transient long[] pendingIndices;
    /** Training rows seen in this epoch before the current batch (the stream position of its first row). */
    private transient long epochRows;
    /** The model parameters' iteration count when the copy was last refreshed (-1: never). */
    private transient long copyAt = -1;

    protected AssertionListener(Builder b) {
        super(b);
        this.schedule = b.resolvedSchedule();
        List<Detector> detectors = new ArrayList<>();
        for (Detector d : DetectorSuite.defaultDetectors()) {
            if (!b.without.contains(d.id())) {
                detectors.add(d);
            }
        }
        detectors.addAll(b.userDetectors);
        this.suite = new DetectorSuite(new SignalWindow(b.windowSteps), detectors, b.rearmAfter);
        this.suite.window().plannedEpochs(b.plannedEpochs);
        if (schedule.kind() == Schedule.Kind.ITERATIONS && schedule.period() > 1) {
            this.suite.window().samplePeriod(schedule.period()); // sustain windows stay spans of iterations
        }
        this.userIds = new LinkedHashSet<>();
        b.userDetectors.forEach(d -> userIds.add(d.id()));
        this.disabled = new TreeSet<>(b.without);
        this.actions = new LinkedHashMap<>(b.actions);
        this.defaultAction = b.defaultAction;
        this.exampleRules = List.copyOf(b.exampleRules);
        this.checkpointDirectory = b.checkpointDirectory;
        this.topExamples = b.topExamples;
        this.validation = b.validation;
        this.validationIterator = b.validationIterator;
        this.plannedEpochs = b.plannedEpochs;
    }

    /** A builder for {@code model}, publishing to {@code router}. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    /** The ids of every built-in assertion: the detectors and the configuration lint rules. */
    public static List<String> builtInIds() {
        List<String> ids = new ArrayList<>();
        DetectorSuite.defaultDetectors().forEach(d -> ids.add(d.id()));
        ids.add(ConfigLint.LOSS_ACTIVATION);
        ids.add(ConfigLint.LEARNING_RATE);
        ids.add(ConfigLint.INPUT_RANGE);
        return ids;
    }

    @Override
    public String monitorName() {
        return "assertions";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("schedule", schedule.toString());
        s.put("detectors", String.join(",", suite.episodes().stream().map(e -> e.detector().id()).toList()));
        s.put("without", String.join(",", disabled));
        s.put("userAssertions", String.join(",", userIds));
        s.put("defaultAction", defaultAction.recordName());
        List<String> a = new ArrayList<>();
        actions.forEach((k, v) -> a.add(k + "=" + actionName(v)));
        s.put("actions", String.join(";", a));
        s.put("exampleAssertions", String.join(",", exampleRules.stream().map(r -> r.id + ":" + r.kind.source).toList()));
        s.put("topExamples", String.valueOf(topExamples));
        s.put("checkpointDirectory", checkpointDirectory == null ? "none" : checkpointDirectory);
        s.put("validation", validation != null ? "dataset" : validationIterator != null ? "iterator" : "none");
        s.put("plannedEpochs", String.valueOf(plannedEpochs));
        return s;
    }

    /** When step signals are collected. */
    public Schedule schedule() {
        return schedule;
    }

    /** The detectors' window (read it, do not change it). */
    public SignalWindow window() {
        return suite.window();
    }

    /** Number of findings published so far. */
    public int findingsPublished() {
        return findingsPublished;
    }

    private boolean due(Model model) {
        return schedule.dueAtIteration(iterationOf(model));
    }

    private static long iterationOf(Model m) {
        if (m instanceof MultiLayerNetwork mln) {
            return mln.getIterationCount();
        }
        if (m instanceof ComputationGraph cg) {
            return cg.getIterationCount();
        }
        return 0;
    }

    private static int epochOf(Model m) {
        if (m instanceof MultiLayerNetwork mln) {
            return mln.getEpochCount();
        }
        if (m instanceof ComputationGraph cg) {
            return cg.getEpochCount();
        }
        return 0;
    }

    /**
     * Wraps a training iterator so that the example indices its batches carry ({@link
     * dev.stethoscope.listeners.data.ExampleIndex}) name the examples flagged by per-example
     * assertions on the training batches; without it (or for batches without indices) they are
     * named by their stream position. The wrapper is never asynchronous (the declared batch must
     * be the one trained next).
     */
    public DataSetIterator track(DataSetIterator iterator) {
        return new ForwardingDataSetIterator(Objects.requireNonNull(iterator, "iterator")) {
            @Serial
            private static final long serialVersionUID = 1L;

            @Override
            public DataSet next() {
                return declare(delegate().next());
            }

            @Override
            public DataSet next(int num) {
                return declare(delegate().next(num));
            }

            @Override
            public boolean asyncSupported() {
                return false;
            }

            @Override
            public void reset() {
                pendingIndices = null;
                delegate().reset();
            }
        };
    }

    private DataSet declare(DataSet ds) {
        pendingIndices = ds != null && ExampleIndex.hasIndices(ds) ? ExampleIndex.indicesOf(ds) : null;
        return ds;
    }

    @Override
    public void onEpochStart(Model model) {
        bind(model);
        stopIfRequested();
        epochRows = 0;
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> acts) {
        bind(model);
        stopIfRequested();
        guard("onForwardPass", () -> {
            if (!linted && !acts.isEmpty()) {
                lint(model, acts.get(0));
            }
            if (schedule.kind() == Schedule.Kind.NEVER || !(model instanceof MultiLayerNetwork mln)) {
                return;
            }
            if (!due(model)) {
                return; // a step between samples: nothing read here
            }
            INDArray y = mln.getLabels();
            labels = y != null && y.rank() == 2 ? Signals.classes(y) : null;
            activations = Signals.activations(acts, mln.getLayerWiseConfigurations());
            predicted = predictions(mln, acts);
        });
        if (hasRules(ExampleRule.Kind.TRAINING)) {
            long[] ids = pendingIndices;
            pendingIndices = null;
            long first = epochRows;
            long rows = acts.isEmpty() ? 0 : acts.get(0).size(0);
            epochRows += rows;
            guard("onForwardPass", () -> {
                // every batch (not only the sampled steps): the user asked for each example to be checked
                if (schedule.kind() != Schedule.Kind.NEVER && model instanceof MultiLayerNetwork mln) {
                    // detached copies: the assertion may keep what it is given
                    try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                                 org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                        checkTrainingBatch(mln, acts, ids != null && ids.length == rows ? ids : null, first);
                    }
                }
            });
        }
    }

    private boolean hasRules(ExampleRule.Kind kind) {
        for (ExampleRule r : exampleRules) {
            if (r.kind == kind) {
                return true;
            }
        }
        return false;
    }

    /** Runs the training-batch example assertions on one forward pass's input, output and labels (copies). */
    private void checkTrainingBatch(MultiLayerNetwork mln, List<INDArray> acts, long[] ids, long firstPosition) {
        INDArray out = outputOf(mln, acts);
        if (out == null) {
            throw new IllegalStateException("Per-example assertions need the output of the training forward pass: "
                    + "the output layer must be a dense OutputLayer (or DL4J must hand over its activation)");
        }
        INDArray x = acts.get(0).dup();
        INDArray y = mln.getLabels() == null ? null : mln.getLabels().dup();
        long iteration = iterationOf(mln);
        for (ExampleRule r : exampleRules) {
            if (r.kind != ExampleRule.Kind.TRAINING) {
                continue;
            }
            ExampleRule.TopN top = r.top(topExamples);
            top.featureShape(exampleShape(x));
            boolean flagged = false;
            for (int i = 0; i < x.size(0); i++) {
                INDArray xi = x.slice(i);
                INDArray oi = out.slice(i);
                INDArray yi = y == null ? null : y.slice(i);
                double s = r.fn.check(xi, oi, yi);
                if (!(s > 0)) {
                    continue;
                }
                flagged = true;
                long id = ids == null ? -1 : ids[i];
                top.add(top.wouldKeep(s) ? candidate(id, firstPosition + i, s, xi, oi, yi, null) : null, s, ids != null);
            }
            if (flagged) {
                r.flaggedAt(iteration);
            }
        }
    }

    private static long[] exampleShape(INDArray batch) {
        long[] s = batch.shape();
        return java.util.Arrays.copyOfRange(s, 1, s.length);
    }

    private static ExampleRule.Candidate candidate(long id, long position, double severity, INDArray x, INDArray out,
                                                   INDArray y, int[] history) {
        byte[] px = new byte[(int) x.length()];
        float[] range = ExampleRule.quantise(x, px);
        boolean has = !Float.isNaN(range[0]);
        return new ExampleRule.Candidate(id, position, severity, y == null ? -1 : argMax(y), argMax(out), history,
                has ? range[0] : Float.NaN, has ? range[1] : Float.NaN, has ? px : null);
    }

    private static int argMax(INDArray v) {
        if (v == null || v.length() == 0) {
            return -1;
        }
        if (v.length() == 1) {
            return v.getDouble(0) >= 0.5 ? 1 : 0;
        }
        return v.reshape(v.length()).argMax(0).getInt(0);
    }

    /**
     * The output of the training forward pass: the output layer's activation when DL4J hands it
     * over, else the activation of {@code h W + b} from the last hidden activation {@code h} and the
     * output layer's parameters (a dense output layer; null for another kind). A fresh array.
     */
    private static INDArray outputOf(MultiLayerNetwork net, List<INDArray> acts) {
        int n = net.getnLayers();
        if (acts.size() == n + 1) {
            return acts.get(n).dup();
        }
        if (acts.size() != n || !(net.getOutputLayer() instanceof org.deeplearning4j.nn.layers.OutputLayer)) {
            return null;
        }
        INDArray h = acts.get(n - 1);
        INDArray w = net.getOutputLayer().getParam("W");
        INDArray b = net.getOutputLayer().getParam("b");
        if (h.rank() != 2 || w == null || w.rank() != 2 || h.size(1) != w.size(0)) {
            return null;
        }
        INDArray z = h.castTo(w.dataType()).mmul(w);
        if (b != null) {
            z.addiRowVector(b);
        }
        var fn = Signals.activationOf(net.getLayerWiseConfigurations().getConf(n - 1).getLayer());
        return fn == null ? z : fn.getActivation(z, false);
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> acts) {
        bind(model);
        stopIfRequested();
        guard("onForwardPass", () -> {
            if (!linted && model instanceof ComputationGraph cg) {
                List<String> inputs = cg.getConfiguration().getNetworkInputs();
                lint(model, inputs.isEmpty() ? null : acts.get(inputs.get(0)));
            }
        });
    }

    private void lint(Model model, INDArray firstInput) {
        linted = true;
        announce(AssertionFinding.TYPE_ID); // the UI knows the monitor is attached, even if nothing ever fires
        List<Finding> out = new ArrayList<>();
        if (model instanceof MultiLayerNetwork mln) {
            out.addAll(ConfigLint.check(mln.getLayerWiseConfigurations()));
        } else if (model instanceof ComputationGraph cg) {
            out.addAll(ConfigLint.check(cg.getConfiguration()));
        }
        if (firstInput != null) {
            out.addAll(ConfigLint.checkInput(firstInput));
        }
        out.removeIf(f -> disabled.contains(f.detector()));
        handle(model, out, epochOf(model), iterationOf(model));
    }

    /**
     * Predicted classes of the batch for a dense output layer: arg-max of {@code h W + b} (the
     * softmax, and any increasing activation, keeps the arg-max), or {@code h W + b >= 0} for one
     * sigmoid output; null when the output layer is of another kind.
     */
    private static int[] predictions(MultiLayerNetwork net, List<INDArray> acts) {
        int n = net.getnLayers();
        if (acts.size() == n + 1) {
            INDArray out = acts.get(n);
            return out.rank() == 2 ? Signals.classes(out) : null;
        }
        if (acts.size() != n || !(net.getOutputLayer() instanceof org.deeplearning4j.nn.layers.OutputLayer)) {
            return null;
        }
        INDArray h = acts.get(n - 1);
        INDArray w = net.getOutputLayer().getParam("W");
        INDArray b = net.getOutputLayer().getParam("b");
        if (h.rank() != 2 || w == null || w.rank() != 2 || h.size(1) != w.size(0)) {
            return null;
        }
        INDArray z = h.castTo(w.dataType()).mmul(w);
        if (b != null) {
            z.addiRowVector(b);
        }
        if (z.size(1) == 1) {
            var fn = Signals.activationOf(net.getLayerWiseConfigurations().getConf(n - 1).getLayer());
            return fn instanceof ActivationSigmoid ? z.gte(0.0).castTo(org.nd4j.linalg.api.buffer.DataType.INT32).toIntVector() : null;
        }
        return Signals.classes(z); // read in Java from the fresh [batch, classes] array
    }

    @Override
    public void onGradientCalculation(Model model) {
        bind(model);
        guard("onGradientCalculation", () -> {
            if (due(model) && model.gradient() != null) {
                gradients = model instanceof MultiLayerNetwork mln ? Signals.layerNorms(mln, true) : null;
                if (gradients == null) {
                    gradients = Signals.layerNorms(model.gradient().gradientForVariable());
                }
            }
        });
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model);
        guard("iterationDone", () -> {
            double loss = model.score();
            epochLossSum += loss;
            epochLossCount++;
            if (schedule.kind() == Schedule.Kind.NEVER) {
                return;
            }
            if (!due(model)) {
                // a step between samples: the loss only, no ND4J work
                StepSignals.Builder light = StepSignals.builder(iteration).epoch(epoch).loss(loss);
                labels = null;
                gradients = null;
                handle(model, suite.onStep(light.build()), epoch, iteration);
                return;
            }
            // a MultiLayerNetwork: one norm per layer over its slice of the flat buffers
            MultiLayerNetwork flat = model instanceof MultiLayerNetwork m ? m : null;
            Signals.LayerNorms params = flat != null ? Signals.layerNorms(flat, false) : null;
            if (params == null) {
                params = Signals.layerNorms(model.paramTable());
            }
            Signals.LayerNorms updates = null;
            if (model.gradient() != null) {
                updates = flat != null ? Signals.layerNorms(flat, true) : null;
                if (updates == null) {
                    updates = Signals.layerNorms(model.gradient().gradientForVariable());
                }
            }
            StepSignals.Builder s = StepSignals.builder(iteration).epoch(epoch).loss(loss)
                    .layerNames(params.names()).parameterNorms(params.norms()).parameterCounts(params.counts());
            if (gradients != null && gradients.norms().length == params.norms().length) {
                s.gradientNorms(gradients.norms());
            }
            if (updates != null && updates.norms().length == params.norms().length) {
                s.updateNorms(updates.norms());
            }
            if (activations != null) {
                s.zeroFractions(activations.zeroFractions()).saturatedFractions(activations.saturatedFractions())
                        .nonFiniteActivations(activations.nonFinite());
            }
            if (predicted != null && labels != null && predicted.length == labels.length) {
                s.predictedClasses(predicted).labelClasses(labels);
            } else if (labels != null) {
                s.labelClasses(labels);
            }
            gradients = null;
            activations = null;
            predicted = null;
            labels = null;
            handle(model, suite.onStep(s.build()), epoch, iteration);
        });
        if (hasRules(ExampleRule.Kind.HELD_OUT)) {
            guard("iterationDone", () -> {
                long it = iterationOf(model);
                for (ExampleRule r : exampleRules) {
                    if (r.kind == ExampleRule.Kind.HELD_OUT && !r.schedule.isEpochBased() && r.schedule.dueAtIteration(it)) {
                        checkHeldOut(model, r, "step", it, epochOf(model), it);
                    }
                }
            });
        }
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        guard("onEpochEnd", () -> {
            int epoch = epochOf(model);
            double train = epochLossCount == 0 ? Double.NaN : epochLossSum / epochLossCount;
            epochLossSum = 0;
            epochLossCount = 0;
            double val = validationLoss(model);
            handle(model, suite.onEpoch(new EpochSignals(epoch, train, val, Double.NaN)), epoch, iterationOf(model));
        });
        if (!exampleRules.isEmpty()) {
            guard("onEpochEnd", () -> {
                int epoch = epochOf(model);
                long it = iterationOf(model);
                publishTraining(model, epoch, it);
                for (ExampleRule r : exampleRules) {
                    if (r.kind == ExampleRule.Kind.HELD_OUT && r.schedule.isEpochBased() && r.schedule.dueAtEpochEnd(epoch + 1)) {
                        checkHeldOut(model, r, "epoch", epoch, epoch, it);
                    } else if (r.kind == ExampleRule.Kind.FLICKER) {
                        checkFlicker(model, r, epoch, it);
                    }
                }
            });
        }
    }

    /** Publishes the examples the training-batch assertions flagged since the last publication. */
    private void publishTraining(Model model, int epoch, long iteration) {
        for (ExampleRule r : exampleRules) {
            if (r.kind != ExampleRule.Kind.TRAINING) {
                continue;
            }
            ExampleRule.TopN top = r.top(topExamples);
            if (top.count() > 0) {
                boolean indexed = top.allIndexed();
                emit(model, new AssertionFinding(r.id, Severity.WARNING.name(), r.message + " (" + top.count()
                                + " training example" + (top.count() == 1 ? "" : "s") + " flagged)", "step",
                                r.firstStep(), r.lastStep(), true, "record", r.kind.source,
                                indexed ? "example-index" : "stream-position", top.count(), 0,
                                top.featureShape(), top.examples(indexed), ""), epoch, iteration);
            }
            r.resetTop();
        }
    }

    /** The analysis copy of the network with the current parameters (refreshed at most once per iteration count). */
    private Model analysisCopy(Model model) {
        long it = iterationOf(model);
        if (copy == null || copy.source() != model) {
            copy = NetworkCopy.of(model);
        } else if (copyAt != it) {
            copy.refresh();
        }
        copyAt = it;
        return copy.model();
    }

    private static INDArray output(Model m, INDArray x) {
        if (m instanceof MultiLayerNetwork mln) {
            return mln.output(x, false);
        }
        return ((ComputationGraph) m).outputSingle(false, x);
    }

    /** Runs a held-out example assertion on a copy of the network. */
    private void checkHeldOut(Model model, ExampleRule r, String unit, long at, int epoch, long iteration) {
        INDArray x = r.set.getFeatures().dup();
        INDArray out = output(analysisCopy(model), r.set.getFeatures()).dup();
        INDArray y = r.set.getLabels() == null ? null : r.set.getLabels().dup();
        ExampleRule.TopN top = new ExampleRule.TopN(topExamples);
        top.featureShape(exampleShape(x));
        for (int i = 0; i < x.size(0); i++) {
            INDArray xi = x.slice(i);
            INDArray oi = out.slice(i);
            INDArray yi = y == null ? null : y.slice(i);
            double s = r.fn.check(xi, oi, yi);
            if (s > 0) {
                top.add(top.wouldKeep(s) ? candidate(r.setIndex(i), i, s, xi, oi, yi, null) : null, s, true);
            }
        }
        if (top.count() > 0) {
            emit(model, new AssertionFinding(r.id, Severity.WARNING.name(), r.message + " (" + top.count()
                    + " held-out example" + (top.count() == 1 ? "" : "s") + " flagged)", unit, at, at, true, "record",
                    r.kind.source, r.setIdentity(), top.count(), (int) out.size(1), top.featureShape(),
                    top.examples(true), ""), epoch, iteration);
        }
    }

    /** Adds this epoch's predicted classes of the fixed set to a time-consistency assertion and publishes new flickering. */
    private void checkFlicker(Model model, ExampleRule r, int epoch, long iteration) {
        INDArray out = output(analysisCopy(model), r.set.getFeatures());
        int[] predicted = Signals.classes(out);
        List<int[]> started = r.flickerStep(predicted);
        if (started.isEmpty()) {
            return;
        }
        INDArray x = r.set.getFeatures();
        INDArray y = r.set.getLabels();
        ExampleRule.TopN top = new ExampleRule.TopN(topExamples);
        top.featureShape(exampleShape(x));
        for (int[] s : started) {
            int i = s[0];
            top.add(top.wouldKeep(s[1]) ? candidate(r.setIndex(i), i, s[1], x.slice(i), out.slice(i),
                    y == null ? null : y.slice(i), r.historyOf(i)) : null, s[1], true);
        }
        emit(model, new AssertionFinding(r.id, Severity.WARNING.name(), r.message + " (" + started.size()
                + " example" + (started.size() == 1 ? "" : "s") + " changed class more than " + r.allowed
                + " time" + (r.allowed == 1 ? "" : "s") + " within " + r.window + " epochs)", "epoch",
                epoch - r.filled() + 1, epoch, true, "record", r.kind.source, r.setIdentity(),
                started.size(), (int) out.size(1), top.featureShape(), top.examples(true), ""), epoch, iteration);
    }

    /** The validation loss on a copy of the network (NaN without validation data). */
    private double validationLoss(Model model) {
        if (validation == null && validationIterator == null) {
            return Double.NaN;
        }
        Model c = analysisCopy(model);
        if (validation != null) {
            return score(c, validation);
        }
        validationIterator.reset();
        double sum = 0;
        long n = 0;
        while (validationIterator.hasNext()) {
            DataSet ds = validationIterator.next();
            long k = ds.numExamples();
            sum += score(c, ds) * k;
            n += k;
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    private static double score(Model m, DataSet ds) {
        if (m instanceof MultiLayerNetwork mln) {
            return mln.score(ds);
        }
        return ((ComputationGraph) m).score(ds);
    }

    private void handle(Model model, List<Finding> findings, int epoch, long iteration) {
        for (Finding f : findings) {
            emit(model, new AssertionFinding(f.detector(), f.severity().name(), f.message(),
                    f.unit().name().toLowerCase(Locale.ROOT), f.from(), f.to(), userIds.contains(f.detector()), "record"),
                    epoch, iteration);
        }
    }

    private static String actionName(Set<Action> set) {
        List<String> names = new ArrayList<>();
        for (Action a : set) {
            if (a != Action.RECORD || set.size() == 1) {
                names.add(a.recordName());
            }
        }
        return String.join(",", names);
    }

    /** Takes the actions of a firing (the record's action is replaced by them) and publishes its record. */
    private void emit(Model model, AssertionFinding f, int epoch, long iteration) {
        Set<Action> set = actions.getOrDefault(f.detector(), EnumSet.of(defaultAction));
        String file = "";
        if (set.contains(Action.CHECKPOINT)) {
            file = checkpoint(model, f.detector(), epoch, iteration);
        }
        AssertionFinding r = new AssertionFinding(f.detector(), f.severity(), f.message(), f.unit(), f.from(), f.to(),
                f.user(), actionName(set), f.source(), f.identity(), f.flagged(), f.numClasses(), f.featureShape(),
                f.examples(), file);
        publish(r, epoch, iteration);
        findingsPublished++;
        String text = f.detector() + " " + f.severity() + " [" + f.unit() + " " + f.from() + ".." + f.to() + "] "
                + f.message() + (f.examples().isEmpty() ? "" : "; examples " + java.util.Arrays.toString(r.indices()))
                + (file.isEmpty() ? "" : "; checkpoint " + file);
        if (set.contains(Action.STOP)) {
            log.error("Stethoscope assertion {}: stopping training", text);
            if (stop == null) {
                stop = new Finding(f.detector(), Severity.valueOf(f.severity()), f.message(),
                        dev.stethoscope.probes.assertions.WindowUnit.valueOf(f.unit().toUpperCase(Locale.ROOT)),
                        f.from(), f.to());
            }
        } else if (set.contains(Action.LOG)) {
            log.warn("Stethoscope assertion {}", text);
        }
    }

    /**
     * Saves {@code model} with its updater state to the checkpoint directory; returns the file
     * name, or "" when the save failed (logged; training goes on).
     */
    private String checkpoint(Model model, String id, int epoch, long iteration) {
        java.io.File dir = new java.io.File(checkpointDirectory);
        String base = id + "-epoch" + epoch + "-iter" + iteration;
        java.io.File file = new java.io.File(dir, base + ".zip");
        for (int k = 2; file.exists(); k++) {
            file = new java.io.File(dir, base + "-" + k + ".zip");
        }
        try {
            dir.mkdirs();
            ModelSerializer.writeModel(model, file, true);
            return file.getName();
        } catch (java.io.IOException | RuntimeException e) {
            log.error("Stethoscope assertion {}: could not save the checkpoint {}", id, file, e);
            return "";
        }
    }

    private void stopIfRequested() {
        Finding f = stop;
        if (f != null) {
            stop = null;
            throw new AssertionStopException(f);
        }
    }

    /**
     * Ends monitoring: publishes what per-example assertions on the training batches flagged
     * since the last epoch end (training without epochs, e.g. a loop over {@code fit(DataSet)}),
     * releases the network copy and drops a pending stop. Every other finding is published when
     * it fires. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Model m = model();
        if (m != null && hasRules(ExampleRule.Kind.TRAINING)) {
            guard("close", () -> publishTraining(m, epochOf(m), iterationOf(m)));
        }
        copy = null;
        stop = null;
    }

    /** Wraps a user assertion as a {@link Detector}: it fires over the latest step (or epoch). */
    static final class UserDetector implements Detector {
        @Serial
        private static final long serialVersionUID = 1L;
        private final String id;
        private final String message;
        private final UserAssertion fn;
        private final boolean epochs;

        UserDetector(String id, String message, UserAssertion fn, boolean epochs) {
            this.id = id;
            this.message = message;
            this.fn = fn;
            this.epochs = epochs;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public dev.stethoscope.probes.assertions.Condition check(SignalWindow window) {
            Severity s = fn.check(window);
            if (s == null || s == Severity.NONE) {
                return dev.stethoscope.probes.assertions.Condition.ABSENT;
            }
            if (epochs) {
                List<EpochSignals> e = window.epochs();
                int at = e.isEmpty() ? 0 : e.get(e.size() - 1).epoch();
                return dev.stethoscope.probes.assertions.Condition.epochs(s, message, at, at);
            }
            StepSignals latest = window.latest();
            long at = latest == null ? 0 : latest.step();
            return dev.stethoscope.probes.assertions.Condition.steps(s, message, at, at);
        }

        @Override
        public boolean epochLevel() {
            return epochs;
        }
    }

    /** Builder of {@link AssertionListener} (also reached as {@link ModelAssertions#builder}). */
    public static class Builder extends StethoscopeListener.Builder<Builder, AssertionListener> {
        private final Set<String> without = new TreeSet<>();
        private final List<Detector> userDetectors = new ArrayList<>();
        private final Map<String, EnumSet<Action>> actions = new LinkedHashMap<>();
        private Action defaultAction = Action.LOG;
        private final List<ExampleRule> exampleRules = new ArrayList<>();
        private String checkpointDirectory;
        private int topExamples = DEFAULT_TOP_EXAMPLES;
        private DataSet validation;
        private DataSetIterator validationIterator;
        private int windowSteps = DetectorSuite.DEFAULT_CAPACITY;
        private int rearmAfter = Episode.DEFAULT_REARM_AFTER;
        private int plannedEpochs;

        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /**
         * Adds a user assertion evaluated at every collected step: {@code fn} returns the severity
         * now (NONE or null abstains). It fires once per episode, like the built-ins.
         *
         * @param name a unique id, [a-z0-9-]+, not a built-in id
         */
        public Builder assertThat(String name, UserAssertion fn) {
            return assertThat(name, "User assertion '" + name + "' failed", fn);
        }

        /** As {@link #assertThat(String, UserAssertion)}, with the message its records carry. */
        public Builder assertThat(String name, String message, UserAssertion fn) {
            return user(name, message, fn, false);
        }

        /**
         * Adds a user assertion evaluated at every epoch end (over {@link SignalWindow#epochs()}).
         *
         * @param name a unique id, [a-z0-9-]+, not a built-in id
         */
        public Builder assertThatEpochs(String name, String message, UserAssertion fn) {
            return user(name, message, fn, true);
        }

        private Builder user(String name, String message, UserAssertion fn, boolean epochs) {
            Objects.requireNonNull(fn, "assertion");
            checkName(name, message);
            userDetectors.add(new UserDetector(name, message, fn, epochs));
            return this;
        }

        private List<String> userNames() {
            List<String> out = new ArrayList<>();
            userDetectors.forEach(d -> out.add(d.id()));
            exampleRules.forEach(r -> out.add(r.id));
            return out;
        }

        private void checkName(String name, String message) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(message, "message");
            if (!name.matches("[a-z0-9][a-z0-9-]*")) {
                throw new IllegalArgumentException("Assertion name '" + name + "' must be lower-case letters, digits and dashes");
            }
            if (builtInIds().contains(name) || userNames().contains(name)) {
                throw new IllegalArgumentException("Assertion name '" + name + "' is taken; built-in ids: " + builtInIds()
                        + ", user assertions: " + userNames());
            }
        }

        /**
         * Adds a per-example assertion evaluated on the training batches (at every iteration of the
         * listener's schedule), over each example's input, the output of the training forward pass
         * (as DL4J computed it: training mode, so with that batch's dropout) and its label. The
         * examples flagged during an epoch are published at its end in one record (the
         * {@link #topExamples top N} by severity and the count of all), with their example indices
         * when training runs on {@link AssertionListener#track the tracked iterator} and the
         * batches carry them, else with their stream position in the epoch (the record says which).
         * Needs a MultiLayerNetwork with a dense output layer.
         *
         * @param name a unique id, [a-z0-9-]+, not a built-in id
         */
        public Builder assertExamples(String name, String message, ExampleAssertion fn) {
            Objects.requireNonNull(fn, "assertion");
            checkName(name, message);
            exampleRules.add(new ExampleRule(name, message, ExampleRule.Kind.TRAINING, fn, null, null, 0, 0));
            return this;
        }

        /**
         * Adds a per-example assertion evaluated on {@code heldOut} with a copy of the network
         * (inference mode; the training network is never run), on {@code when}:
         * {@code Schedule.epochs(k)}, {@code atEpochs(...)} or {@code iterations(n)}. Each
         * evaluation that flags examples publishes a record; an example is named by the index
         * {@code heldOut} carries ({@link ExampleIndex}), else by its row.
         *
         * @param name a unique id, [a-z0-9-]+, not a built-in id
         */
        public Builder assertExamples(String name, String message, ExampleAssertion fn, DataSet heldOut, Schedule when) {
            Objects.requireNonNull(fn, "assertion");
            Objects.requireNonNull(heldOut, "heldOut");
            Objects.requireNonNull(when, "when");
            checkName(name, message);
            if (when.kind() != Schedule.Kind.EPOCHS && when.kind() != Schedule.Kind.EPOCH_LIST
                    && when.kind() != Schedule.Kind.ITERATIONS) {
                throw new IllegalArgumentException("Held-out example assertion '" + name + "': schedule " + when
                        + " is not accepted; valid kinds: " + List.of(Schedule.Kind.EPOCHS, Schedule.Kind.EPOCH_LIST,
                        Schedule.Kind.ITERATIONS));
            }
            exampleRules.add(new ExampleRule(name, message, ExampleRule.Kind.HELD_OUT, fn, heldOut, when, 0, 0));
            return this;
        }

        /**
         * Adds a time-consistency assertion (OMG's {@code TimeConsistencyAssertion}): at every epoch
         * end the predicted classes of {@code fixedSet} are computed with a copy of the network;
         * an example whose class changed more than {@code allowedChanges} times within the last
         * {@code window} epochs fires, once when it starts flickering (again only after it has
         * stopped). The record holds its index (the index {@code fixedSet} carries, else its row),
         * its number of changes as severity and its class at each epoch of the window.
         *
         * @param window         epochs in the window, at least 2
         * @param allowedChanges changes of class tolerated within it, in [0, window - 2]
         */
        public Builder assertTimeConsistency(String name, String message, DataSet fixedSet, int window,
                                             int allowedChanges) {
            Objects.requireNonNull(fixedSet, "fixedSet");
            checkName(name, message);
            if (window < 2) {
                throw new IllegalArgumentException("window must be >= 2 epochs, got " + window);
            }
            if (allowedChanges < 0 || allowedChanges > window - 2) {
                throw new IllegalArgumentException("allowedChanges must be in [0, " + (window - 2) + "] for a window of "
                        + window + " epochs (at most " + (window - 1) + " changes fit in it), got " + allowedChanges);
            }
            exampleRules.add(new ExampleRule(name, message, ExampleRule.Kind.FLICKER, null, fixedSet, null, window,
                    allowedChanges));
            return this;
        }

        /** The number of flagged examples a record keeps, highest severity first (default {@value #DEFAULT_TOP_EXAMPLES}). */
        public Builder topExamples(int n) {
            if (n < 1 || n > 1000) {
                throw new IllegalArgumentException("topExamples must be in [1, 1000], got " + n);
            }
            this.topExamples = n;
            return this;
        }

        /** The directory where the {@link Action#CHECKPOINT} action saves models (created if missing). */
        public Builder checkpointDirectory(java.nio.file.Path dir) {
            this.checkpointDirectory = Objects.requireNonNull(dir, "dir").toAbsolutePath().toString();
            return this;
        }

        /** Turns off built-in assertions by id (see {@link AssertionListener#builtInIds()}). */
        public Builder without(String... ids) {
            for (String id : ids) {
                if (!builtInIds().contains(id)) {
                    throw new IllegalArgumentException("No built-in assertion '" + id + "'; built-in ids: " + builtInIds());
                }
                without.add(id);
            }
            return this;
        }

        /**
         * What to do when assertion {@code id} (built-in or user, added before or after) fires: one
         * or more actions (for example {@code LOG, CHECKPOINT}); checked in {@link #build()}.
         */
        public Builder action(String id, Action action, Action... more) {
            EnumSet<Action> set = EnumSet.of(Objects.requireNonNull(action, "action"), more);
            actions.put(Objects.requireNonNull(id, "id"), set);
            return this;
        }

        /** What to do when an assertion without its own {@link #action} fires (default {@link Action#LOG}). */
        public Builder defaultAction(Action action) {
            this.defaultAction = Objects.requireNonNull(action, "action");
            return this;
        }

        /** Held-out data whose loss (on a copy of the network) feeds the validation-divergence detector at epoch ends. */
        public Builder validation(DataSet heldOut) {
            this.validation = Objects.requireNonNull(heldOut, "heldOut");
            this.validationIterator = null;
            return this;
        }

        /** As {@link #validation(DataSet)}, over an iterator (reset at each epoch end; not serialised). */
        public Builder validation(DataSetIterator heldOut) {
            this.validationIterator = Objects.requireNonNull(heldOut, "heldOut");
            this.validation = null;
            return this;
        }

        /** Steps the window keeps (default {@value DetectorSuite#DEFAULT_CAPACITY}, at least 100: the no-progress rule reads 100). */
        public Builder windowSteps(int n) {
            if (n < 100) {
                throw new IllegalArgumentException("windowSteps must be >= 100, got " + n);
            }
            this.windowSteps = n;
            return this;
        }

        /** Consecutive evaluations without the condition before an assertion can fire again (default {@value Episode#DEFAULT_REARM_AFTER}). */
        public Builder rearmAfter(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("rearmAfter must be >= 1, got " + n);
            }
            this.rearmAfter = n;
            return this;
        }

        /** The number of epochs training plans (the no-progress rule waits 30 % of them); default unknown. */
        public Builder plannedEpochs(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("plannedEpochs must be >= 0, got " + n);
            }
            this.plannedEpochs = n;
            return this;
        }

        private Schedule resolvedSchedule() {
            return scheduleOr(DEFAULT_SCHEDULE, ACCEPTED);
        }

        @Override
        public AssertionListener build() {
            resolvedSchedule();
            List<String> valid = new ArrayList<>(builtInIds());
            valid.addAll(userNames());
            List<String> exampleIds = exampleRules.stream().map(r -> r.id).toList();
            for (Map.Entry<String, EnumSet<Action>> e : actions.entrySet()) {
                String id = e.getKey();
                if (!valid.contains(id)) {
                    throw new IllegalArgumentException("action for unknown assertion '" + id + "'; valid ids: " + valid);
                }
                if (e.getValue().contains(Action.SEND_TO_SUSPECTS) && !exampleIds.contains(id)) {
                    throw new IllegalArgumentException("SEND_TO_SUSPECTS needs flagged examples, and '" + id
                            + "' is not a per-example or time-consistency assertion; those are: " + exampleIds);
                }
                if (e.getValue().contains(Action.CHECKPOINT) && checkpointDirectory == null) {
                    throw new IllegalArgumentException("CHECKPOINT for '" + id + "' needs checkpointDirectory(dir)");
                }
            }
            if (defaultAction == Action.SEND_TO_SUSPECTS) {
                throw new IllegalArgumentException("SEND_TO_SUSPECTS cannot be the default action (only per-example "
                        + "assertions have examples); valid default actions: " + List.of(Action.RECORD, Action.LOG,
                        Action.STOP, Action.CHECKPOINT));
            }
            if (defaultAction == Action.CHECKPOINT && checkpointDirectory == null) {
                throw new IllegalArgumentException("default action CHECKPOINT needs checkpointDirectory(dir)");
            }
            if (checkpointDirectory != null) {
                java.io.File dir = new java.io.File(checkpointDirectory);
                if (!dir.isDirectory() && !dir.mkdirs()) {
                    throw new IllegalArgumentException("checkpoint directory " + dir + " cannot be created");
                }
            }
            return new AssertionListener(this);
        }
    }
}
