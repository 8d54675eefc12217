package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.listeners.core.AnalysisContext;
import dev.stethoscope.listeners.core.BackgroundWorker;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.probes.similarity.ConvMode;
import dev.stethoscope.probes.similarity.ConvRepresentations;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import dev.stethoscope.probes.similarity.Representation;
import dev.stethoscope.probes.similarity.Similarity;
import dev.stethoscope.probes.similarity.SimilarityMatrix;
import dev.stethoscope.probes.similarity.SimilarityMethod;
import dev.stethoscope.probes.similarity.SimilarityOptions;
import dev.stethoscope.probes.similarity.SimilarityResult;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import dev.stethoscope.listeners.core.Schedule;

/**
 * SVCCA / PWCCA / CKA layer similarity during training (Raghu et al. 2017; METHODS.md section 4).
 *
 * <p>At the epochs of its {@link Schedule} (default {@code Schedule.epochs(1).andLast()}: every
 * epoch and the final parameters; accepted kinds: epochs, epoch lists, never, each optionally
 * {@code andLast()}; see {@link EpochAnalysisListener}), and before training when
 * {@code includeInitial}, it takes a snapshot: the parameters are
 * copied on the training thread ({@code params().dup()}); on a background thread they are loaded
 * into a private {@link NetworkCopy}, the monitored layers' activations on a fixed probe set of
 * m inputs are computed in inference mode and turned into prepared {@link Representation}s
 * (neurons x m; conv layers per {@link ConvMode}). It then computes
 * {@link SimilarityTable}s, published from the training thread at its next callback (or by
 * {@link #close()}):
 * <ul>
 *   <li>{@code layers}: the layer x layer matrix at this snapshot;</li>
 *   <li>{@code vs-previous}: each layer against itself at the previous snapshot;</li>
 *   <li>{@code vs-latest}: each kept earlier snapshot's layers against this (latest) one;
 *       at the end of training the same table against the final parameters is published as
 *       {@code vs-final} (the learning-dynamics plot: lower layers should converge first).</li>
 * </ul>
 *
 * <p>Probe set: the inputs given to the builder, or else the first {@code probeSize} training
 * inputs seen (default 1000; Raghu et al. use a few thousand), copied once.
 *
 * <p><b>Memory bound.</b> Besides the probe set, at most {@code maxSnapshots} snapshots (default
 * 10; the first and the latest are always kept, and the one whose removal loses least epoch
 * resolution is dropped) are kept, each holding per layer: for SVCCA the top k singular vectors
 * over the m points (m x k doubles, k = directions kept by the SV step), for CKA all of them
 * (m x r, r &lt;= min(neurons, m - 1)), for PWCCA additionally the centred activations
 * (neurons x m doubles). Example: SVCCA, m = 1000, a 3-layer MLP with k ~ 100 per layer: ~2.4 MB
 * per snapshot. At most two parameter copies wait for the background thread; beyond that the
 * training thread waits.
 *
 * <p>DL4J has no end-of-training callback: give the run length to the schedule
 * ({@code Schedule.epochs(1).andLast().totalEpochs(n)}) or call {@link #close()} after {@code fit};
 * the {@code vs-final} table is published only when the schedule includes the last epoch.
 */
