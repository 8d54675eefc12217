package dev.stethoscope.listeners.attribution;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.Attributor;
import dev.stethoscope.probes.attribution.Attributors;
import dev.stethoscope.probes.attribution.DeletionCurve;
import dev.stethoscope.probes.attribution.LogitNetwork;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.Checkpoint;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Explanation heatmaps at checkpoints (METHODS.md section 8).
 *
 * <p>When its {@link Schedule} says (default {@code Schedule.epochs(1)}: every epoch end), it refreshes a private {@link NetworkCopy} from the training network's parameters,
 * runs the chosen attribution methods on a fixed example set and publishes one {@link AttributionMaps}:
 * heatmaps (summed over channels and block-averaged down to at most {@code maxSide} pixels a side), each
 * method's completeness gap and the AOPC of its deletion curve, with the AOPC of random orderings for
 * reference. Only the copy runs forward/backward passes; the training network is only read.
 *
 * <p>Accepted schedules: {@link Schedule#epochs epochs(k)} and epoch lists
 * ({@link Schedule#atEpochs atEpochs}), optionally {@link Schedule#andLast() andLast()} (with
 * {@link Schedule#totalEpochs(int) totalEpochs(n)} the last epoch is analysed at its end, else by
 * {@link #close()}); {@link Schedule#onCheckpoints()}: whenever a DL4J {@link CheckpointListener}
 * attached to the same model has saved a new checkpoint (polled every
 * {@link Builder#checkpointPollIterations} iterations and at epoch ends); {@link Schedule#never()}
 * (only {@link #runNow()}, or the final parameters with {@code andLast()}). {@code build()} refuses
 * iteration schedules.
 *
 * <pre>{@code
 * AttributionListener.builder(net, statsStorage)
 *     .methods("ig", "lrp-eps", "saliency")
 *     .examplesPerClass(heldOut, 1)
 *     .schedule(Schedule.epochs(1).andLast().totalEpochs(5))
 *     .attach();
 * }</pre>
 * Analyses run inside the training callbacks; {@link #close()} after {@code fit} runs the final
 * analysis still due.
 */
public class AttributionListener extends StethoscopeListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(AttributionListener.class);

    private final List<String> methods;
    private final INDArray examples;
    private final int[] labels;
    private final long[] exampleIds;
    /** The default schedule: every epoch end. */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.epochs(1);
    private static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.EPOCHS, Schedule.Kind.EPOCH_LIST,
            Schedule.Kind.CHECKPOINTS, Schedule.Kind.NEVER};

    private final Schedule schedule;
    private final int checkpointPoll;
    private final boolean explainLabels;
    private final int maxSide;
    private final int aopcSteps;
    private final int randomRepeats;
    private final double fill;
    private final Attributors.Options options;
    private final long[] geometry;

    // the analysis machinery on a copy of the model being trained: not serialised, rebuilt by prepare()
    private transient NetworkCopy copy;
    private transient LogitNetwork net;
    private transient List<Attributor> attributors;
    private transient DeletionCurve deletion;
    private int epochsSeen;
    private long lastRunIteration = -1;
    private int lastCheckpointNumber = -1;
    private int runs;
    private transient boolean closed;

    protected AttributionListener(Builder b, NetworkCopy copy, LogitNetwork net, List<Attributor> attributors,
                                  long[] geometry) {
        super(b);
        this.methods = List.copyOf(b.methods);
        this.examples = b.examples;
        this.labels = b.labels;
        this.exampleIds = b.exampleIds;
        this.schedule = b.resolvedSchedule();
        this.checkpointPoll = b.checkpointPoll;
        this.explainLabels = b.explainLabels;
        this.maxSide = b.maxSide;
        this.aopcSteps = b.aopcSteps;
        this.randomRepeats = b.randomRepeats;
        this.fill = b.fill;
        this.options = b.options;
        this.copy = copy;
        this.attributors = attributors;
        this.geometry = geometry;
        this.net = net;
        this.deletion = new DeletionCurve(net, b.options.batchSize(), aopcSteps, fill);
    }

    /** Starts a builder. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    @Override
    public String monitorName() {
        return "attribution";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("methods", String.join(",", methods));
        m.put("examples", String.valueOf(labels.length));
        m.put("schedule", schedule.toString());
        m.put("totalEpochs", String.valueOf(schedule.totalEpochs()));
        m.put("checkpointPollIterations", String.valueOf(checkpointPoll));
        m.put("target", explainLabels ? "label" : "predicted");
        m.put("igSteps", String.valueOf(options.steps()));
        m.put("aopcSteps", String.valueOf(aopcSteps));
        m.put("maxSide", String.valueOf(maxSide));
        return m;
    }

    /** Number of checkpoints analysed so far. */
    public int runs() {
        return runs;
    }

    /** When this listener analyses. */
    public Schedule schedule() {
        return schedule;
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        epochsSeen++;
        if (schedule.dueAtEpochEnd(epochsSeen)) {
            guard("epoch-end", () -> run("epoch"));
        } else if (schedule.kind() == Schedule.Kind.CHECKPOINTS) {
            guard("checkpoint", this::checkCheckpoint);
        }
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model);
        if (schedule.kind() == Schedule.Kind.CHECKPOINTS && checkpointPoll > 0 && iteration % checkpointPoll == 0) {
            guard("checkpoint", this::checkCheckpoint);
        }
    }

    private void checkCheckpoint() {
        CheckpointListener cl = findCheckpointListener();
        if (cl == null) {
            return;
        }
        Checkpoint last = cl.lastCheckpoint();
        if (last != null && last.getCheckpointNum() != lastCheckpointNumber) {
            lastCheckpointNumber = last.getCheckpointNum();
            run("checkpoint-" + last.getCheckpointNum());
        }
    }

    private CheckpointListener findCheckpointListener() {
        java.util.Collection<TrainingListener> ls = model() instanceof ComputationGraph cg ? cg.getListeners()
                : ((MultiLayerNetwork) model()).getListeners();
        if (ls == null) {
            return null;
        }
        for (TrainingListener l : ls) {
            if (l instanceof CheckpointListener c) {
                return c;
            }
        }
        return null;
    }

    /**
     * Ends monitoring: with a schedule that includes the last epoch ({@link Schedule#andLast()}),
     * analyses the final parameters unless they were analysed already (e.g. at the last epoch's
     * end). Nothing else is pending: the other analyses ran inside the callbacks. Call it after
     * {@code fit} returns. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (schedule.dueAtClose() && epochsSeen > 0) {
            guard("close", () -> run("final"));
        }
    }

    /** Runs the analysis now (also usable after training ends); returns the published record, or null if skipped. */
    public AttributionMaps runNow() {
        AttributionMaps[] out = new AttributionMaps[1];
        guard("run-now", () -> out[0] = run("manual"));
        return out[0];
    }

    private AttributionMaps run(String reason) {
        long it = currentIteration();
        if (it == lastRunIteration && !"manual".equals(reason)) {
            return null;
        }
        lastRunIteration = it;
        long t0 = System.nanoTime();
        prepare();
        int n = labels.length;
        int[] targets = explainLabels ? labels.clone() : predicted();
        int c = (int) geometry[0];
        int h = (int) geometry[1];
        int w = (int) geometry[2];
        int f = Math.max(1, (int) Math.ceil(Math.max(h, w) / (double) maxSide));
        int oh = (h + f - 1) / f;
        int ow = (w + f - 1) / f;
        int px = oh * ow;
        float[] inputs = new float[n * px];
        float[] maps = new float[methods.size() * n * px];
        double[] gaps = new double[methods.size() * n];
        double[] aopc = new double[methods.size() * n];
        INDArray xd = examples.castTo(DataType.DOUBLE).dup('c').reshape('c', n, (long) c * h * w);
        for (int i = 0; i < n; i++) {
            reduce(xd.getRow(i).toDoubleVector(), c, h, w, f, true, inputs, i * px);
        }
        for (int k = 0; k < methods.size(); k++) {
            Attribution a = attributors.get(k).attribute(examples, targets);
            INDArray md = a.maps().castTo(DataType.DOUBLE).dup('c').reshape('c', n, (long) c * h * w);
            for (int i = 0; i < n; i++) {
                reduce(md.getRow(i).toDoubleVector(), c, h, w, f, false, maps, (k * n + i) * px);
                gaps[k * n + i] = a.hasCompletenessGap() ? a.completenessGap()[i] : Double.NaN;
            }
            double[] ao = deletion.evaluate(examples, a.maps(), targets).aopc();
            System.arraycopy(ao, 0, aopc, k * n, n);
        }
        double[] rnd = deletion.random(examples, targets, randomRepeats, 17L).aopc();
        INDArray z = net.logits(examples, options.batchSize());
        double[] scores = new double[n];
        for (int i = 0; i < n; i++) {
            scores[i] = z.getDouble(i, targets[i]);
        }
        AttributionMaps r = AttributionMaps.of(methods, exampleIds.clone(), labels.clone(), targets, oh, ow,
                inputs, maps, gaps, aopc, rnd, scores);
        publish(r, currentEpoch(), it);
        runs++;
        log.debug("Attribution ({}) at iteration {}: {} methods x {} examples in {} ms", reason, it, methods.size(), n,
                (System.nanoTime() - t0) / 1_000_000);
        return r;
    }

    /**
     * Loads the current parameters of {@link #model()} into the analysis copy; (re)builds the copy,
     * the logit network, the attributors and the deletion curve when there is none (after
     * deserialisation) or the model is another network than the copy's source.
     */
    private void prepare() {
        Model m = requireModel();
        if (copy != null && copy.source() == m) {
            copy.refresh();
            return;
        }
        NetworkCopy c = NetworkCopy.of(m);
        LogitNetwork ln = new LogitNetwork(c);
        List<Attributor> list = new ArrayList<>();
        for (String name : methods) {
            list.add(Attributors.create(name, ln, options));
        }
        deletion = new DeletionCurve(ln, options.batchSize(), aopcSteps, fill);
        attributors = list;
        net = ln;
        copy = c;
    }

    private int[] predicted() {
        INDArray z = net.logits(examples, options.batchSize());
        return z.argMax(1).toIntVector();
    }

    /** Channel reduction (mean for inputs, sum for maps) and block averaging by factor f. */
    static void reduce(double[] v, int c, int h, int w, int f, boolean mean, float[] out, int offset) {
        int oh = (h + f - 1) / f;
        int ow = (w + f - 1) / f;
        double[] acc = new double[oh * ow];
        int[] cnt = new int[oh * ow];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int o = (y / f) * ow + (x / f);
                    acc[o] += v[ch * h * w + y * w + x];
                    cnt[o]++;
                }
            }
        }
        for (int o = 0; o < acc.length; o++) {
            // cnt = c * (pixels in the block): mean over channels and pixels, or sum over channels, mean over pixels
            out[offset + o] = (float) (mean ? acc[o] / cnt[o] : acc[o] * c / cnt[o]);
        }
    }

    /** Builder: see the class documentation. */
    public static class Builder extends StethoscopeListener.Builder<Builder, AttributionListener> {
        private List<String> methods = List.of("ig", "saliency");
        private INDArray examples;
        private int[] labels;
        private long[] exampleIds;
        private int checkpointPoll = 10;
        private boolean explainLabels;
        private int maxSide = 32;
        private int aopcSteps = 20;
        private int randomRepeats = 3;
        private double fill;
        private Attributors.Options options = Attributors.Options.defaults();
        private long[] imageShape;
        private DataSet perClassSource;
        private int perClass;

        protected Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /** Methods by name (valid: {@link Attributors#NAMES}); default ig, saliency. */
        public Builder methods(String... names) {
            this.methods = Arrays.asList(names);
            return this;
        }

        /**
         * The fixed example set: features [n, ...] as the network takes them, correct labels, and stable ids
         * (e.g. dataset indices; null: 0..n-1).
         */
        public Builder examples(INDArray features, int[] labels, long[] ids) {
            this.examples = features;
            this.labels = labels;
            this.exampleIds = ids;
            this.perClassSource = null;
            return this;
        }

        /** The examples at {@code indices} (rows) of a data set with one-hot labels; ids are the indices. */
        public Builder examplesAt(DataSet data, int... indices) {
            int rows = (int) data.getFeatures().size(0);
            for (int i : indices) {
                if (i < 0 || i >= rows) {
                    throw new IllegalArgumentException("Example index " + i + " out of range: valid 0.." + (rows - 1));
                }
            }
            int[] cls = data.getLabels().argMax(1).toIntVector();
            this.examples = data.getFeatures().getRows(indices);
            this.labels = new int[indices.length];
            this.exampleIds = new long[indices.length];
            for (int k = 0; k < indices.length; k++) {
                labels[k] = cls[indices[k]];
                exampleIds[k] = indices[k];
            }
            this.perClassSource = null;
            return this;
        }

        /** The first {@code k} examples of each class of a held-out set (one-hot labels); ids are their row indices. */
        public Builder examplesPerClass(DataSet heldOut, int k) {
            this.perClassSource = heldOut;
            this.perClass = k;
            return this;
        }

        /**
         * With {@link Schedule#onCheckpoints()}: look for a new checkpoint every this many
         * iterations (default 10; 0: only at epoch ends).
         */
        public Builder checkpointPollIterations(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("checkpointPollIterations must be >= 0, got " + n);
            }
            this.checkpointPoll = n;
            return this;
        }

        /** Explain the correct label (true) or the predicted class (false, default). */
        public Builder explainLabels(boolean b) {
            this.explainLabels = b;
            return this;
        }

        /** Heatmaps larger than this many pixels a side are block-averaged down (default 32). */
        public Builder maxSide(int s) {
            this.maxSide = s;
            return this;
        }

        /** Deletion-curve steps and random-ordering repeats for AOPC (default 20 and 3), removed value (default 0). */
        public Builder aopc(int steps, int randomRepeats, double fill) {
            this.aopcSteps = steps;
            this.randomRepeats = randomRepeats;
            this.fill = fill;
            return this;
        }

        /** Method options (IG steps, LRP epsilon, Grad-CAM layer, internal batch size...). */
        public Builder options(Attributors.Options o) {
            this.options = o;
            return this;
        }

        /** Image geometry {channels, height, width} of one example (default: inferred). */
        public Builder imageShape(long c, long h, long w) {
            this.imageShape = new long[]{c, h, w};
            return this;
        }

        /** The schedule set, or the default; refuses the kinds this listener does not accept. */
        private Schedule resolvedSchedule() {
            return scheduleOr(DEFAULT_SCHEDULE, ACCEPTED);
        }

        @Override
        public AttributionListener build() {
            if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
                throw new IllegalArgumentException("AttributionListener supports MultiLayerNetwork and ComputationGraph; got "
                        + model.getClass().getSimpleName());
            }
            if (model instanceof ComputationGraph cg && cg.getConfiguration().getNetworkInputs().size() != 1) {
                throw new IllegalArgumentException("AttributionListener explains graphs with one input; this graph has inputs "
                        + cg.getConfiguration().getNetworkInputs() + " (use Attributor.attributeInputs directly)");
            }
            resolvedSchedule();
            if (perClassSource != null) {
                selectPerClass();
            }
            if (examples == null || labels == null) {
                throw new IllegalArgumentException("AttributionListener needs examples: call examples(...) or examplesPerClass(...)");
            }
            if (labels.length != examples.size(0)) {
                throw new IllegalArgumentException("Need one label per example: " + examples.size(0) + " vs " + labels.length);
            }
            if (exampleIds == null) {
                exampleIds = new long[labels.length];
                for (int i = 0; i < labels.length; i++) {
                    exampleIds[i] = i;
                }
            }
            if (exampleIds.length != labels.length) {
                throw new IllegalArgumentException("Need one id per example: " + labels.length + " vs " + exampleIds.length);
            }
            if (maxSide < 1 || aopcSteps < 1 || randomRepeats < 1 || methods.isEmpty()) {
                throw new IllegalArgumentException("AttributionListener needs maxSide >= 1, aopc steps >= 1,"
                        + " random repeats >= 1 and at least one method (valid: " + Attributors.NAMES + ")");
            }
            NetworkCopy copy = NetworkCopy.of(model);
            LogitNetwork ln = new LogitNetwork(copy);
            List<Attributor> list = new ArrayList<>();
            for (String m : methods) {
                list.add(Attributors.create(m, ln, options));
            }
            long[] geometry = geometry(ln);
            try {
                ln.logits(examples.getRows(0), 1);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("The examples (shape " + Arrays.toString(examples.shape())
                        + ") do not fit the network's input: " + e.getMessage(), e);
            }
            return new AttributionListener(this, copy, ln, list, geometry);
        }

        private long[] geometry(LogitNetwork ln) {
            long d = examples.length() / examples.size(0);
            if (imageShape != null) {
                if (imageShape[0] * imageShape[1] * imageShape[2] != d) {
                    throw new IllegalArgumentException("imageShape " + Arrays.toString(imageShape) + " does not match "
                            + d + " values per example");
                }
                return imageShape;
            }
            if (examples.rank() == 4) {
                return new long[]{examples.size(1), examples.size(2), examples.size(3)};
            }
            InputPreProcessor pp = ln.inputPreProcessor();
            if (pp instanceof FeedForwardToCnnPreProcessor f) {
                return new long[]{f.getNumChannels(), f.getInputHeight(), f.getInputWidth()};
            }
            long s = Math.round(Math.sqrt(d));
            if (s * s == d) {
                return new long[]{1, s, s};
            }
            return new long[]{1, 1, d};
        }

        private void selectPerClass() {
            if (perClass < 1) {
                throw new IllegalArgumentException("examplesPerClass needs k >= 1, got " + perClass);
            }
            INDArray lab = perClassSource.getLabels();
            int classes = (int) lab.size(1);
            int[] cls = lab.argMax(1).toIntVector();
            int[] taken = new int[classes];
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < cls.length; i++) {
                if (taken[cls[i]] < perClass) {
                    taken[cls[i]]++;
                    rows.add(i);
                }
            }
            rows.sort(java.util.Comparator.comparingInt((Integer i) -> cls[i]).thenComparingInt(i -> i));
            int[] r = rows.stream().mapToInt(Integer::intValue).toArray();
            examples = perClassSource.getFeatures().getRows(r);
            labels = new int[r.length];
            exampleIds = new long[r.length];
            for (int i = 0; i < r.length; i++) {
                labels[i] = cls[r[i]];
                exampleIds[i] = r[i];
            }
        }
    }
}
