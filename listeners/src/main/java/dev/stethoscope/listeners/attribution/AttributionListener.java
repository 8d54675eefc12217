package dev.stethoscope.listeners.attribution;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.Attributor;
import dev.stethoscope.probes.attribution.Attributors;
import dev.stethoscope.probes.attribution.DeletionCurve;
import dev.stethoscope.probes.attribution.InputAttributions;
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
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
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
    /** One array per network input (one for a MultiLayerNetwork or a single-input graph). */
    private final INDArray[] examples;
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
    /** Per input: {channels, height, width}. */
    private final long[][] geometry;

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

    /** Made by {@link Builder#build()} once it has checked the configuration (protected for subclasses). */
    protected AttributionListener(Builder b, NetworkCopy copy, LogitNetwork net, List<Attributor> attributors,
                                  long[][] geometry) {
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
        if (examples.length > 1) {
            m.put("inputs", String.join(",", net.inputNames()));
        }
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
        int q = examples.length;
        int m = methods.size();
        int[] oh = new int[q];
        int[] ow = new int[q];
        float[][] inputs = new float[q][];
        float[][] maps = new float[q][];
        double[][] aopc = new double[q][];
        double[][] rnd = new double[q][];
        double[] gaps = new double[m * n];
        int[] factor = new int[q];
        for (int j = 0; j < q; j++) {
            int c = (int) geometry[j][0];
            int h = (int) geometry[j][1];
            int w = (int) geometry[j][2];
            factor[j] = Math.max(1, (int) Math.ceil(Math.max(h, w) / (double) maxSide));
            oh[j] = (h + factor[j] - 1) / factor[j];
            ow[j] = (w + factor[j] - 1) / factor[j];
            int px = oh[j] * ow[j];
            inputs[j] = new float[n * px];
            maps[j] = new float[m * n * px];
            aopc[j] = new double[m * n];
            INDArray xd = examples[j].castTo(DataType.DOUBLE).dup('c').reshape('c', n, (long) c * h * w);
            for (int i = 0; i < n; i++) {
                reduce(xd.getRow(i).toDoubleVector(), c, h, w, factor[j], true, inputs[j], i * px);
            }
        }
        for (int k = 0; k < m; k++) {
            List<INDArray> perInput;
            double[] gap;
            if (q == 1) {
                Attribution a = attributors.get(k).attribute(examples[0], targets);
                perInput = List.of(a.maps());
                gap = a.hasCompletenessGap() ? a.completenessGap() : null;
            } else {
                InputAttributions a = attributors.get(k).attributeInputs(examples, targets);
                perInput = a.maps();
                gap = a.completenessGap();
            }
            for (int i = 0; i < n; i++) {
                gaps[k * n + i] = gap != null ? gap[i] : Double.NaN;
            }
            for (int j = 0; j < q; j++) {
                int c = (int) geometry[j][0];
                int h = (int) geometry[j][1];
                int w = (int) geometry[j][2];
                int px = oh[j] * ow[j];
                INDArray md = perInput.get(j).castTo(DataType.DOUBLE).dup('c').reshape('c', n, (long) c * h * w);
                for (int i = 0; i < n; i++) {
                    reduce(md.getRow(i).toDoubleVector(), c, h, w, factor[j], false, maps[j], (k * n + i) * px);
                }
                double[] ao = q == 1 ? deletion.evaluate(examples[0], perInput.get(0), targets).aopc()
                        : deletion.evaluate(examples, j, perInput.get(j), targets).aopc();
                System.arraycopy(ao, 0, aopc[j], k * n, n);
            }
        }
        for (int j = 0; j < q; j++) {
            rnd[j] = q == 1 ? deletion.random(examples[0], targets, randomRepeats, 17L).aopc()
                    : deletion.random(examples, j, targets, randomRepeats, 17L).aopc();
        }
        INDArray z = net.logits(examples, options.batchSize());
        double[] scores = new double[n];
        for (int i = 0; i < n; i++) {
            scores[i] = z.getDouble(i, targets[i]);
        }
        AttributionMaps r = AttributionMaps.of(methods, exampleIds.clone(), labels.clone(), targets, oh[0], ow[0],
                inputs[0], maps[0], gaps, aopc[0], rnd[0], scores);
        if (q > 1) {
            List<String> names = net.inputNames();
            List<AttributionMaps.InputMaps> others = new ArrayList<>();
            for (int j = 1; j < q; j++) {
                others.add(AttributionMaps.inputMaps(names.get(j), m, n, oh[j], ow[j], inputs[j], maps[j], aopc[j],
                        rnd[j]));
            }
            r = r.withInputs(names.get(0), others);
        }
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

    /** Rows {@code rows} of an array of any rank, in that order (a copy). */
    static INDArray rowsOf(INDArray a, int[] rows) {
        if (a.rank() == 2) {
            return a.getRows(rows);
        }
        long d = a.length() / a.size(0);
        INDArray picked = org.nd4j.linalg.factory.Nd4j.pullRows(a.dup('c').reshape('c', a.size(0), d), 1, rows);
        long[] shape = a.shape().clone();
        shape[0] = rows.length;
        return picked.reshape('c', shape);
    }

    /** Builder: see the class documentation. */
    public static class Builder extends StethoscopeListener.Builder<Builder, AttributionListener> {
        private List<String> methods = List.of("ig", "saliency");
        private INDArray[] examples;
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
        private final Map<String, long[]> imageShapes = new LinkedHashMap<>();
        private MultiDataSet perClassSource;
        private int perClass;

        /** Use the listener's static {@code builder(model, router)}; protected for subclasses. */
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
            return examples(new INDArray[]{features}, labels, ids);
        }

        /**
         * The fixed example set of a ComputationGraph with several inputs: one features array per network input
         * (in the order of the graph's inputs, each [n, ...]), correct labels, and stable ids (null: 0..n-1). The
         * single-array methods also take such a graph's examples in the joint form
         * ({@link dev.stethoscope.probes.model.GraphInputs}: inputs flattened and concatenated; flat inputs only).
         */
        public Builder examples(INDArray[] features, int[] labels, long[] ids) {
            this.examples = features.clone();
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
            this.examples = new INDArray[]{rowsOf(data.getFeatures(), indices)};
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
            this.perClassSource = new org.nd4j.linalg.dataset.MultiDataSet(heldOut.getFeatures(), heldOut.getLabels());
            this.perClass = k;
            return this;
        }

        /**
         * For a ComputationGraph with several inputs: the first {@code k} examples of each class of a held-out set
         * (features in the order of the graph's inputs, one-hot labels as its only labels array); ids are their row
         * indices.
         */
        public Builder examplesPerClass(MultiDataSet heldOut, int k) {
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

        /**
         * Image geometry {channels, height, width} of one example of the (first) input (default: inferred: the
         * example's shape when it is [n, c, h, w], the network's CNN input preprocessor, a square, else one row).
         */
        public Builder imageShape(long c, long h, long w) {
            this.imageShape = new long[]{c, h, w};
            return this;
        }

        /** For a graph with several inputs: the image geometry {channels, height, width} of input {@code input}. */
        public Builder imageShape(String input, long c, long h, long w) {
            this.imageShapes.put(input, new long[]{c, h, w});
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
            List<String> inputNames = model instanceof ComputationGraph cg ? cg.getConfiguration().getNetworkInputs()
                    : List.of("input");
            if (inputNames.size() > 1) {
                List<String> unsupported = new ArrayList<>();
                for (String m : methods) {
                    String key = m.trim().toLowerCase(java.util.Locale.ROOT);
                    if (Attributors.NAMES.contains(key) && !Attributors.MULTI_INPUT.contains(key)) {
                        unsupported.add(m);
                    }
                }
                if (!unsupported.isEmpty()) {
                    throw new IllegalArgumentException("AttributionListener: method(s) " + unsupported + " explain one "
                            + "input array; this graph has inputs " + inputNames + ". Methods for graphs with several "
                            + "inputs: " + Attributors.MULTI_INPUT);
                }
            }
            resolvedSchedule();
            if (perClassSource != null) {
                selectPerClass();
            }
            if (examples == null || labels == null) {
                throw new IllegalArgumentException("AttributionListener needs examples: call examples(...) or examplesPerClass(...)");
            }
            if (examples.length == 1 && inputNames.size() > 1) {
                // one array for a graph with several inputs: the joint form of its inputs (GraphInputs)
                try {
                    examples = dev.stethoscope.probes.model.GraphInputs.split((ComputationGraph) model, examples[0]);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("The network takes " + inputNames.size() + " input array(s) "
                            + inputNames + ": give one array per input (examples(INDArray[], ...), "
                            + "examplesPerClass(MultiDataSet, k)) or the joint form (" + e.getMessage() + ")", e);
                }
            }
            if (examples.length != inputNames.size()) {
                throw new IllegalArgumentException("The network takes " + inputNames.size() + " input array(s) "
                        + inputNames + "; the examples have " + examples.length
                        + (inputNames.size() > 1 ? " (use examples(INDArray[], ...) or examplesPerClass(MultiDataSet, k))" : ""));
            }
            for (INDArray x : examples) {
                if (labels.length != x.size(0)) {
                    throw new IllegalArgumentException("Need one label per example: " + x.size(0) + " vs " + labels.length);
                }
            }
            for (String name : imageShapes.keySet()) {
                if (!inputNames.contains(name)) {
                    throw new IllegalArgumentException("imageShape for unknown input '" + name + "'. Inputs: " + inputNames);
                }
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
            long[][] geometry = new long[examples.length][];
            for (int j = 0; j < examples.length; j++) {
                geometry[j] = geometry(ln, j, inputNames.get(j));
            }
            try {
                INDArray[] first = new INDArray[examples.length];
                for (int j = 0; j < first.length; j++) {
                    first[j] = rowsOf(examples[j], new int[]{0});
                }
                ln.logits(first, 1);
            } catch (RuntimeException e) {
                StringBuilder shapes = new StringBuilder();
                for (INDArray x : examples) {
                    shapes.append(shapes.length() == 0 ? "" : ", ").append(Arrays.toString(x.shape()));
                }
                throw new IllegalArgumentException("The examples (shape " + shapes
                        + ") do not fit the network's input: " + e.getMessage(), e);
            }
            return new AttributionListener(this, copy, ln, list, geometry);
        }

        private long[] geometry(LogitNetwork ln, int j, String name) {
            INDArray x = examples[j];
            long d = x.length() / x.size(0);
            long[] imageShape = imageShapes.containsKey(name) ? imageShapes.get(name) : j == 0 ? this.imageShape : null;
            if (imageShape != null) {
                if (imageShape[0] * imageShape[1] * imageShape[2] != d) {
                    throw new IllegalArgumentException("imageShape " + Arrays.toString(imageShape) + " does not match "
                            + d + " values per example");
                }
                return imageShape;
            }
            if (x.rank() == 4) {
                return new long[]{x.size(1), x.size(2), x.size(3)};
            }
            InputPreProcessor pp = j == 0 ? ln.inputPreProcessor() : null;
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
            if (perClassSource.getLabels().length != 1) {
                throw new IllegalArgumentException("examplesPerClass needs one labels array; got "
                        + perClassSource.getLabels().length);
            }
            INDArray lab = perClassSource.getLabels(0);
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
            INDArray[] f = perClassSource.getFeatures();
            examples = new INDArray[f.length];
            for (int j = 0; j < f.length; j++) {
                examples[j] = rowsOf(f[j], r);
            }
            labels = new int[r.length];
            exampleIds = new long[r.length];
            for (int i = 0; i < r.length; i++) {
                labels[i] = cls[r[i]];
                exampleIds[i] = r[i];
            }
        }
    }
}
