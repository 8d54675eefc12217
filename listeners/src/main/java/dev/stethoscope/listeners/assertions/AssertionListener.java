package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
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
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
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
 * <p><b>Cost and schedule.</b> The default {@link Schedule} is every iteration
 * ({@code Schedule.iterations(1)}): per step a few norms of the gradient, update and parameters
 * and one comparison pass over each layer's activations, on the training thread. With
 * {@code Schedule.iterations(n)} the step signals are collected at every n-th iteration only;
 * the detectors' windows (5 to 100 evaluations) and the re-arm delay then count sampled
 * iterations, so they span n times more training. Epoch signals are collected at every epoch end
 * whatever the schedule. Accepted kinds: iterations and never (never keeps the lint and the epoch
 * detectors only).
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
    /** The default schedule: every iteration. */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.iterations(1);
    private static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.ITERATIONS, Schedule.Kind.NEVER};

    /** What happens when an assertion fires, besides publishing its record (always done). */
    public enum Action {
        /** Only the record. */
        RECORD,
        /** The record and a log line (WARN; the default). */
        LOG,
        /** The record, a log line (ERROR) and training stopped with an {@link AssertionStopException}. */
        STOP;

        String recordName() {
            return name().toLowerCase(Locale.ROOT);
        }
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
    private final Map<String, Action> actions;
    private final Action defaultAction;
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
        this.userIds = new LinkedHashSet<>();
        b.userDetectors.forEach(d -> userIds.add(d.id()));
        this.disabled = new TreeSet<>(b.without);
        this.actions = new LinkedHashMap<>(b.actions);
        this.defaultAction = b.defaultAction;
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
        actions.forEach((k, v) -> a.add(k + "=" + v.recordName()));
        s.put("actions", String.join(",", a));
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

    @Override
    public void onEpochStart(Model model) {
        bind(model);
        stopIfRequested();
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> acts) {
        bind(model);
        stopIfRequested();
        guard("onForwardPass", () -> {
            if (!linted && !acts.isEmpty()) {
                lint(model, acts.get(0));
            }
            if (!due(model) || !(model instanceof MultiLayerNetwork mln)) {
                return;
            }
            activations = Signals.activations(acts, mln.getLayerWiseConfigurations());
            INDArray y = mln.getLabels();
            labels = y != null && y.rank() == 2 ? Signals.classes(y) : null;
            predicted = predictions(mln, acts);
        });
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
        handle(out, epochOf(model), iterationOf(model));
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
        return z.argMax(1).castTo(org.nd4j.linalg.api.buffer.DataType.INT32).toIntVector();
    }

    @Override
    public void onGradientCalculation(Model model) {
        bind(model);
        guard("onGradientCalculation", () -> {
            if (due(model) && model.gradient() != null) {
                gradients = Signals.layerNorms(model.gradient().gradientForVariable());
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
            if (!due(model)) {
                return;
            }
            Signals.LayerNorms params = Signals.layerNorms(model.paramTable());
            Signals.LayerNorms updates = model.gradient() == null ? null : Signals.layerNorms(model.gradient().gradientForVariable());
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
            handle(suite.onStep(s.build()), epoch, iteration);
        });
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
            handle(suite.onEpoch(new EpochSignals(epoch, train, val, Double.NaN)), epoch, iterationOf(model));
        });
    }

    /** The validation loss on a copy of the network (NaN without validation data). */
    private double validationLoss(Model model) {
        if (validation == null && validationIterator == null) {
            return Double.NaN;
        }
        if (copy == null || copy.source() != model) {
            copy = NetworkCopy.of(model);
        } else {
            copy.refresh();
        }
        if (validation != null) {
            return score(copy.model(), validation);
        }
        validationIterator.reset();
        double sum = 0;
        long n = 0;
        while (validationIterator.hasNext()) {
            DataSet ds = validationIterator.next();
            long k = ds.numExamples();
            sum += score(copy.model(), ds) * k;
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

    private void handle(List<Finding> findings, int epoch, long iteration) {
        for (Finding f : findings) {
            Action action = actions.getOrDefault(f.detector(), defaultAction);
            AssertionFinding r = new AssertionFinding(f.detector(), f.severity().name(), f.message(),
                    f.unit().name().toLowerCase(Locale.ROOT), f.from(), f.to(), userIds.contains(f.detector()), action.recordName());
            publish(r, epoch, iteration);
            findingsPublished++;
            switch (action) {
                case LOG -> log.warn("Stethoscope assertion {}", f);
                case STOP -> {
                    log.error("Stethoscope assertion {}: stopping training", f);
                    if (stop == null) {
                        stop = f;
                    }
                }
                default -> {
                }
            }
        }
    }

    private void stopIfRequested() {
        Finding f = stop;
        if (f != null) {
            stop = null;
            throw new AssertionStopException(f);
        }
    }

    /** Ends monitoring: every finding is published when it fires, so this only releases the network copy and drops a pending stop. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
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
        private final Map<String, Action> actions = new LinkedHashMap<>();
        private Action defaultAction = Action.LOG;
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
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(message, "message");
            Objects.requireNonNull(fn, "assertion");
            if (!name.matches("[a-z0-9][a-z0-9-]*")) {
                throw new IllegalArgumentException("Assertion name '" + name + "' must be lower-case letters, digits and dashes");
            }
            if (builtInIds().contains(name) || userDetectors.stream().anyMatch(d -> d.id().equals(name))) {
                throw new IllegalArgumentException("Assertion name '" + name + "' is taken; built-in ids: " + builtInIds()
                        + ", user assertions: " + userDetectors.stream().map(Detector::id).toList());
            }
            userDetectors.add(new UserDetector(name, message, fn, epochs));
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

        /** What to do when assertion {@code id} (built-in or user, added before or after) fires; checked in {@link #build()}. */
        public Builder action(String id, Action action) {
            actions.put(Objects.requireNonNull(id, "id"), Objects.requireNonNull(action, "action"));
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
            userDetectors.forEach(d -> valid.add(d.id()));
            for (String id : actions.keySet()) {
                if (!valid.contains(id)) {
                    throw new IllegalArgumentException("action for unknown assertion '" + id + "'; valid ids: " + valid);
                }
            }
            return new AssertionListener(this);
        }
    }
}
