package dev.stethoscope.listeners;

import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.core.AnalysisContext;
import dev.stethoscope.listeners.core.BackgroundWorker;
import dev.stethoscope.listeners.core.CpuAccounting;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Attaches several Stethoscope monitors to one network at once and ends them together: the handle
 * returned by {@link #attach} is {@link AutoCloseable}; close it after {@code fit} (before the
 * storage), and every monitor publishes what it still computes.
 *
 * <p>The monitors attached together share one {@link AnalysisContext}: at an analysis point one
 * copy of the parameters, one network copy, one analysis thread (a copy is never used from two
 * threads) and one forward pass of each probe set, which the probes, similarity and health
 * monitors read alike. A monitor built alone (its builder's {@code attach()}) keeps its own copy
 * and thread. The training-dynamics and attribution monitors do not use the context yet (their
 * network passes run on the training thread).
 *
 * <pre>{@code
 * try (Stethoscope s = Stethoscope.preset(Stethoscope.Preset.BUSINESS)
 *         .numExamples(60000)                 // training examples, for the suspects monitor
 *         .probeData(heldOut)                 // labelled held-out examples: probes, similarity, health
 *         .training(trainSubsetIter).validation(testIter)   // memorisation
 *         .totalEpochs(epochs)
 *         .attach(net, storage)) {
 *     net.fit(trainIter, epochs);          // or s.track(trainIter) to use the batches' own indices
 * }
 * storage.close();
 * }</pre>
 *
 * <p>Presets (schedules counted in completed epochs; "and the last" needs {@link Setup#totalEpochs},
 * else the handle's {@code close()} runs the final analyses):
 * <table>
 *   <caption>What each preset attaches</caption>
 *   <tr><th>Preset</th><th>Monitors and schedules</th><th>Needs</th></tr>
 *   <tr><td>{@link Preset#ECONOMY}</td><td>health every 10 iterations (training batch) and at
 *       every epoch end (probe batch: the first 128 probe-data inputs, else the first training
 *       inputs seen); training dynamics (suspects) at every iteration, tables every epoch</td>
 *       <td>{@code numExamples}</td></tr>
 *   <tr><td>{@link Preset#BUSINESS} (the sample's default)</td><td>ECONOMY, plus linear probes
 *       (conv layers wider than {@value #PROBE_MAX_FEATURES} values average-pooled over positions first)
 *       and SVCCA similarity every 2 epochs and the last (similarity also before training) on the
 *       probe data; memorisation (CSR, loss sensitivity) every 2 epochs, sensitivity every 200
 *       iterations</td><td>{@code numExamples}, {@code probeData}, {@code training},
 *       {@code validation}</td></tr>
 *   <tr><td>{@link Preset#FULL}</td><td>every monitor at every epoch: probes, similarity,
 *       memorisation (sensitivity every 50 iterations), attributions (IG, LRP-epsilon, saliency
 *       of one probe-data example per class), feature evolution at epochs 1, 2, 5, 10, 20, 30, 40,
 *       64 and the last (MultiLayerNetworks it supports; with the 2-D projection of its last followed
 *       layer on the first 2000 probe-data examples)</td><td>as BUSINESS</td></tr>
 * </table>
 * Measured costs: docs/overhead.md.
 */
public final class Stethoscope implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Stethoscope.class);

    /**
     * Widest probe of the presets: a conv layer whose flattened activation is wider is average-pooled
     * over positions first ({@link LinearProbe.Options#withMaxFeatures}; LeNet's conv1, 11 520 values,
     * becomes 20 x 8 x 8 = 1280). Measured reason in docs/overhead.md: the probe of the full conv1 was
     * most of the business preset's analysis time and memory, and its fit does not converge.
     */
    public static final int PROBE_MAX_FEATURES = 2048;

    /** Monitor sets, from cheapest to most complete (see the class comment for their schedules). */
    public enum Preset {
        /** Health and training dynamics (suspects): no extra data, a few percent of training time. */
        ECONOMY,
        /** ECONOMY plus probes, similarity and memorisation at sparse epochs. */
        BUSINESS,
        /** Every monitor at every epoch, attributions included. */
        FULL;

        /** The preset named {@code name} (case-insensitive), with a message listing the valid names otherwise. */
        public static Preset parse(String name) {
            for (Preset p : values()) {
                if (p.name().equalsIgnoreCase(name == null ? "" : name.trim())) {
                    return p;
                }
            }
            throw new IllegalArgumentException("Unknown preset '" + name + "'; valid: economy, business, full");
        }
    }

    private final AnalysisContext context;
    private final List<StethoscopeListener> monitors;
    private final Map<String, String> skipped;
    private boolean closed;

    private Stethoscope(AnalysisContext context, List<StethoscopeListener> monitors) {
        this(context, monitors, Map.of());
    }

    private Stethoscope(AnalysisContext context, List<StethoscopeListener> monitors, Map<String, String> skipped) {
        this.context = context;
        this.monitors = Collections.unmodifiableList(monitors);
        this.skipped = Collections.unmodifiableMap(new LinkedHashMap<>(skipped));
    }

    /**
     * The monitors {@link Setup#attachSupported} left out because they do not support the network
     * (monitor name to the reason); empty after {@link Setup#attach}.
     */
    public Map<String, String> skipped() {
        return skipped;
    }

    /** The configuration of a preset; give it the data it needs, then {@link Setup#attach}. */
    public static Setup preset(Preset preset) {
        return new Setup(Objects.requireNonNull(preset, "preset"));
    }

    /**
     * Attaches {@code preset} with no data besides the network: only {@link Preset#ECONOMY} can work
     * this way, and it needs {@code numExamples}; use {@link #preset} to give data.
     *
     * @throws IllegalArgumentException naming what the preset is missing
     */
    public static Stethoscope attach(Model net, StatsStorageRouter storage, Preset preset) {
        return preset(preset).attach(net, storage);
    }

    /**
     * Builds the given monitors on one shared {@link AnalysisContext} (analyses on one background
     * thread) and attaches them. Each builder must have been made for {@code net} and
     * {@code storage}.
     *
     * @throws IllegalArgumentException if a builder is for another network, or fails to build
     *         (nothing is attached then)
     */
    public static Stethoscope attach(Model net, StatsStorageRouter storage, StethoscopeListener.Builder<?, ?>... builders) {
        return attach(net, storage, true, Arrays.asList(builders));
    }

    static Stethoscope attach(Model net, StatsStorageRouter storage, boolean async,
                              List<? extends StethoscopeListener.Builder<?, ?>> builders) {
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(storage, "storage");
        AnalysisContext ctx = new AnalysisContext(net, async, BackgroundWorker.DEFAULT_TIMEOUT);
        List<StethoscopeListener> built = new ArrayList<>();
        try {
            for (StethoscopeListener.Builder<?, ?> b : builders) {
                Objects.requireNonNull(b, "builder");
                if (b.builderModel() != net) {
                    throw new IllegalArgumentException("A builder was made for another network than the one passed to attach");
                }
                built.add(b.context(ctx).build());
            }
        } catch (RuntimeException e) {
            ctx.close();
            throw e;
        }
        attachAll(built);
        attachPointEnd(net, ctx);
        return new Stethoscope(ctx, new ArrayList<>(built));
    }

    /**
     * As {@link #attach(Model, StatsStorageRouter, boolean, List)}, but a builder whose
     * {@code build()} refuses the network (an {@link IllegalArgumentException} or
     * {@link UnsupportedOperationException}, as the monitors that support only MultiLayerNetwork
     * do for a ComputationGraph) is left out, logged at WARN and listed in {@link #skipped()}.
     */
    static Stethoscope attachSupported(Model net, StatsStorageRouter storage, boolean async,
                                       List<? extends StethoscopeListener.Builder<?, ?>> builders,
                                       Map<String, String> skippedBefore) {
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(storage, "storage");
        AnalysisContext ctx = new AnalysisContext(net, async, BackgroundWorker.DEFAULT_TIMEOUT);
        List<StethoscopeListener> built = new ArrayList<>();
        Map<String, String> skipped = new LinkedHashMap<>(skippedBefore);
        try {
            for (StethoscopeListener.Builder<?, ?> b : builders) {
                Objects.requireNonNull(b, "builder");
                if (b.builderModel() != net) {
                    throw new IllegalArgumentException("A builder was made for another network than the one passed to attach");
                }
                try {
                    built.add(b.context(ctx).build());
                } catch (IllegalArgumentException | UnsupportedOperationException e) {
                    skipped.put(monitorNameOf(b), String.valueOf(e.getMessage()));
                }
            }
        } catch (RuntimeException e) {
            ctx.close();
            throw e;
        }
        skipped.forEach((m, why) -> log.warn("Stethoscope monitor '{}' is not attached to this {}: {}", m,
                net.getClass().getSimpleName(), why));
        attachAll(built);
        attachPointEnd(net, ctx);
        return new Stethoscope(ctx, new ArrayList<>(built), skipped);
    }

    /** Attaches each monitor (behind {@link CpuAccounting}'s timing wrapper when the accounting is on). */
    private static void attachAll(List<StethoscopeListener> built) {
        for (StethoscopeListener l : built) {
            if (CpuAccounting.enabled()) {
                CpuAccounting.attachTimed(l);
            } else {
                l.attach();
            }
        }
    }

    /**
     * Adds, after the monitors, the context's {@link AnalysisContext#pointEndListener()}: after every
     * monitor's callbacks of an iteration or epoch end it queues the release of the probe-set activations
     * and of the analysis thread's workspaces, so that they are not held between analysis points.
     */
    private static void attachPointEnd(Model net, AnalysisContext ctx) {
        org.deeplearning4j.optimize.api.TrainingListener l = ctx.pointEndListener();
        if (net instanceof org.deeplearning4j.nn.multilayer.MultiLayerNetwork mln) {
            mln.addListeners(l);
        } else if (net instanceof org.deeplearning4j.nn.graph.ComputationGraph cg) {
            cg.addListeners(l);
        } else {
            net.addListeners(l);
        }
    }

    /** The monitor a builder builds, named from its listener class (TrainingDynamicsListener.Builder: "TrainingDynamics"). */
    private static String monitorNameOf(StethoscopeListener.Builder<?, ?> b) {
        Class<?> c = b.getClass().getEnclosingClass() != null ? b.getClass().getEnclosingClass() : b.getClass();
        return c.getSimpleName().replace("Listener", "");
    }

    /** The attached monitors, in attach order. */
    public List<StethoscopeListener> monitors() {
        return monitors;
    }

    /** The attached monitor of type {@code type}, or null. */
    public <T extends StethoscopeListener> T monitor(Class<T> type) {
        for (StethoscopeListener l : monitors) {
            if (type.isInstance(l)) {
                return type.cast(l);
            }
        }
        return null;
    }

    /** The shared analysis context (for tests and diagnostics). */
    public AnalysisContext context() {
        return context;
    }

    /**
     * Optional: the iterator to train on so that the training-dynamics, feature-evolution and assertions
     * monitors read each batch's own example indices or metadata (else the first two identify examples by
     * content hash, see {@link dev.stethoscope.listeners.data.ExampleIdentity}, and per-example assertions name
     * examples by their position in the epoch); {@code iterator} itself when none of them is attached.
     *
     * @throws NullPointerException if {@code iterator} is null (also when no such monitor is attached)
     */
    public DataSetIterator track(DataSetIterator iterator) {
        Objects.requireNonNull(iterator, "iterator");
        TrainingDynamicsListener d = monitor(TrainingDynamicsListener.class);
        DataSetIterator it = d == null ? iterator : d.track(iterator);
        FeatureEvolutionListener f = monitor(FeatureEvolutionListener.class);
        it = f == null ? it : f.track(it);
        dev.stethoscope.listeners.assertions.AssertionListener a =
                monitor(dev.stethoscope.listeners.assertions.AssertionListener.class);
        return a == null ? it : a.track(it);
    }

    /**
     * Closes every monitor (each publishes what it still computes), then stops the analysis thread.
     * A failure of one close is logged and the others still close ({@link VirtualMachineError}s
     * are rethrown after the others closed). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        VirtualMachineError fatal = null;
        for (StethoscopeListener m : monitors) {
            long cpu = CpuAccounting.start();
            try {
                m.close();
                CpuAccounting.add(Thread.currentThread().getName() + ": " + m.monitorName() + ".close", cpu);
            } catch (VirtualMachineError e) {
                fatal = fatal == null ? e : fatal;
            } catch (RuntimeException | Error e) {
                log.error("Closing monitor '{}' failed; some of its last records may be missing", m.monitorName(), e);
            }
        }
        context.close();
        CpuAccounting.logReport();
        if (fatal != null) {
            throw fatal;
        }
    }

    /** A preset with its data; {@link #attach} checks that every piece the preset needs is there. */
    public static final class Setup {
        private final Preset preset;
        private int numExamples = -1;
        private DataSet probeData;
        private DataSetIterator training;
        private DataSetIterator validation;
        private Integer totalEpochs;
        private boolean async = true;
        private final Map<Class<?>, List<Consumer<Object>>> tuning = new LinkedHashMap<>();
        private final List<Class<?>> excluded = new ArrayList<>();

        private Setup(Preset preset) {
            this.preset = preset;
        }

        /** The preset this setup configures. */
        public Preset preset() {
            return preset;
        }

        /**
         * Applies to {@code builder} the {@link #tune} changes registered for its type (what
         * {@link #attach} does to the preset's own builders); for monitors built elsewhere from the
         * same setup, such as the Spark module's worker-side listeners. Returns {@code builder}.
         */
        public <B extends StethoscopeListener.Builder<?, ?>> B applyTuning(B builder) {
            Objects.requireNonNull(builder, "builder");
            for (Map.Entry<Class<?>, List<Consumer<Object>>> e : tuning.entrySet()) {
                if (e.getKey().isInstance(builder)) {
                    e.getValue().forEach(c -> c.accept(builder));
                }
            }
            return builder;
        }

        /** The training data given with {@link #training}, or null. */
        public DataSetIterator training() {
            return training;
        }

        /** Whether {@link #without} left out the monitor whose builder is of {@code type}. */
        public boolean excludes(Class<? extends StethoscopeListener.Builder<?, ?>> type) {
            return excluded.contains(type);
        }

        /** Number of training examples (example indices lie in [0, n)); every preset needs it. */
        public Setup numExamples(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("numExamples must be >= 1, got " + n);
            }
            this.numExamples = n;
            return this;
        }

        /**
         * Labelled held-out examples (features and one-hot labels, at least 4): the probes split them
         * alternately into probe-train and probe-test; similarity uses the probe-train half's inputs
         * (so both read one forward pass), health its first 128 of them, attributions one example
         * per class. Needed by BUSINESS and FULL; optional for ECONOMY.
         */
        public Setup probeData(DataSet heldOut) {
            Objects.requireNonNull(heldOut, "heldOut");
            if (heldOut.numExamples() < 4 || heldOut.getLabels() == null) {
                throw new IllegalArgumentException("probeData needs at least 4 labelled examples, got "
                        + heldOut.numExamples() + (heldOut.getLabels() == null ? " without labels" : ""));
            }
            this.probeData = heldOut;
            return this;
        }

        /** Training data, unshuffled and unaugmented, for the memorisation monitor's loss sensitivity (BUSINESS, FULL). */
        public Setup training(DataSetIterator data) {
            this.training = Objects.requireNonNull(data, "training");
            return this;
        }

        /** Validation data for the memorisation monitor's critical sample ratio (BUSINESS, FULL). */
        public Setup validation(DataSetIterator data) {
            this.validation = Objects.requireNonNull(data, "validation");
            return this;
        }

        /** Epochs of the run, so the epoch-based monitors analyse the last one (optional). */
        public Setup totalEpochs(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("totalEpochs must be >= 1, got " + n);
            }
            this.totalEpochs = n;
            return this;
        }

        /** Analyses on the shared background thread (default) or inside the training callbacks. */
        public Setup async(boolean async) {
            this.async = async;
            return this;
        }

        /**
         * Adjusts the preset's builder of {@code type} before it is built (for example
         * {@code tune(SvccaListener.Builder.class, b -> b.method("cka"))}); ignored when the preset
         * has no monitor of that type.
         */
        @SuppressWarnings("unchecked")
        public <B extends StethoscopeListener.Builder<?, ?>> Setup tune(Class<B> type, Consumer<? super B> change) {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(change, "change");
            tuning.computeIfAbsent(type, k -> new ArrayList<>()).add(o -> change.accept((B) o));
            return this;
        }

        /** Leaves out the preset's monitor whose builder is of {@code type}. */
        public Setup without(Class<? extends StethoscopeListener.Builder<?, ?>> type) {
            excluded.add(Objects.requireNonNull(type, "type"));
            return this;
        }

        /**
         * Checks the data, builds the preset's monitors on one shared context and attaches them.
         *
         * @throws IllegalArgumentException naming every missing piece of data
         */
        public Stethoscope attach(Model net, StatsStorageRouter storage) {
            return Stethoscope.attach(net, storage, async, builders(net, storage));
        }

        /**
         * As {@link #attach}, for any network: the preset's monitors that refuse {@code net} (feature
         * evolution needs one input, dense/convolution layers and vertices with a receptive-field rule;
         * training dynamics, memorisation and attributions need a ComputationGraph with one output layer;
         * a graph with several inputs takes every data set in the joint form, each example's inputs
         * flattened and concatenated, {@link dev.stethoscope.probes.model.GraphInputs}) are left out
         * with a WARN log line each and listed, with the reason, in {@link Stethoscope#skipped()};
         * the others are attached. {@code extra}
         * builders (made for {@code net} and {@code storage}, for example the assertion monitor)
         * are attached on the same context, or skipped the same way.
         *
         * @throws IllegalArgumentException naming every missing piece of data (as {@link #attach})
         */
        public Stethoscope attachSupported(Model net, StatsStorageRouter storage, StethoscopeListener.Builder<?, ?>... extra) {
            Map<String, String> before = new LinkedHashMap<>();
            List<StethoscopeListener.Builder<?, ?>> all = new ArrayList<>(builders(net, storage, before));
            all.addAll(Arrays.asList(extra));
            if (preset == Preset.FULL && !FeatureEvolutionListener.supports(net)
                    && !excluded.contains(FeatureEvolutionListener.Builder.class)) {
                before.put("FeatureEvolution", "supports MultiLayerNetworks and single-output ComputationGraphs "
                        + "(several inputs: flat ones) of dense and convolution layers (and the vertices of ReceptiveField) "
                        + "only; got "
                        + net.getClass().getSimpleName());
            }
            return Stethoscope.attachSupported(net, storage, async, all, before);
        }

        /** The preset's configured builders (not built); {@link #attach} uses them. */
        List<StethoscopeListener.Builder<?, ?>> builders(Model net, StatsStorageRouter storage) {
            return builders(net, storage, null);
        }

        /**
         * As {@link #builders(Model, StatsStorageRouter)}; with {@code skipped} non-null, a monitor
         * whose builder refuses the network already when it is made is left out and listed there.
         */
        List<StethoscopeListener.Builder<?, ?>> builders(Model net, StatsStorageRouter storage, Map<String, String> skipped) {
            List<String> missing = new ArrayList<>();
            if (numExamples < 1 && !excluded.contains(TrainingDynamicsListener.Builder.class)) {
                missing.add("numExamples(n) (training examples, for the training-dynamics monitor)");
            }
            boolean rich = preset != Preset.ECONOMY;
            if (rich && probeData == null && !(excluded.contains(LinearProbeListener.Builder.class)
                    && excluded.contains(SvccaListener.Builder.class))) {
                missing.add("probeData(heldOut) (labelled held-out examples, for probes and similarity)");
            }
            boolean memo = rich && !excluded.contains(MemorizationListener.Builder.class);
            if (memo && training == null) {
                missing.add("training(iterator) (training data, for the memorisation monitor's loss sensitivity)");
            }
            if (memo && validation == null) {
                missing.add("validation(iterator) (held-out data, for the memorisation monitor's critical sample ratio)");
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("The " + preset.name().toLowerCase(Locale.ROOT)
                        + " preset needs: " + String.join("; ", missing)
                        + ". Give them on Stethoscope.preset(...) or leave monitors out with without(...)");
            }
            INDArray probeTrainInputs = probeData == null ? null : evenRows(probeData.getFeatures());
            List<StethoscopeListener.Builder<?, ?>> out = new ArrayList<>();
            HealthListener.Builder health = HealthListener.builder(net, storage).schedule(Schedule.iterations(10));
            if (probeTrainInputs != null) {
                health.probeInputs(probeTrainInputs);
            }
            add(out, health);
            add(out, TrainingDynamicsListener.builder(net, storage).async(async)
                    .numExamples(Math.max(numExamples, 1)));
            if (rich) {
                Schedule epochs = analysisSchedule(preset, totalEpochs);
                LinearProbeListener.Builder probes = LinearProbeListener.builder(net, storage).async(async)
                        .schedule(epochs).probeData(probeData)
                        .options(LinearProbe.Options.defaults().withMaxFeatures(PROBE_MAX_FEATURES));
                SvccaListener.Builder similarity = SvccaListener.builder(net, storage).async(async).schedule(epochs);
                if (probeTrainInputs != null) {
                    similarity.probeInputs(probeTrainInputs);
                }
                MemorizationListener.Builder memorization = null;
                try {
                    memorization = MemorizationListener.builder(net, storage).async(async)
                            .schedule(Schedule.epochs(preset == Preset.FULL ? 1 : 2))
                            .sensitivitySchedule(Schedule.iterations(preset == Preset.FULL ? 50 : 200));
                } catch (UnsupportedOperationException e) {
                    if (skipped == null || excluded.contains(MemorizationListener.Builder.class)) {
                        throw e;
                    }
                    skipped.put("Memorization", String.valueOf(e.getMessage()));
                }
                if (memorization != null && training != null) {
                    memorization.training(training);
                }
                if (memorization != null && validation != null) {
                    memorization.validation(validation);
                }
                add(out, probes);
                add(out, similarity);
                if (memorization != null) {
                    add(out, memorization);
                }
                if (preset == Preset.FULL) {
                    AttributionListener.Builder attribution = AttributionListener.builder(net, storage)
                            .methods("ig", "lrp-eps", "saliency").examplesPerClass(probeData, 1).schedule(epochs);
                    add(out, attribution);
                    if (FeatureEvolutionListener.supports(net)) {
                        Schedule paper = FeatureEvolutionListener.DEFAULT_SCHEDULE;
                        FeatureEvolutionListener.Builder features = FeatureEvolutionListener
                                .builder(net, storage)
                                .schedule(totalEpochs == null ? paper : paper.totalEpochs(totalEpochs));
                        if (probeData != null) {
                            features.projectionData(probeData); // the 2-D projection on held-out points
                        }
                        add(out, features);
                    }
                }
            }
            return out;
        }

        private void add(List<StethoscopeListener.Builder<?, ?>> out, StethoscopeListener.Builder<?, ?> b) {
            for (Class<?> c : excluded) {
                if (c.isInstance(b)) {
                    return;
                }
            }
            for (Map.Entry<Class<?>, List<Consumer<Object>>> e : tuning.entrySet()) {
                if (e.getKey().isInstance(b)) {
                    e.getValue().forEach(c -> c.accept(b));
                }
            }
            out.add(b);
        }

        /**
         * The schedule of the epoch analyses (probes, similarity, attributions): every epoch (FULL) or
         * every 2nd (BUSINESS), and the last one (known from {@code totalEpochs}, else run at close).
         */
        static Schedule analysisSchedule(Preset preset, Integer totalEpochs) {
            Schedule s = Schedule.epochs(preset == Preset.FULL ? 1 : 2).andLast();
            return totalEpochs == null ? s : s.totalEpochs(totalEpochs);
        }

        /** Rows 0, 2, 4, ... (the probes' probe-train half), as the probes split them. */
        private static INDArray evenRows(INDArray x) {
            long n = x.size(0);
            int[] even = new int[(int) ((n + 1) / 2)];
            for (int i = 0; i < even.length; i++) {
                even[i] = 2 * i;
            }
            return x.getRows(even).dup();
        }
    }
}
