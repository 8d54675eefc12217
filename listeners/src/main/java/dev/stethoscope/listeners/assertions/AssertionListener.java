package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.data.ExampleIdentityException;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.data.MappingDataSetIterator;
import dev.stethoscope.listeners.records.MonitorError;
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
 * epoch detectors.
 *
 * <p><b>Per-example and time-consistency assertions.</b> {@link Builder#assertExamples(String,
 * String, ExampleAssertion)} runs a function over each example's input, the training forward
 * pass's output and its label (copies) at every training step (not only the sampled ones; none
 * with {@code Schedule.never()}); the flagged examples of an epoch
 * (top {@link Builder#topExamples N} by severity and the count of all) are published at its end,
 * named by their example index from {@link ExampleIdentity}, as the suspects and feature-evolution
 * monitors name them: the indices the batches carry when training runs on {@link #track}, else
 * their DataVec metadata, else a hash of their content (so {@code addListeners} alone is enough;
 * the record's {@code identity} says which). When examples cannot be followed (random augmentation
 * changes their content every epoch) the per-example assertions on the training batches stop with
 * one warning and one {@code MonitorError} (phase "example-identity"); training and every other
 * assertion go on. The held-out variant and {@link Builder#assertTimeConsistency} run on the
 * network copy and name a set's rows by the indices the set carries, else by their row.
 * {@link Action#CHECKPOINT} saves the model, {@link Action#SEND_TO_SUSPECTS} puts the
 * flagged examples on the Suspects page's review list.
 *
 * <p><b>ComputationGraph.</b> Everything above works on a single-output {@link ComputationGraph}
 * as on a MultiLayerNetwork: layer norms per layer vertex (topological order), activation
 * signals per layer vertex from the training forward pass, predictions and per-example outputs
 * from its dense output layer, labels of the batch being trained (read from the graph's private
 * field by reflection: it has no getter for them). Messages name a graph's layers by vertex name
 * ("Layer d1 (rectified) ..."), a network's by index ("Layer 0 (rectified) ..."). A graph with several inputs works
 * too: an example is then the joint form of its inputs ({@link dev.stethoscope.probes.model.GraphInputs}: each input
 * flattened, concatenated in the graph's input order), which is what per-example assertions receive as x and what the
 * held-out, validation and time-consistency sets hold (split back into the inputs for the copy; flat inputs only).
 *
 * <p><b>Cost and schedule.</b> Two tiers. At <i>every</i> iteration the listener reads the loss
 * DL4J already computed; the detectors over the loss (non-finite loss, loss limit, oscillating
 * loss, no progress) see every step. A step between samples with a finite loss below the loss
 * limit is evaluated in a burst with the next sampled step (same detectors, same window, same
 * order, so the same findings with the same steps, published up to one period later); any other
 * loss is evaluated at once, and with user step assertions every step is evaluated at once. The
 * <i>sampled</i> signals (per-layer norms of the gradient, update and parameters, activation
 * fractions, non-finite activations, predicted and label classes) are collected on the schedule's
 * iterations only: by default {@link #DEFAULT_SCHEDULE} ({@code Schedule.iterations(20)});
 * {@code Schedule.iterations(1)} collects them at every step. On the other iterations the listener
 * does no ND4J work. The detectors over sampled signals (gradients, updates, activations,
 * predictions, labels) are evaluated on sampled steps only; their sustain windows keep their span
 * in iterations, with at least 3 samples ({@link SignalWindow#samplePeriod(int)}): at
 * {@code iterations(20)} "10 steps" is 3 samples over 40 iterations (docs/ASSERTIONS.md, with the
 * measured cost: 1.017x of the training thread's CPU on the sample MLP). Epoch signals are
 * collected at every epoch end whatever the schedule. Accepted kinds: iterations and never (never
 * keeps the lint and the epoch detectors only).
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
    public static final int DEFAULT_SAMPLE_EVERY = 20;
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

    /** A loss at or above which a step is evaluated at once (the loss limit of exploding-gradients). */
    static final double IMMEDIATE_LOSS = 1e5;
    /** Whether steps between samples are evaluated in a burst at the next sampled step (no user step assertions). */
    private final boolean deferLight;
    /** Whether per-example assertions run on the training batches. */
    private final boolean trainingRules;
    private final LightSteps light = new LightSteps();

    /** Which training examples the rows of a batch are (per-example assertions on the training batches). */
    private final ExampleIdentity identity = new ExampleIdentity(Integer.MAX_VALUE);
    /** Whether the per-example assertions on the training batches stopped (examples cannot be followed). */
    private boolean examplesOff;

    private transient Signals.LayerNorms gradients;
    private transient Signals.ActivationSignals activations;
    /** The vertex names of a ComputationGraph's {@link #activations} (null: a MultiLayerNetwork's, by index). */
    private transient String[] activationLayers;
    private transient int[] predicted;
    private transient int[] labels;
    private transient NetworkCopy copy;
    private transient Finding stop;
    private transient boolean closed;
    /** The DataSet the tracking iterator handed out last (null: none, or already taken by its forward pass). */
    private transient DataSet declaredBatch;
    /** Training rows seen in this epoch before the current batch (the stream position of its first row). */
    private transient long epochRows;
    /** The model parameters' iteration count when the copy was last refreshed (-1: never). */
    private transient long copyAt = -1;

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
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
        this.deferLight = b.userDetectors.stream().allMatch(Detector::epochLevel);
        this.trainingRules = b.exampleRules.stream().anyMatch(r -> r.kind == ExampleRule.Kind.TRAINING);
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

    /**
     * The detectors' window (read it, do not change it). Steps between samples whose evaluation
     * waits for the next sampled step are evaluated first (their findings published), so the
     * window holds every step trained so far.
     */
    public SignalWindow window() {
        Model m = model();
        if (light.size > 0 && m != null) {
            guard("window", () -> flushLight(m));
        }
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
        return new MappingDataSetIterator(Objects.requireNonNull(iterator, "iterator"), this::declare,
                () -> declaredBatch = null);
    }

    private DataSet declare(DataSet ds) {
        declaredBatch = ds;
        return ds;
    }

    /** The declared batch if it has {@code rows} examples, else null; forgotten either way. */
    private DataSet takeDeclared(long rows) {
        DataSet d = declaredBatch;
        declaredBatch = null;
        return d != null && d.numExamples() == rows ? d : null;
    }

    /** How examples of the training batches are identified (null before the first batch with per-example assertions). */
    public ExampleIdentity.Source identitySource() {
        return identity.source();
    }

    /** Why the per-example assertions on the training batches stopped (null while they run). */
    public String identityLost() {
        return identity.reason();
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
        if (linted && !trainingRules && schedule.kind() == Schedule.Kind.ITERATIONS && !due(model)) {
            return; // a step between samples: nothing to read (kept short, it runs cold between native work)
        }
        boolean examples = hasRules(ExampleRule.Kind.TRAINING) && !examplesOff && schedule.kind() != Schedule.Kind.NEVER;
        DataSet declared = examples ? takeDeclared(acts.isEmpty() ? -1 : acts.get(0).size(0)) : null;
        Head[] head = new Head[1];
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
            activationLayers = null;
            head[0] = Head.of(mln, acts);
            predicted = head[0] == null ? null : head[0].classes();
        });
        if (examples && model instanceof MultiLayerNetwork mln) {
            guard("onForwardPass", () -> {
                // every batch (not only the sampled steps): the user asked for each example to be checked.
                // Detached copies: the assertion may keep what it is given
                try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                             org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    Head h = head[0] != null ? head[0] : Head.of(mln, acts); // the sampled step's is reused
                    INDArray out = h == null ? null : h.output();
                    checkTrainingBatch(mln, acts.get(0).dup(), out, mln.getLabels() == null ? null : mln.getLabels().dup(),
                            declared);
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

    /**
     * Runs the training-batch example assertions on one forward pass's input, output and labels
     * (detached copies), naming the examples through {@link ExampleIdentity} (tracked indices, DataVec
     * metadata or a content hash). When the examples cannot be followed (their content changes from
     * epoch to epoch: augmentation) the per-example part stops with one {@link MonitorError}.
     */
    private void checkTrainingBatch(Model model, INDArray x, INDArray out, INDArray y, DataSet declared) {
        if (out == null) {
            throw new IllegalStateException("Per-example assertions need the output of the training forward pass: "
                    + "the output layer must be a dense OutputLayer (or DL4J must hand over its activation)");
        }
        int epoch = epochOf(model);
        long first = epochRows;
        epochRows += x.size(0);
        long[] ids = identity.identify(declared, x, y, epoch);
        if (ids == null) {
            examplesOff = true;
            for (ExampleRule r : exampleRules) {
                if (r.kind == ExampleRule.Kind.TRAINING) {
                    r.resetTop(); // this epoch's indices so far may name other examples: dropped
                }
            }
            log.warn("Stethoscope monitor '{}' stops its per-example assertions on the training batches (training "
                    + "and the other assertions go on): {}", monitorName(), identity.reason());
            publish(MonitorError.of(monitorName(), "example-identity", new ExampleIdentityException(identity.reason())),
                    epoch, iterationOf(model));
            return;
        }
        long iteration = iterationOf(model);
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
                top.add(top.wouldKeep(s) ? candidate(ids[i], first + i, s, xi, oi, yi, null) : null, s, true);
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
     * The output layer of a training forward pass, computed once per step for the predicted classes
     * (sampled steps) and the per-example assertions: the output layer's activation when DL4J hands it
     * over, else {@code z = h W + b} from the last hidden activation {@code h} and the output layer's
     * parameters (a dense output layer; the training network's output layer is not run).
     */
    static final class Head {
        /** The output activation as DL4J handed it over (in its workspace), or null. */
        private final INDArray given;
        /** {@code h W + b} (a fresh array), or null. */
        private final INDArray z;
        private final org.nd4j.linalg.activations.IActivation fn;
        private INDArray out;

        private Head(INDArray given, INDArray z, org.nd4j.linalg.activations.IActivation fn) {
            this.given = given;
            this.z = z;
            this.fn = fn;
        }

        /** For a MultiLayerNetwork's forward pass ({@code acts}: input and every layer but the output); null for another output layer. */
        static Head of(MultiLayerNetwork net, List<INDArray> acts) {
            int n = net.getnLayers();
            if (acts.size() == n + 1) {
                return new Head(acts.get(n), null, null);
            }
            if (acts.size() != n) {
                return null;
            }
            return dense(net.getOutputLayer(), acts.get(n - 1), null,
                    Signals.activationOf(net.getLayerWiseConfigurations().getConf(n - 1).getLayer()));
        }

        /** For a single-output ComputationGraph's forward pass (activations by vertex name); null otherwise. */
        static Head of(ComputationGraph graph, Map<String, INDArray> acts) {
            List<String> outputs = graph.getConfiguration().getNetworkOutputs();
            if (outputs.size() != 1) {
                return null;
            }
            String name = outputs.get(0);
            if (acts.get(name) != null) {
                return new Head(acts.get(name), null, null);
            }
            List<String> in = graph.getConfiguration().getVertexInputs().get(name);
            org.deeplearning4j.nn.graph.vertex.GraphVertex v = graph.getVertex(name);
            if (in == null || in.size() != 1 || v == null || !v.hasLayer() || acts.get(in.get(0)) == null) {
                return null;
            }
            org.deeplearning4j.nn.conf.InputPreProcessor pre =
                    v instanceof org.deeplearning4j.nn.graph.vertex.impl.LayerVertex lv ? lv.getLayerPreProcessor() : null;
            return dense(v.getLayer(), acts.get(in.get(0)), pre, Signals.activationOf(v.getLayer().conf().getLayer()));
        }

        private static Head dense(org.deeplearning4j.nn.api.Layer layer, INDArray h,
                                  org.deeplearning4j.nn.conf.InputPreProcessor pre,
                                  org.nd4j.linalg.activations.IActivation fn) {
            if (!(layer instanceof org.deeplearning4j.nn.layers.OutputLayer)) {
                return null;
            }
            if (pre != null) {
                h = pre.preProcess(h, (int) h.size(0), org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces());
            }
            INDArray w = layer.getParam("W");
            INDArray b = layer.getParam("b");
            if (h.rank() != 2 || w == null || w.rank() != 2 || h.size(1) != w.size(0)) {
                return null;
            }
            INDArray z = h.castTo(w.dataType()).mmul(w);
            if (b != null) {
                z.addiRowVector(b);
            }
            return new Head(null, z, fn);
        }

        /**
         * Predicted class of each row: arg-max (the softmax, and any increasing activation, keeps the
         * arg-max of z), or {@code z >= 0} for one sigmoid output; null when unknown.
         */
        int[] classes() {
            if (given != null) {
                return given.rank() == 2 ? Signals.classes(given) : null;
            }
            if (z.size(1) == 1) {
                return fn instanceof ActivationSigmoid
                        ? z.gte(0.0).castTo(org.nd4j.linalg.api.buffer.DataType.INT32).toIntVector() : null;
            }
            return Signals.classes(z); // read in Java from the fresh [batch, classes] array
        }

        /** The output layer's activation (a fresh array, computed once). */
        INDArray output() {
            if (out == null) {
                out = given != null ? given.dup() : fn == null ? z.dup() : fn.getActivation(z.dup(), false);
            }
            return out;
        }
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> acts) {
        bind(model);
        stopIfRequested();
        if (!(model instanceof ComputationGraph cg)
                || (linted && !trainingRules && schedule.kind() == Schedule.Kind.ITERATIONS && !due(model))) {
            return;
        }
        List<String> inputs = cg.getConfiguration().getNetworkInputs();
        INDArray x;
        if (inputs.size() <= 1) {
            x = inputs.isEmpty() ? null : acts.get(inputs.get(0));
        } else {
            // several inputs: an example is the joint form of its inputs (GraphInputs), as the held-out sets hold it
            try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                         org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                x = dev.stethoscope.probes.model.GraphInputs.joint(cg, acts);
            }
        }
        boolean examples = hasRules(ExampleRule.Kind.TRAINING) && !examplesOff && schedule.kind() != Schedule.Kind.NEVER;
        DataSet declared = examples && x != null ? takeDeclared(x.size(0)) : null;
        Head[] head = new Head[1];
        guard("onForwardPass", () -> {
            if (!linted) {
                lint(model, x);
            }
            if (schedule.kind() == Schedule.Kind.NEVER || !due(model)) {
                return;
            }
            // the layer vertices in topological order (a vertex missing from the map gets NaN entries)
            List<INDArray> outs = new ArrayList<>();
            List<org.nd4j.linalg.activations.IActivation> fns = new ArrayList<>();
            List<String> names = new ArrayList<>();
            org.deeplearning4j.nn.graph.vertex.GraphVertex[] vertices = cg.getVertices();
            for (int v : cg.topologicalSortOrder()) {
                if (vertices[v].hasLayer()) {
                    outs.add(acts.get(vertices[v].getVertexName()));
                    fns.add(Signals.activationOf(vertices[v].getLayer().conf().getLayer()));
                    names.add(vertices[v].getVertexName());
                }
            }
            activations = Signals.activations(outs, fns);
            activationLayers = names.toArray(String[]::new);
            head[0] = Head.of(cg, acts);
            predicted = head[0] == null ? null : head[0].classes();
            INDArray y = graphLabels(cg);
            labels = y != null && y.rank() == 2 ? Signals.classes(y) : null;
        });
        if (examples && cg.getConfiguration().getNetworkOutputs().size() != 1) {
            examplesOff = true;
            String why = "Per-example assertions on the training batches need a graph with one output; this "
                    + "one has outputs " + cg.getConfiguration().getNetworkOutputs()
                    + ": they are off (held-out and time-consistency assertions, which run on a copy, and every other "
                    + "assertion go on)";
            log.warn("Stethoscope monitor '{}': {}", monitorName(), why);
            guard("onForwardPass", () -> publish(MonitorError.of(monitorName(), "example-assertions",
                    new IllegalStateException(why)), epochOf(model), iterationOf(model)));
        } else if (examples && x != null) {
            guard("onForwardPass", () -> {
                try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                             org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    Head h = head[0] != null ? head[0] : Head.of(cg, acts);
                    INDArray y = graphLabels(cg);
                    checkTrainingBatch(cg, x.dup(), h == null ? null : h.output(), y == null ? null : y.dup(), declared);
                }
            });
        }
    }

    /** {@code ComputationGraph.labels}: a graph has no public getter for the labels of the batch being trained. */
    private static final java.lang.reflect.Field GRAPH_LABELS = graphLabelsField();

    private static java.lang.reflect.Field graphLabelsField() {
        try {
            java.lang.reflect.Field f = ComputationGraph.class.getDeclaredField("labels");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("Stethoscope assertions: a ComputationGraph's labels cannot be read ({}); label signals and the "
                    + "labels handed to per-example assertions on a graph's training batches are absent", e.toString());
            return null;
        }
    }

    /**
     * The labels of a single-output graph's batch being trained (DL4J sets them on the graph before the
     * forward pass; the output layer gets them only during the backward pass), or null.
     */
    private static INDArray graphLabels(ComputationGraph cg) {
        if (GRAPH_LABELS == null || cg.getConfiguration().getNetworkOutputs().size() != 1) {
            return null;
        }
        try {
            INDArray[] y = (INDArray[]) GRAPH_LABELS.get(cg);
            return y == null || y.length != 1 ? null : y[0];
        } catch (IllegalAccessException e) {
            return null;
        }
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

    @Override
    public void onGradientCalculation(Model model) {
        bind(model);
        if (schedule.kind() == Schedule.Kind.ITERATIONS && !due(model)) {
            return; // a step between samples
        }
        guard("onGradientCalculation", () -> {
            if (schedule.kind() != Schedule.Kind.NEVER && due(model) && model.gradient() != null) {
                gradients = layerNorms(model, true);
            }
        });
    }

    /** Per-layer norms of the parameters or gradient buffer: one per layer over the flat buffers when possible. */
    private static Signals.LayerNorms layerNorms(Model model, boolean gradient) {
        Signals.LayerNorms n = model instanceof MultiLayerNetwork mln ? Signals.layerNorms(mln, gradient)
                : model instanceof ComputationGraph cg ? Signals.layerNorms(cg, gradient) : null;
        if (n != null) {
            return n;
        }
        return gradient ? Signals.layerNorms(model.gradient().gradientForVariable()) : Signals.layerNorms(model.paramTable());
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
                labels = null;
                gradients = null;
                if (deferLight && Double.isFinite(loss) && loss < IMMEDIATE_LOSS) {
                    light.add(iteration, epoch, loss); // evaluated with the next sampled step (in order)
                } else {
                    flushLight(model);
                    handle(model, suite.onStep(StepSignals.builder(iteration).epoch(epoch).loss(loss).build()), epoch, iteration);
                }
                return;
            }
            flushLight(model);
            // one norm per layer over its slice of the flat buffers
            Signals.LayerNorms params = layerNorms(model, false);
            Signals.LayerNorms updates = model.gradient() != null ? layerNorms(model, true) : null;
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
                        .nonFiniteActivations(activations.nonFinite()).activationLayers(activationLayers);
            }
            if (predicted != null && labels != null && predicted.length == labels.length) {
                s.predictedClasses(predicted).labelClasses(labels);
            } else if (labels != null) {
                s.labelClasses(labels);
            }
            gradients = null;
            activations = null;
            activationLayers = null;
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

    /**
     * Evaluates the steps between samples that wait in {@link #light}, in order. A finding's range
     * names its steps; its record is stamped with the iteration at which it is published (now), so
     * the delay shows in the record.
     */
    private void flushLight(Model model) {
        LightSteps p = light;
        int epochNow = epochOf(model);
        long iterationNow = iterationOf(model);
        for (int i = 0; i < p.size; i++) {
            handle(model, suite.onStep(StepSignals.builder(p.iterations[i]).epoch(p.epochs[i]).loss(p.losses[i]).build()),
                    epochNow, iterationNow);
        }
        p.size = 0;
    }

    /**
     * The losses of steps between samples not evaluated yet. Evaluating the loss detectors in a burst
     * at the next sampled step (rather than one step at a time, between DL4J's native work) is what
     * makes them cheap: the same detectors over the same window in the same order, so the same
     * findings with the same steps; only their publication waits up to one sample period. A finite
     * loss below {@link #IMMEDIATE_LOSS} cannot fire the one-step rules (non-finite loss, loss limit),
     * so anything else is evaluated at once; the windowed loss rules (oscillation over 50 steps, no
     * progress after 100) are not hurried by a few steps. Not used when user step assertions exist
     * (they run at every step, and may stop training there).
     */
    private static final class LightSteps implements Serializable {
        @Serial
        private static final long serialVersionUID = 1L;
        long[] iterations = new long[16];
        int[] epochs = new int[16];
        double[] losses = new double[16];
        int size;

        void add(long iteration, int epoch, double loss) {
            if (size == iterations.length) {
                iterations = java.util.Arrays.copyOf(iterations, 2 * size);
                epochs = java.util.Arrays.copyOf(epochs, 2 * size);
                losses = java.util.Arrays.copyOf(losses, 2 * size);
            }
            iterations[size] = iteration;
            epochs[size] = epoch;
            losses[size] = loss;
            size++;
        }
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        guard("onEpochEnd", () -> {
            flushLight(model);
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
                ExampleIdentity.Source src = identity.source();
                String named = src == null || src == ExampleIdentity.Source.TRACKED_INDEX ? "example-index" : src.key();
                emit(model, new AssertionFinding(r.id, Severity.WARNING.name(), r.message + " (" + top.count()
                                + " training example" + (top.count() == 1 ? "" : "s") + " flagged)", "step",
                                r.firstStep(), r.lastStep(), true, "record", r.kind.source,
                                named, top.count(), 0, top.featureShape(), top.examples(true), ""), epoch, iteration);
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
        ComputationGraph g = (ComputationGraph) m;
        return g.output(false, dev.stethoscope.probes.model.GraphInputs.split(g, x))[0];
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
        ComputationGraph g = (ComputationGraph) m;
        if (g.getConfiguration().getNetworkInputs().size() > 1) {
            // several inputs: the validation features are the joint form of the inputs (GraphInputs)
            return g.score(new org.nd4j.linalg.dataset.MultiDataSet(
                    dev.stethoscope.probes.model.GraphInputs.split(g, ds.getFeatures()), new INDArray[]{ds.getLabels()}));
        }
        return g.score(ds);
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
        if (m != null && light.size > 0) {
            guard("close", () -> flushLight(m));
        }
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

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
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
         * {@link #topExamples top N} by severity and the count of all), named by {@link ExampleIdentity}
         * (the indices the batches carry on {@link AssertionListener#track the tracked iterator}, else
         * DataVec metadata, else a content hash; the record says which). Needs a MultiLayerNetwork or
         * single-output ComputationGraph with a dense output layer.
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
            List<INDArray> sets = new ArrayList<>();
            if (validation != null) {
                sets.add(validation.getFeatures());
            }
            exampleRules.stream().filter(r -> r.set != null).forEach(r -> sets.add(r.set.getFeatures()));
            dev.stethoscope.probes.model.GraphInputs.checkJointForm(model, "The assertions monitor",
                    sets.toArray(new INDArray[0]));
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
