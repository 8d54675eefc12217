package dev.stethoscope.listeners.health;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.probes.health.ActivationStats;
import dev.stethoscope.probes.health.ParameterStats;
import dev.stethoscope.probes.model.Activations;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation and update health of every hidden layer (METHODS.md section 1).
 *
 * <p>At the iterations of its {@link Schedule} (default {@code Schedule.iterations(10)};
 * accepted kinds: iterations and never, other kinds are refused by {@code build()}) it takes the activations DL4J already
 * computed on the training batch ({@code onForwardPass}, training mode; only
 * summary statistics are computed, nothing is kept) and, once the optimiser
 * has run ({@code iterationDone}), the layers' parameter norms and the
 * update/parameter norm ratio, and publishes a {@link Health} with source
 * {@code "train-batch"}. At each epoch end it runs a fixed probe batch (the first
 * {@code probeBatchSize} training examples it saw) through a {@link NetworkCopy}
 * in inference mode and publishes a record with source {@code "probe-batch"}, so
 * epochs can be compared on the same inputs.
 *
 * <p>Dead units are reported for ReLU and ReLU6 layers (NaN for others): a unit
 * (a dense neuron, or a conv channel) is dead when it is not positive for any
 * example of the batch.
 *
 * <pre>{@code
 * HealthListener health = HealthListener.builder(net, statsStorage).schedule(Schedule.iterations(10)).attach();
 * try {
 *     net.fit(train, epochs);
 * } finally {
 *     health.close();
 * }
 * }</pre>
 * The probe-batch record is published at every epoch end whatever the schedule.
 */