public class SvccaListener extends EpochAnalysisListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private final boolean includeInitial;
    private final List<String> layers;
    private final SimilarityMethod method;
    private final SimilarityOptions options;
    private final ConvMode convMode;
    private final int maxPoints;
    private final long seed;
    private final int maxSnapshots;
    private final int probeSize;
    private final int batchSize;

    private INDArray probe;
    private final List<INDArray> captured = new ArrayList<>();
    private long capturedCount;
    private INDArray initialParams;
    private boolean initialSubmitted;
    private int lastSnapshot = -1;
    private boolean finalDone;
    /** Only the architecture matters (each task loads its parameters); rebuilt after deserialisation. */
    private transient NetworkCopy copy;
    /** With a context: the probe set (made once the probe inputs are known) and the initial snapshot; not serialised. */
    private transient AnalysisContext.ProbeSet probeSet;
    private transient AnalysisContext.Snapshot initialSnapshot;

    /** Kept snapshots (background thread only). */
    private final List<Snapshot> snapshots = new ArrayList<>();

    private record Snapshot(int epoch, List<Representation> reps) implements java.io.Serializable {
    }

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
    protected SvccaListener(Builder b, List<String> layers) {
        super(b, "snapshot");
        this.includeInitial = b.includeInitial;
        this.layers = List.copyOf(layers); // serialisable (a subList is not)
        this.method = b.method;
        this.options = b.options != null ? b.options : SimilarityOptions.defaultsFor(b.method);
        this.convMode = b.convMode;
        this.maxPoints = b.maxPoints;
        this.seed = b.seed;
        this.maxSnapshots = b.maxSnapshots;
        this.probeSize = b.probeSize;
        this.batchSize = b.batchSize;
        this.probe = b.probe;
        if (context() != null && probe != null) {
            probeSet = AnalysisContext.ProbeSet.of(probe);
            context().declare(probeSet, layers);
        }
    }

    /** A builder for {@code model}, publishing to {@code router}. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    /** True: SVCCA/PWCCA/CKA: SVDs and eigendecompositions in double precision (runs the backend self-test first). */
    @Override
    protected boolean usesDoublePrecisionLinearAlgebra() {
        return true;
    }

    @Override
    public String monitorName() {
        return "svcca";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("method", method.id());
        s.put("options", options.toString());
        s.put("schedule", schedule().toString());
        s.put("totalEpochs", String.valueOf(schedule().totalEpochs()));
        s.put("includeInitial", String.valueOf(includeInitial));
        s.put("layers", String.join(",", layers));
        s.put("convMode", convMode.name());
        s.put("maxPoints", String.valueOf(maxPoints));
        s.put("maxSnapshots", String.valueOf(maxSnapshots));
        s.put("probeSize", String.valueOf(probe != null ? probe.size(0) : probeSize));
        return s;
    }

    /** The monitored layers, in forward order. */
    public List<String> layers() {
        return layers;
    }

    /** The similarity measure. */
    public SimilarityMethod method() {
        return method;
    }

    @Override
    protected void epochStarted(Model model) {
        if (includeInitial && initialParams == null && initialSnapshot == null && !initialSubmitted
                && lastCompleted() < 0) {
            if (context() != null) {
                initialSnapshot = context().snapshot();
                if (probe != null) {
                    // submitted now, ahead of the first epoch's tasks, so the shared cache serves each snapshot in turn
                    submitInitial(context());
                }
            } else {
                initialParams = model.params().dup();
            }
        }
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        bind(model);
        if (probe == null && !activations.isEmpty()) {
            guard("onForwardPass", () -> capture(activations.get(0)));
        }
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        bind(model);
        if (probe == null) {
            guard("onForwardPass", () -> {
                ComputationGraph cg = (ComputationGraph) model;
                List<String> inputs = cg.getConfiguration().getNetworkInputs();
                INDArray x;
                if (inputs.size() == 1) {
                    x = activations.get(inputs.get(0));
                } else {
                    // several inputs: the probe holds their joint form (GraphInputs)
                    try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                                 org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                        x = dev.stethoscope.probes.model.GraphInputs.joint(cg, activations);
                    }
                }
                if (x != null) {
                    capture(x);
                }
            });
        }
    }

    private void capture(INDArray input) {
        if (capturedCount >= probeSize) {
            return;
        }
        long take = Math.min(probeSize - capturedCount, input.size(0));
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            captured.add(input.get(NDArrayIndex.interval(0, take)).dup());
        }
        capturedCount += take;
        if (capturedCount >= probeSize) {
            completeProbe();
        }
    }

    private void completeProbe() {
        if (probe == null && !captured.isEmpty()) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                probe = captured.size() == 1 ? captured.get(0) : Nd4j.concat(0, captured.toArray(new INDArray[0]));
            }
            captured.clear();
        }
    }

    @Override
    protected void analyse(int completed, boolean isFinal) {
        snapshot(completed, isFinal);
    }

    private void snapshot(int completed, boolean isFinal) {
        completeProbe();
        if (probe == null) {
            throw new IllegalStateException("No probe inputs: none were given and no training batch was seen");
        }
        AnalysisContext ctx = context();
        if (ctx != null) {
            submitShared(ctx, completed, isFinal);
            return;
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (copy == null) {
                copy = NetworkCopy.of(model());
            }
            submitSnapshot(completed, isFinal);
        }
    }

    /** Hands over the snapshot taken before training, once (with a context). */
    private void submitInitial(AnalysisContext ctx) {
        if (initialSnapshot == null || initialSubmitted) {
            return;
        }
        if (probeSet == null) {
            probeSet = AnalysisContext.ProbeSet.of(probe);
            ctx.declare(probeSet, layers);
        }
        AnalysisContext.ProbeSet ps = probeSet;
        AnalysisContext.Snapshot s0 = initialSnapshot;
        initialSnapshot = null;
        initialSubmitted = true;
        worker().submit(() -> process(ctx.activations(s0, ps, layers, batchSize), 0, false, 0));
    }

    /** The snapshot through the shared context: its parameter copy, network copy and probe activations. */
    private void submitShared(AnalysisContext ctx, int completed, boolean isFinal) {
        if (probeSet == null) {
            probeSet = AnalysisContext.ProbeSet.of(probe);
            ctx.declare(probeSet, layers);
        }
        AnalysisContext.ProbeSet ps = probeSet;
        submitInitial(ctx);
        AnalysisContext.Snapshot snap = ctx.snapshot();
        long iteration = currentIteration();
        lastSnapshot = completed;
        if (isFinal) {
            finalDone = true;
        }
        worker().submit(() -> process(ctx.activations(snap, ps, layers, batchSize), completed, isFinal, iteration));
    }

    private void submitSnapshot(int completed, boolean isFinal) {
        if (initialParams != null && !initialSubmitted) {
            INDArray p0 = initialParams;
            initialParams = null;
            initialSubmitted = true;
            worker().submit(() -> process(p0, 0, false, 0));
        }
        INDArray params = model().params().dup();
        long iteration = currentIteration();
        lastSnapshot = completed;
        if (isFinal) {
            finalDone = true;
        }
        worker().submit(() -> process(params, completed, isFinal, iteration));
    }

    private BackgroundWorker.Action process(INDArray params, int epoch, boolean isFinal, long iteration) {
        copy.model().setParams(params);
        return process(LayerRepresentations.activations(copy.model(), probe, layers, batchSize), epoch, isFinal,
                iteration);
    }

    private BackgroundWorker.Action process(Map<String, INDArray> acts, int epoch, boolean isFinal, long iteration) {
        List<Representation> reps = new ArrayList<>();
        for (String l : layers) {
            INDArray act = acts.get(l);
            reps.add(Representation.of(ConvRepresentations.toNeuronsByPoints(act, convMode, maxPoints, seed),
                    ConvRepresentations.pointLayout(act, convMode, maxPoints, seed)));
        }
        int keyEpoch = Math.max(0, epoch - 1);
        List<SimilarityTable> out = new ArrayList<>();

        SimilarityMatrix lm = LayerRepresentations.matrix(layers, reps, layers, reps, method, options);
        out.add(SimilarityTable.of(SimilarityTable.LAYERS, method.id(), epoch, epoch, dataPoints(reps),
                layers, new int[0], layers, lm.flatten(), flags(lm.underdetermined(), reps)));

        if (!snapshots.isEmpty()) {
            Snapshot prev = snapshots.get(snapshots.size() - 1);
            double[] v = new double[layers.size()];
            int[] f = new int[layers.size()];
            for (int j = 0; j < layers.size(); j++) {
                SimilarityResult r = Similarity.compute(method, reps.get(j), prev.reps().get(j), options);
                v[j] = r.value();
                f[j] = flag(r, reps.get(j), prev.reps().get(j));
            }
            out.add(SimilarityTable.of(SimilarityTable.VS_PREVIOUS, method.id(), epoch, prev.epoch(),
                    dataPoints(reps), List.of("epoch " + prev.epoch()), new int[]{prev.epoch()}, layers, v, f));
        }
        Snapshot current = new Snapshot(epoch, reps);
        out.add(vsReference(current, isFinal ? SimilarityTable.VS_FINAL : SimilarityTable.VS_LATEST));
        store(current);
        return () -> publishAll(out, keyEpoch, iteration);
    }

    /** Every kept snapshot and the reference itself against the reference, layer by layer. */
    private SimilarityTable vsReference(Snapshot ref, String kind) {
        List<Snapshot> rows = new ArrayList<>(snapshots);
        if (rows.isEmpty() || rows.get(rows.size() - 1) != ref) {
            rows.add(ref);
        }
        int n = layers.size();
        double[] v = new double[rows.size() * n];
        int[] f = new int[v.length];
        int[] epochs = new int[rows.size()];
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Snapshot s = rows.get(i);
            epochs[i] = s.epoch();
            labels.add("epoch " + s.epoch());
            for (int j = 0; j < n; j++) {
                if (s == ref) {
                    v[i * n + j] = 1.0;
                    continue;
                }
                SimilarityResult r = Similarity.compute(method, s.reps().get(j), ref.reps().get(j), options);
                v[i * n + j] = r.value();
                f[i * n + j] = flag(r, s.reps().get(j), ref.reps().get(j));
            }
        }
        return SimilarityTable.of(kind, method.id(), ref.epoch(), ref.epoch(), dataPoints(ref.reps()), labels, epochs,
                layers, v, f);
    }

    private void store(Snapshot s) {
        List<Representation> kept = new ArrayList<>();
        for (Representation r : s.reps()) {
            kept.add(switch (method) {
                case SVCCA -> r.compact(r.directions(options));
                case CKA, CKA_DEBIASED -> r.compact(r.rank());
                case PWCCA -> r;
            });
        }
        snapshots.add(new Snapshot(s.epoch(), kept));
        while (snapshots.size() > maxSnapshots) {
            int drop = 1;
            int best = Integer.MAX_VALUE;
            for (int i = 1; i < snapshots.size() - 1; i++) {
                int gap = snapshots.get(i + 1).epoch() - snapshots.get(i - 1).epoch();
                if (gap < best) {
                    best = gap;
                    drop = i;
                }
            }
            snapshots.remove(drop);
        }
    }

    private static int dataPoints(List<Representation> reps) {
        return reps.isEmpty() ? 0 : reps.get(0).dataPoints();
    }

    private static int[] flags(boolean[][] u, List<Representation> reps) {
        int[] out = new int[u.length * (u.length == 0 ? 0 : u[0].length)];
        int k = 0;
        for (int i = 0; i < u.length; i++) {
            for (int j = 0; j < u[i].length; j++) {
                out[k++] = (u[i][j] ? SimilarityTable.UNDERDETERMINED : 0)
                        | (Similarity.fewPointsPerNeuron(reps.get(i), reps.get(j)) ? SimilarityTable.FEW_POINTS : 0);
            }
        }
        return out;
    }

    private static int flag(SimilarityResult r, Representation a, Representation b) {
        return (r.underdetermined() ? SimilarityTable.UNDERDETERMINED : 0)
                | (Similarity.fewPointsPerNeuron(a, b) ? SimilarityTable.FEW_POINTS : 0);
    }

    /** Epochs of the snapshots currently kept (waits for pending work first). */
    public List<Integer> keptSnapshotEpochs() {
        worker().awaitIdle();
        List<Integer> e = new ArrayList<>();
        for (Snapshot s : snapshots) {
            e.add(s.epoch());
        }
        return e;
    }

    /**
     * Snapshots the final parameters and publishes the {@code vs-final} table, if not done at the
     * last epoch (run by {@link #close()}).
     */
    @Override
    protected void finalAnalysis() {
        if (finalDone || lastCompleted() < 0) {
            return;
        }
        finalDone = true;
        if (lastSnapshot == lastCompleted()) {
            int epoch = lastCompleted();
            long iteration = currentIteration();
            worker().submit(() -> {
                if (snapshots.isEmpty()) {
                    return null; // the snapshot failed; its error was already published
                }
                Snapshot last = snapshots.get(snapshots.size() - 1);
                SimilarityTable r = vsReference(last, SimilarityTable.VS_FINAL);
                return () -> publish(r, Math.max(0, epoch - 1), iteration);
            });
        } else {
            snapshot(lastCompleted(), true);
        }
    }

    /** Builder of {@link SvccaListener}. */
    public static class Builder extends EpochAnalysisListener.Builder<Builder, SvccaListener> {
        private boolean includeInitial = true;
        private List<String> layers = List.of();
        private SimilarityMethod method = SimilarityMethod.SVCCA;
        private SimilarityOptions options;
        private ConvMode convMode = ConvMode.POSITIONS_AS_POINTS;
        private int maxPoints = 4096;
        private long seed = 12345L;
        private int maxSnapshots = 10;
        private int probeSize = 1000;
        private INDArray probe;

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /** Fixed probe inputs [m, ...] (copied). Default: the first {@link #probeSize} training inputs. */
        public Builder probeInputs(INDArray inputs) {
            this.probe = Objects.requireNonNull(inputs, "inputs").dup().detach();
            return this;
        }

        /** The first {@code m} inputs of {@code iterator} as the probe set (iterator reset before and after). */
        public Builder probeInputs(DataSetIterator iterator, int m) {
            if (m < 2) {
                throw new IllegalArgumentException("The probe set needs at least 2 examples, got " + m);
            }
            this.probe = ProbeData.firstExamples(iterator, m).getFeatures();
            return this;
        }

        /** Size of the probe set captured from training inputs when none is given (default 1000). */
        public Builder probeSize(int m) {
            if (m < 2) {
                throw new IllegalArgumentException("probeSize must be >= 2, got " + m);
            }
            this.probeSize = m;
            return this;
        }

        /** Also snapshot the parameters before training (epoch 0; default true). */
        public Builder includeInitial(boolean b) {
            this.includeInitial = b;
            return this;
        }

        /** Layers to compare (names or MultiLayerNetwork indices); default every layer, the output included. */
        public Builder layers(String... names) {
            this.layers = Arrays.asList(names);
            return this;
        }

        /** The measure (default SVCCA). */
        public Builder method(SimilarityMethod m) {
            this.method = Objects.requireNonNull(m, "method");
            return this;
        }

        /** The measure by name: svcca, pwcca, cka or cka-debiased. */
        public Builder method(String m) {
            return method(SimilarityMethod.parse(m));
        }

        /** SV-step options (default: {@link SimilarityOptions#defaultsFor} the method). */
        public Builder options(SimilarityOptions o) {
            this.options = Objects.requireNonNull(o, "options");
            return this;
        }

        /**
         * How conv activations become matrices (default POSITIONS_AS_POINTS: channels as neurons, up to
         * {@code maxPoints} sampled positions as data points; FLATTEN costs about 9x more on LeNet, see
         * docs/PROBES_AND_SIMILARITY.md).
         */
        public Builder convMode(ConvMode mode) {
            this.convMode = Objects.requireNonNull(mode, "convMode");
            return this;
        }

        /** Bound on data points per layer in positions mode (default 4096). */
        public Builder maxPoints(int m) {
            if (m < 2) {
                throw new IllegalArgumentException("maxPoints must be >= 2, got " + m);
            }
            this.maxPoints = m;
            return this;
        }

        /** Seed of the position subsampling (default 12345). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Maximum snapshots kept for the vs-latest / vs-final tables (default 10, at least 2). */
        public Builder maxSnapshots(int n) {
            if (n < 2) {
                throw new IllegalArgumentException("maxSnapshots must be >= 2, got " + n);
            }
            this.maxSnapshots = n;
            return this;
        }

        @Override
        public SvccaListener build() {
            resolvedSchedule();
            List<String> chosen = LayerSelection.resolve(model, layers);
            if (chosen.isEmpty()) {
                throw new IllegalArgumentException("No layer to compare. Layers: " + LayerSelection.layerNames(model));
            }
            if (probe != null && probe.size(0) < 2) {
                throw new IllegalArgumentException("The probe set needs at least 2 examples");
            }
            if (method == SimilarityMethod.CKA_DEBIASED && probe != null && probe.size(0) < 4) {
                throw new IllegalArgumentException("Debiased CKA needs at least 4 probe examples");
            }
            dev.stethoscope.probes.model.GraphInputs.checkJointForm(model, "The similarity monitor", probe);
            return new SvccaListener(this, chosen);
        }
    }
}