public class HealthListener extends StethoscopeListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** The default schedule: every 10th iteration. */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.iterations(10);
    private static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.ITERATIONS, Schedule.Kind.NEVER};

    private final Schedule schedule;
    private final int probeBatchSize;
    private final List<String> layers;
    private final int[] layerIndex;      // MLN: index of each chosen layer; CG: -1
    private final boolean[] rectified;

    private transient ActivationStats[] pending;
    private INDArray probeBatch;
    private transient NetworkCopy copy;
    /** With a context: the probe batch as a shared probe set, and the worker on the context's thread. */
    private transient dev.stethoscope.listeners.core.AnalysisContext.ProbeSet probeSet;
    private final transient dev.stethoscope.listeners.core.BackgroundWorker worker;
    private transient boolean closed;

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
    protected HealthListener(Builder b, List<String> layers) {
        super(b);
        this.schedule = b.resolvedSchedule();
        this.probeBatchSize = b.probeBatchSize;
        this.layers = List.copyOf(layers); // serialisable (a subList is not)
        if (b.probeInputs != null) {
            var full = dev.stethoscope.listeners.core.AnalysisContext.ProbeSet.of(b.probeInputs);
            this.probeSet = full.head(probeBatchSize);
            this.probeBatch = probeSet.inputs();
        }
        this.worker = context() == null ? null : context().newWorker("health", 2);
        if (context() != null && probeSet != null) {
            context().declare(probeSet, layers);
        }
        this.layerIndex = new int[layers.size()];
        this.rectified = new boolean[layers.size()];
        Model m = model();
        for (int i = 0; i < layers.size(); i++) {
            Layer l;
            if (m instanceof MultiLayerNetwork mln) {
                layerIndex[i] = LayerSelection.indexOf(mln, layers.get(i));
                l = mln.getLayer(layerIndex[i]);
            } else {
                layerIndex[i] = -1;
                l = ((ComputationGraph) m).getLayer(layers.get(i));
            }
            rectified[i] = isRectified(l.conf().getLayer());
        }
    }

    /** A builder for {@code model}, publishing to {@code router}. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    @Override
    public String monitorName() {
        return "health";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("schedule", schedule.toString());
        s.put("probeBatchSize", String.valueOf(probeBatchSize));
        s.put("layers", String.join(",", layers));
        return s;
    }

    /** The layers this listener reports, in forward order. */
    public List<String> layers() {
        return layers;
    }

    /** When this listener samples the training batch. */
    public Schedule schedule() {
        return schedule;
    }

    private boolean sampleNow() {
        return schedule.dueAtIteration(currentIteration());
    }


    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        bind(model);
        guard("onForwardPass", () -> {
            keepProbeBatch(activations.get(0));
            if (!sampleNow()) {
                return;
            }
            ActivationStats[] stats = new ActivationStats[layers.size()];
            for (int i = 0; i < layers.size(); i++) {
                int idx = layerIndex[i] + 1;
                if (idx < activations.size()) {
                    stats[i] = ActivationStats.of(activations.get(idx));
                }
            }
            pending = stats;
        });
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        bind(model);
        guard("onForwardPass", () -> {
            ComputationGraph cg = (ComputationGraph) model;
            List<String> inputs = cg.getConfiguration().getNetworkInputs();
            if (probeBatch == null && inputs.size() == 1 && activations.containsKey(inputs.get(0))) {
                keepProbeBatch(activations.get(inputs.get(0)));
            } else if (probeBatch == null && inputs.size() > 1) {
                // several inputs: the probe batch holds their joint form (GraphInputs)
                try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                             org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    keepProbeBatch(dev.stethoscope.probes.model.GraphInputs.joint(cg, activations));
                }
            }
            if (!sampleNow()) {
                return;
            }
            ActivationStats[] stats = new ActivationStats[layers.size()];
            for (int i = 0; i < layers.size(); i++) {
                INDArray a = activations.get(layers.get(i));
                if (a != null) {
                    stats[i] = ActivationStats.of(a);
                }
            }
            pending = stats;
        });
    }

    private void keepProbeBatch(INDArray input) {
        if (probeBatch == null && input != null) {
            long n = Math.min(probeBatchSize, input.size(0));
            probeBatch = input.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, n)).detach();
        }
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model);
        drain();
        guard("iterationDone", () -> {
            if (pending == null) {
                return;
            }
            ActivationStats[] stats = pending;
            pending = null;
            publish(record("train-batch", stats, model.gradient()), epoch, iteration);
        });
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        drain();
        guard("onEpochEnd", () -> {
            if (probeBatch == null) {
                return;
            }
            var ctx = context();
            if (ctx != null) {
                if (probeSet == null) {
                    probeSet = dev.stethoscope.listeners.core.AnalysisContext.ProbeSet.of(probeBatch);
                }
                var ps = probeSet;
                var snap = ctx.snapshot();
                int epoch = currentEpoch();
                long iteration = currentIteration();
                double[][] params = parameterStats(null); // the training network is read on its own thread
                worker.submit(() -> {
                    Map<String, INDArray> acts = ctx.activations(snap, ps, layers, 256);
                    Health r = record("probe-batch", activationStats(acts), params);
                    return () -> publish(r, epoch, iteration);
                });
                return;
            }
            if (copy == null || copy.source() != model) {
                copy = NetworkCopy.of(model);
            } else {
                copy.refresh();
            }
            Map<String, INDArray> acts = Activations.of(copy.model(), probeBatch, layers);
            publish(probeRecord(acts), currentEpoch(), currentIteration());
        });
    }

    private Health probeRecord(Map<String, INDArray> acts) {
        return record("probe-batch", activationStats(acts), (Gradient) null);
    }

    private ActivationStats[] activationStats(Map<String, INDArray> acts) {
        ActivationStats[] stats = new ActivationStats[layers.size()];
        for (int i = 0; i < layers.size(); i++) {
            stats[i] = ActivationStats.of(acts.get(layers.get(i)));
        }
        return stats;
    }

    /** Publishes the probe-batch records computed on the context's thread (with a context only). */
    private void drain() {
        if (worker != null) {
            worker.drain(a -> guard("probe-batch", a::call));
        }
    }

    /**
     * Ends monitoring: with a shared context ({@code Stethoscope.attach}) it waits for the probe-batch
     * analyses handed over and publishes them; alone nothing is pending (every record is published
     * inside the callbacks). Releases the network copy of the epoch-end probe batch. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        copy = null;
        if (worker != null) {
            if (!worker.awaitIdle()) {
                guard("close", () -> {
                    throw new dev.stethoscope.listeners.core.BackgroundTimeoutException(
                            "Health probe-batch analysis still running after " + worker.timeout());
                });
            }
            drain();
        }
    }

    private Health record(String source, ActivationStats[] stats, Gradient update) {
        return record(source, stats, parameterStats(update));
    }

    /** The record from activation statistics and {@link #parameterStats} (norms, update ratios). */
    private Health record(String source, ActivationStats[] stats, double[][] params) {
        int n = layers.size();
        double[] mean = new double[n];
        double[] std = new double[n];
        double[] dead = new double[n];
        for (int i = 0; i < n; i++) {
            ActivationStats s = stats[i];
            mean[i] = s == null ? Double.NaN : s.mean();
            std[i] = s == null ? Double.NaN : s.std();
            dead[i] = s == null || !rectified[i] ? Double.NaN : s.deadFraction();
        }
        return new Health(source, layers, mean, std, dead, params[0], params[1]);
    }

    /** Per layer: parameter norm and log10 update ratio (NaN without an update), read from the training network. */
    private double[][] parameterStats(Gradient update) {
        int n = layers.size();
        double[] pNorm = new double[n];
        double[] ratio = new double[n];
        Map<String, INDArray> updates = update == null ? Map.of() : update.gradientForVariable();
        for (int i = 0; i < n; i++) {
            Layer layer = layerOf(i);
            Map<String, INDArray> params = layer.paramTable();
            Map<String, INDArray> layerUpdates = new HashMap<>();
            String prefix = (layerIndex[i] >= 0 ? String.valueOf(layerIndex[i]) : layers.get(i)) + "_";
            for (String key : params.keySet()) {
                INDArray u = updates.get(prefix + key);
                if (u != null) {
                    layerUpdates.put(key, u);
                }
            }
            ParameterStats ps = ParameterStats.of(params, layerUpdates);
            pNorm[i] = ps.paramNorm();
            ratio[i] = ps.updateRatioLog10();
        }
        return new double[][]{pNorm, ratio};
    }

    private Layer layerOf(int i) {
        Model m = model();
        if (m instanceof MultiLayerNetwork mln) {
            return mln.getLayer(layerIndex[i]);
        }
        return ((ComputationGraph) m).getLayer(layers.get(i));
    }

    private static boolean isRectified(org.deeplearning4j.nn.conf.layers.Layer conf) {
        IActivation fn = null;
        if (conf instanceof BaseLayer bl) {
            fn = bl.getActivationFn();
        } else if (conf instanceof ActivationLayer al) {
            fn = al.getActivationFn();
        }
        return fn instanceof ActivationReLU || fn instanceof ActivationReLU6;
    }

    /** Builder of {@link HealthListener}. */
    public static class Builder extends StethoscopeListener.Builder<Builder, HealthListener> {
        private int probeBatchSize = 128;
        private List<String> layers = List.of();
        private INDArray probeInputs;

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /** Number of examples in the fixed epoch-end probe batch (default 128). */
        public Builder probeBatchSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("probeBatchSize must be >= 1, got " + n);
            }
            this.probeBatchSize = n;
            return this;
        }

        /**
         * Fixed probe inputs: the epoch-end probe batch is their first {@code probeBatchSize} rows
         * (copied) instead of the first training examples seen. Given the same inputs as the probes
         * monitor's probe-train set, a shared context serves the batch from the probes' forward pass.
         */
        public Builder probeInputs(INDArray inputs) {
            this.probeInputs = java.util.Objects.requireNonNull(inputs, "inputs");
            return this;
        }

        /** Layers to report, by name (or MultiLayerNetwork index); default: every hidden layer. */
        public Builder layers(String... names) {
            this.layers = Arrays.asList(names);
            return this;
        }

        /** The schedule set, or the default; refuses the kinds this listener does not accept. */
        private Schedule resolvedSchedule() {
            return scheduleOr(DEFAULT_SCHEDULE, ACCEPTED);
        }

        @Override
        public HealthListener build() {
            resolvedSchedule();
            List<String> hidden = LayerSelection.hiddenLayerNames(model);
            List<String> chosen = layers.isEmpty() ? hidden : LayerSelection.resolve(model, layers);
            for (String c : chosen) {
                if (!hidden.contains(c)) {
                    throw new IllegalArgumentException("Layer '" + c + "' is an output layer; the health monitor "
                            + "reports hidden layers. Valid layers: " + hidden);
                }
            }
            if (chosen.isEmpty()) {
                throw new IllegalArgumentException("The model has no hidden layer to monitor. Layers: "
                        + LayerSelection.layerNames(model));
            }
            dev.stethoscope.probes.model.GraphInputs.checkJointForm(model, "The health monitor");
            return new HealthListener(this, chosen);
        }
    }
}
