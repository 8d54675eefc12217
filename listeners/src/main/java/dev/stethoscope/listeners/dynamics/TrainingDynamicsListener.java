package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.records.SuspectTableRecord;
import dev.stethoscope.listeners.records.SuspectsRecord;
import dev.stethoscope.probes.dynamics.BulkRead;
import dev.stethoscope.probes.dynamics.RankingMetrics;
import dev.stethoscope.probes.dynamics.SuspectScore;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.layers.BaseOutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.LongFunction;

/**
 * Tracks per-example training dynamics during training and ranks the training
 * examples most likely to be mislabeled (METHODS.md section 7).
 *
 * <h2>Which examples are in a batch</h2>
 * DL4J's listener callbacks do not receive the DataSet being trained on, so
 * the listener learns it from the iterator: train with
 * {@code model.fit(listener.track(iterator), epochs)}. The wrapper returned by
 * {@link #track} remembers the last DataSet it handed out and reports
 * {@code asyncSupported() == false}, so DL4J does not prefetch ahead of the
 * batch being trained. Each DataSet must carry stable example indices
 * ({@link ExampleIndex}); the first batch without them stops training with an
 * error that says how to add them ({@link ExampleIndex#HOW_TO}). For a manual
 * loop over {@code fit(DataSet)}, call {@link #setBatch} before each fit.
 * Only plain feed-forward training is supported (one forward pass per DataSet;
 * not truncated BPTT).
 *
 * <h2>Where the logits come from ({@link Capture})</h2>
 * <ul>
 *   <li>{@link Capture#TRAIN_PASS} (default): in {@code onForwardPass} DL4J
 *       hands over the input and the activations of every layer except the
 *       output layer, from the training forward pass. The output layer's
 *       pre-activation (the logits) is then {@code h W + b}, computed from the
 *       last hidden activation {@code h} and the output layer's parameters (read
 *       only; the parameters are those the forward pass used, the update comes
 *       later in the iteration). Cost: one [batch x hidden] x [hidden x classes]
 *       product per batch. These are the logits the network trains on, which is what
 *       AUM is defined over (Pleiss et al. record them during training).
 *       Consequence: the forward pass is in training mode, so with dropout the
 *       hidden activations carry that batch's dropout mask; dropout on the
 *       output layer's own input is not applied to the recomputed logits.</li>
 *   <li>{@link Capture#INFERENCE_COPY}: an extra inference-mode forward pass of
 *       the batch through a {@link NetworkCopy} whose parameters are refreshed
 *       from the training network before each batch. No dropout; costs a full
 *       forward pass plus a parameter copy per batch (measured by
 *       {@code SuspectQualityBenchmark} in sample-training).</li>
 * </ul>
 * TRAIN_PASS is the default because it is the cheaper of the two and gives
 * the logits training actually used. Measured with
 * {@code SuspectQualityBenchmark --copy} (MNIST 60000, MLP 784-512-10, batch
 * 128, 469 batches per epoch; 2026-11-26 on a 2-core machine shared with other
 * jobs, load average 12-14): time inside the capture, summed over 2 epochs,
 * 40.3 s for TRAIN_PASS (about 43 ms per batch) and 116.2 s for
 * INFERENCE_COPY (about 124 ms per batch), so the copy costs about 2.9 times
 * as much. On that loaded machine every native ND4J op waits for its OpenMP
 * threads, which dominates both; TRAIN_PASS therefore does one matrix product
 * per batch and reads arrays in bulk (no other native op). A second run over
 * 3 epochs while the load fell and rose again (0.3 to 8): capture 10.4 s for
 * TRAIN_PASS (3.5 s per 469-batch epoch, about 7 ms per batch, 4.5% of the
 * monitored epoch time) against 90.2 s for INFERENCE_COPY; epoch-end work
 * (ranking, metrics, records, full table) 1.5 s in total. Epoch-time ratio to
 * an interleaved unmonitored twin: 1.106x for TRAIN_PASS, 1.98x for
 * INFERENCE_COPY; by process CPU time 0.986x for TRAIN_PASS (the wall-time
 * ratio moves with the machine's load by more than the capture costs).
 * Those figures are for the capture on the training thread ({@code async(false)}).
 * With the background thread (the default), {@code bench-suspects --epochs 1
 * --pairs 8} with one ND4J thread measured 0.21 s per epoch on the training
 * thread (the hand-over copies) and 0.52 s on the background thread, and an
 * epoch-time ratio of 1.022 (median of adjacent-pair ratios; docs/suspects.md).
 *
 * <h2>Threads</h2>
 * By default ({@link Builder#async}) the training thread only copies what a batch's update needs
 * and would otherwise change (the output layer's input from the training pass and the output
 * layer's parameters, the batch's features and its labels) and hands it to one background
 * thread, which computes the logits, updates the scores, caches candidate features and, at each
 * epoch end, ranks the examples and builds the records. Tasks run in submission order, so the
 * state is exactly that of the synchronous listener; at most {@code maxPending} batches wait
 * (back-pressure, never dropped). Records are published on the training thread at its next
 * callback, or by {@link #flush()} / {@link #close()} after {@code fit}; the accessors
 * ({@link #dynamics()}, {@link #table()}, ...) flush first, so call them after {@code fit}, on
 * the thread that trains; {@link #lastRecord()} only reads the last published record and may be
 * called from any thread. With {@link Capture#INFERENCE_COPY} the copy's forward pass stays on
 * the training thread (it needs the current parameters); only the update is handed over. The
 * optional {@code exampleSource} is called on the background thread.
 *
 * <h2>What it publishes</h2>
 * At the end of every epoch (its schedule is always {@code Schedule.epochs(1)}; {@code build()}
 * refuses others) a {@link SuspectsRecord} (top-K suspects with
 * their raw features, summary statistics, a data-map sample, and precision@k,
 * recall@k and AUROC when the flipped indices are known), and, unless turned
 * off, the full per-example table as a {@link SuspectTableRecord} static-info
 * record (each publication replaces the previous one in the storage).
 * {@link #table()} builds the full table on request.
 *
 * <h2>Raw features of suspects</h2>
 * The record carries each suspect's features (quantised to bytes), so the UI
 * can render it without access to the data set. The listener does not keep a
 * copy of the whole data set: it keeps a bounded cache of candidate examples
 * ({@code featureCache} entries, default {@code max(8 K, 512)}). During the
 * first epoch an example is admitted when the network gets it wrong; later,
 * when its running combined score reaches the score of the rank
 * {@code featureCache/2} example at the previous epoch's end. When the cache is
 * full the lowest-scoring half is evicted. A top-K suspect not in the cache is
 * looked up with the optional {@code exampleSource}; failing that its features
 * are marked missing in the record (it is then captured the next time it is
 * trained on).
 *
 * <h2>Memory</h2>
 * O(N) for N training examples ({@link TrainingDynamics}, 14 values per
 * example), independent of the number of epochs, plus the bounded feature
 * cache.
 */
public final class TrainingDynamicsListener extends BackgroundListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(TrainingDynamicsListener.class);

    /** Columns of the per-suspect values in {@link SuspectsRecord}. */
    public static final List<String> COLUMNS = List.of("combined", "aum", "confidence", "variability",
            "correctness", "forgetting", "learnedSince", "meanLoss", "lastLoss");

    /** Scores whose ranking quality is reported when the flipped indices are known. */
    public static final List<SuspectScore> METRIC_SCORES = List.of(SuspectScore.COMBINED, SuspectScore.AUM,
            SuspectScore.CONFIDENCE, SuspectScore.CORRECTNESS, SuspectScore.FORGETTING, SuspectScore.MEAN_LOSS,
            SuspectScore.LAST_LOSS);

    /** Where the logits are taken from. */
    public enum Capture {
        /** Recomputed from the training forward pass (last hidden activation, output layer W and b). */
        TRAIN_PASS("train-pass"),
        /** An extra inference-mode forward pass on a refreshed copy of the network. */
        INFERENCE_COPY("inference-copy");

        private final String key;

        Capture(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    private final int outputIndex;
    /** The output layer's input preprocessor (configuration, the same for every network of this architecture). */
    private final InputPreProcessor outputPreProcessor;
    private final TrainingDynamics dynamics;
    private final Capture capture;
    private final int topK;
    private final long[] flipped;
    private final boolean[] flippedMask;
    private final int dataMapSize;
    private final int cacheCapacity;
    private final boolean publishTableEveryEpoch;
    /** Not serialised: a lambda over the driver's data set (suspects missing from the cache are then marked so). */
    private final transient LongFunction<INDArray> exampleSource;
    private long[] featureShape;

    private transient NetworkCopy copy;
    private transient DataSet current;
    private final Map<Integer, Cached> cache = new HashMap<>();
    private double admitThreshold = Double.NaN;
    private double admitScale = 1;
    /** Largest rows x hidden x classes product computed in Java rather than by ND4J. */
    static final long JAVA_PRODUCT_LIMIT = 8_000_000L;
    private long javaProductLimit = JAVA_PRODUCT_LIMIT;

    // written by the worker's tasks (in submission order), read after flush()
    private long captureNanosEpoch;
    private long captureNanosTotal;
    private long epochEndNanosTotal;
    private long batchesEpoch;
    /** Time the training thread spends in this listener's callbacks (snapshots, hand-over). */
    private long trainingThreadNanos;
    private transient volatile SuspectsRecord lastRecord;

    private record Cached(byte[] data, float lo, float hi) implements java.io.Serializable {
    }

    private TrainingDynamicsListener(Builder b, int numClasses) {
        super(b, "training-dynamics", "background");
        MultiLayerNetwork net = (MultiLayerNetwork) b.model();
        this.outputIndex = net.getnLayers() - 1;
        this.outputPreProcessor = net.getLayerWiseConfigurations().getInputPreProcess(outputIndex);
        this.dynamics = new TrainingDynamics(b.numExamples, numClasses);
        this.capture = b.capture;
        this.topK = b.topK;
        this.flipped = b.flipped == null ? new long[0] : b.flipped.clone();
        this.flippedMask = b.flipped == null ? null : RankingMetrics.mask(b.numExamples, b.flipped);
        this.dataMapSize = b.dataMapSize;
        this.cacheCapacity = b.featureCache > 0 ? b.featureCache : Math.max(8 * b.topK, 512);
        this.publishTableEveryEpoch = b.publishTable;
        this.exampleSource = b.exampleSource;
        this.featureShape = b.featureShape;
    }

    /** A builder for {@code model} publishing to {@code router}. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    @Override
    public String monitorName() {
        return "training-dynamics";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("numExamples", Integer.toString(dynamics.numExamples()));
        m.put("numClasses", Integer.toString(dynamics.numClasses()));
        m.put("capture", capture.key());
        m.put("topK", Integer.toString(topK));
        m.put("flippedKnown", Integer.toString(flipped.length));
        m.put("featureCache", Integer.toString(cacheCapacity));
        m.put("dataMapSize", Integer.toString(dataMapSize));
        m.put("publishTableEveryEpoch", Boolean.toString(publishTableEveryEpoch));
        return m;
    }

    /**
     * The training-dynamics state, after {@link #flush()} (read it after {@code fit}; do not feed it
     * from elsewhere while training).
     */
    public TrainingDynamics dynamics() {
        flush();
        return dynamics;
    }

    /** How the logits are captured. */
    public Capture capture() {
        return capture;
    }

    /**
     * The last published per-epoch record (null before the first); safe from any thread. The
     * last epoch's record is published by {@link #flush()} or {@link #close()} after {@code fit}.
     */
    public SuspectsRecord lastRecord() {
        return lastRecord;
    }

    /** Tests: sets the size up to which logits are computed in Java (0 = always with ND4J). */
    TrainingDynamicsListener javaProductLimit(long limit) {
        this.javaProductLimit = limit;
        return this;
    }

    /** Total time spent computing logits and updating the state (on the background thread if async), in nanoseconds. */
    public long captureNanos() {
        flush();
        return captureNanosTotal;
    }

    /** Total time spent at epoch ends (ranking, metrics, records, table), in nanoseconds. */
    public long epochEndNanos() {
        flush();
        return epochEndNanosTotal;
    }

    /**
     * Total time the training thread spent in this listener's callbacks, in nanoseconds: with the
     * background thread, the copies handed to it; without, all the work.
     */
    public long trainingThreadNanos() {
        return trainingThreadNanos;
    }

    /** Number of examples whose raw features are cached now. */
    public int cachedFeatures() {
        flush();
        return cache.size();
    }

    /**
     * Wraps {@code iterator} so this listener knows the example indices of the
     * batch being trained. Train on the returned iterator.
     */
    public DataSetIterator track(DataSetIterator iterator) {
        return new TrackingIterator(Objects.requireNonNull(iterator, "iterator"));
    }

    /**
     * Declares the DataSet about to be trained with {@code fit(DataSet)} (for
     * manual training loops; {@link #track} does this for iterators).
     *
     * @throws IllegalArgumentException if it carries no example indices
     */
    public void setBatch(DataSet ds) {
        if (!ExampleIndex.hasIndices(ds)) {
            throw new IllegalArgumentException("TrainingDynamicsListener needs stable example indices on every "
                    + "training DataSet, and this one has none. " + ExampleIndex.HOW_TO);
        }
        current = ds;
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        bind(model);
        DataSet batch = current;
        if (batch == null) {
            throw new IllegalStateException("TrainingDynamicsListener saw a training forward pass but does not know "
                    + "which examples are in the batch: train with model.fit(listener.track(iterator), epochs), "
                    + "or call listener.setBatch(ds) before each model.fit(ds).");
        }
        long rows = activations.get(0).size(0);
        if (rows != batch.numExamples()) {
            throw new IllegalStateException("The tracked DataSet has " + batch.numExamples()
                    + " examples but the forward pass has " + rows + " rows: train on the iterator returned by "
                    + "listener.track(...), not on the original one.");
        }
        current = null;
        int epoch = currentEpoch();
        drain();
        guard("capture", () -> {
            long t0 = System.nanoTime();
            long[] idx = ExampleIndex.indicesOf(batch);
            INDArray features = batch.getFeatures();
            if (featureShape == null) {
                long[] fs = features.shape();
                featureShape = Arrays.copyOfRange(fs, 1, fs.length);
            }
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                if (worker().async()) {
                    // hand-over: copies of what training may overwrite before the task runs (the last
                    // hidden activation in the workspace, the parameters the update changes, and the
                    // batch's features, which a manual loop or an iterator may reuse); the labels are
                    // read now (n ints)
                    INDArray feats = features.dup();
                    int[] labels = TrainingDynamics.labelsOf(batch.getLabels());
                    java.util.concurrent.Callable<double[]> logits;
                    if (capture == Capture.TRAIN_PASS) {
                        Layer out = net().getLayer(outputIndex);
                        INDArray h = activations.get(activations.size() - 1).dup();
                        INDArray w = out.getParam("W").dup();
                        INDArray b = out.getParam("b") == null ? null : out.getParam("b").dup();
                        logits = () -> logitsFrom(h, w, b);
                    } else {
                        double[] z = logitsFromCopy(features);
                        logits = () -> z;
                    }
                    worker().submit(() -> {
                        observe(idx, logits.call(), labels, null, feats, epoch);
                        return null;
                    });
                } else {
                    int[] labels = TrainingDynamics.labelsOf(batch.getLabels());
                    double[] z = capture == Capture.TRAIN_PASS
                            ? logitsFromTrainingPass(activations)
                            : logitsFromCopy(features);
                    observe(idx, z, labels, null, features, epoch);
                }
            }
            trainingThreadNanos += System.nanoTime() - t0;
        });
    }

    /** The network being trained (the model of the latest callback). */
    private MultiLayerNetwork net() {
        return (MultiLayerNetwork) requireModel();
    }

    /** Updates the state with one batch's logits and caches candidate features; times itself. */
    private void observe(long[] idx, double[] logits, int[] labels, float[] rows, INDArray features, int epoch) {
        long t0 = System.nanoTime();
        dynamics.observe(idx, logits, labels, epoch);
        cacheCandidates(idx, rows, features);
        long dt = System.nanoTime() - t0;
        captureNanosEpoch += dt;
        captureNanosTotal += dt;
        batchesEpoch++;
    }

    private double[] logitsFromTrainingPass(List<INDArray> activations) {
        Layer out = net().getLayer(outputIndex);
        return logitsFrom(activations.get(activations.size() - 1), out.getParam("W"), out.getParam("b"));
    }

    private double[] logitsFromCopy(INDArray features) {
        MultiLayerNetwork net = net();
        if (copy == null || copy.source() != net) {
            copy = NetworkCopy.of(net);
        } else {
            copy.refresh();
        }
        MultiLayerNetwork c = copy.multiLayer();
        // layer by layer: DL4J's feedForward methods refuse to run while the
        // training pass's workspace is open (we are inside its callback)
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        INDArray h = features;
        int rows = (int) features.size(0);
        for (int j = 0; j < outputIndex; j++) {
            InputPreProcessor pp = c.getLayerWiseConfigurations().getInputPreProcess(j);
            if (pp != null) {
                h = pp.preProcess(h, rows, mgr);
            }
            h = c.getLayer(j).activate(h, false, mgr);
        }
        Layer out = c.getLayer(outputIndex);
        return logitsFrom(h, out.getParam("W"), out.getParam("b"));
    }

    /**
     * Output-layer pre-activation h W + b, row-major, from the output layer's
     * input h (before its preprocessor). When ND4J runs several threads and
     * the product has up to {@link #JAVA_PRODUCT_LIMIT} multiply-adds, it is
     * computed in Java from bulk copies of h and W (no ND4J op at all);
     * otherwise with one ND4J matrix product. The bias is added in Java.
     */
    private double[] logitsFrom(INDArray h, INDArray w, INDArray b) {
        InputPreProcessor pp = outputPreProcessor;
        if (pp != null) {
            h = pp.preProcess(h, (int) h.size(0), LayerWorkspaceMgr.noWorkspaces());
        }
        int rows = (int) h.size(0);
        int hidden = (int) w.size(0);
        int c = (int) w.size(1);
        double[] z;
        if (h.rank() == 2 && h.size(1) == hidden && (long) rows * hidden * c <= javaProductLimit
                && Nd4j.getEnvironment().maxThreads() > 1) {
            // small product with multi-threaded ND4J: plain Java on bulk copies, no ND4J op (each op
            // hands work to the OpenMP threads, which costs more than the arithmetic at this size).
            // Measured per MLP epoch (469 batches of 128 x 512 x 10): with 2 threads 0.8 s in Java vs
            // 1.6-1.9 s with ND4J's product; with 1 thread the product is cheaper (0.25 s vs 0.6-0.8 s).
            double[] hv = BulkRead.doubles(h);
            double[] wv = BulkRead.doubles(w);
            z = new double[rows * c];
            for (int r = 0; r < rows; r++) {
                int zo = r * c;
                int ho = r * hidden;
                for (int k = 0; k < hidden; k++) {
                    double hk = hv[ho + k];
                    if (hk != 0) { // ReLU layers: mostly zeros
                        int wo = k * c;
                        for (int j = 0; j < c; j++) {
                            z[zo + j] += hk * wv[wo + j];
                        }
                    }
                }
            }
        } else {
            INDArray hw = h.dataType() == w.dataType() ? h : h.castTo(w.dataType());
            // c-order result, so the bulk read needs no extra copy (mmul's default result is f-order)
            INDArray product = Nd4j.createUninitialized(w.dataType(), new long[]{hw.size(0), c}, 'c');
            hw.mmul(w, product);
            z = BulkRead.doubles(product);
        }
        if (b != null) {
            double[] bias = BulkRead.doubles(b);
            for (int j = 0; j < z.length; j++) {
                z[j] += bias[j % c];
            }
        }
        return z;
    }

    /** Caches the features of admitted examples, from {@code rows} (read already) or {@code features}. */
    private void cacheCandidates(long[] idx, float[] rows, INDArray features) {
        int d = (int) Arrays.stream(featureShape).reduce(1, (a, b) -> a * b);
        for (int r = 0; r < idx.length; r++) {
            int i = (int) idx[r];
            boolean admit = Double.isNaN(admitThreshold)
                    ? !dynamics.lastCorrect(i)
                    : dynamics.combinedScore(i, admitScale) >= admitThreshold;
            if (!admit) {
                continue;
            }
            if (rows == null) {
                // one bulk copy (INDArray.toFloatMatrix reads element by element: ~100x slower)
                rows = BulkRead.floats(features);
            }
            if (rows.length != (long) idx.length * d) {
                throw new IllegalArgumentException("Feature shape " + Arrays.toString(featureShape)
                        + " does not match the batch features (" + rows.length / idx.length + " values per example)");
            }
            cache.put(i, quantise(Arrays.copyOfRange(rows, r * d, (r + 1) * d)));
        }
        if (cache.size() > cacheCapacity) {
            evict(cacheCapacity / 2);
        }
    }

    private void evict(int keep) {
        List<Integer> keys = new ArrayList<>(cache.keySet());
        keys.sort((a, b) -> Double.compare(dynamics.combinedScore(b, admitScale),
                dynamics.combinedScore(a, admitScale)));
        for (int j = keep; j < keys.size(); j++) {
            cache.remove(keys.get(j));
        }
    }

    static Cached quantise(float[] v) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        if (lo >= 0 && hi <= 1) {
            lo = 0;
            hi = 1;
        }
        float span = hi - lo;
        byte[] out = new byte[v.length];
        for (int j = 0; j < v.length; j++) {
            int q = span > 0 ? Math.round((v[j] - lo) / span * 255f) : 0;
            out[j] = (byte) Math.max(0, Math.min(255, q));
        }
        return new Cached(out, lo, hi);
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        int epoch = currentEpoch();
        long iteration = currentIteration();
        drain();
        guard("epoch-end", () -> worker().submit(() -> {
            long t0 = System.nanoTime();
            SuspectsRecord r = buildRecordNow();
            SuspectTableRecord t = publishTableEveryEpoch ? tableNow(epoch) : null;
            epochEndNanosTotal += System.nanoTime() - t0;
            log.debug("Epoch {}: {} batches, {} ms capturing logits, {} features cached", epoch, batchesEpoch,
                    captureNanosEpoch / 1_000_000, cache.size());
            captureNanosEpoch = 0;
            batchesEpoch = 0;
            return () -> {
                lastRecord = r;
                publish(r, epoch, iteration);
                if (t != null) {
                    publishStatic(t);
                }
            };
        }));
        drain();
    }

    /** Builds a per-epoch record from the current state (after {@link #flush()}), as at epoch end. */
    public SuspectsRecord buildRecord() {
        flush();
        return buildRecordNow();
    }

    private SuspectsRecord buildRecordNow() {
        double scale = dynamics.combinedScale();
        double[] combined = new double[dynamics.numExamples()];
        for (int i = 0; i < combined.length; i++) {
            combined[i] = dynamics.combinedScore(i, scale);
        }
        int[] top = RankingMetrics.topK(combined, topK);
        int k = top.length;

        long[] index = new long[k];
        int[] given = new int[k];
        int[] pred = new int[k];
        double[] values = new double[k * COLUMNS.size()];
        long[] shape = featureShape == null ? new long[]{0} : featureShape;
        int d = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        byte[] feats = new byte[k * d];
        float[] lo = new float[k];
        float[] hi = new float[k];
        for (int s = 0; s < k; s++) {
            int i = top[s];
            index[s] = i;
            given[s] = dynamics.givenLabel(i);
            pred[s] = dynamics.predictedLabel(i);
            double[] row = {combined[i], dynamics.aum(i), dynamics.confidence(i), dynamics.variability(i),
                    dynamics.correctness(i), dynamics.forgettingEvents(i), dynamics.learnedSinceEpoch(i),
                    dynamics.meanLoss(i), dynamics.lastLoss(i)};
            System.arraycopy(row, 0, values, s * COLUMNS.size(), row.length);
            Cached c = featuresOf(i);
            if (c != null && c.data().length == d) {
                System.arraycopy(c.data(), 0, feats, s * d, d);
                lo[s] = c.lo();
                hi[s] = c.hi();
            } else {
                lo[s] = Float.NaN;
                hi[s] = Float.NaN;
            }
        }
        SuspectsRecord r = new SuspectsRecord(capture.key(), dynamics.numExamples(), dynamics.numClasses(),
                summaryNames(), summary(combined), index, given, pred, COLUMNS, values, shape, feats, lo, hi);
        addDataMap(r, top);
        if (flippedMask != null) {
            List<String> names = new ArrayList<>();
            double[] p = new double[METRIC_SCORES.size()];
            double[] rc = new double[p.length];
            double[] au = new double[p.length];
            for (int j = 0; j < METRIC_SCORES.size(); j++) {
                SuspectScore kind = METRIC_SCORES.get(j);
                double[] sc = kind == SuspectScore.COMBINED ? combined : dynamics.scores(kind);
                names.add(kind.key());
                p[j] = RankingMetrics.precisionAtK(sc, flippedMask, flipped.length);
                rc[j] = RankingMetrics.recallAtK(sc, flippedMask, flipped.length);
                au[j] = RankingMetrics.auroc(sc, flippedMask);
            }
            r.withMetrics(flipped.length, names, p, rc, au);
        }
        // admission rule of the feature cache for the next epoch
        admitScale = scale;
        admitThreshold = RankingMetrics.kthLargest(combined, cacheCapacity / 2);
        return r;
    }

    private Cached featuresOf(int i) {
        Cached c = cache.get(i);
        if (c == null && exampleSource != null) {
            INDArray x = exampleSource.apply(i);
            if (x != null) {
                c = quantise(x.castTo(DataType.FLOAT).reshape('c', x.length()).toFloatVector());
                cache.put(i, c);
            }
        }
        return c;
    }

    private static List<String> summaryNames() {
        return List.of("seen", "observations", "meanAum", "fracNegativeAum", "meanConfidence", "meanVariability",
                "meanCorrectness", "fracLastCorrect", "meanForgetting", "captureMillis", "batches",
                "featuresCached");
    }

    private double[] summary(double[] combined) {
        int seen = 0;
        double aum = 0;
        int neg = 0;
        double conf = 0;
        double var = 0;
        double corr = 0;
        int lastCorrect = 0;
        double forget = 0;
        for (int i = 0; i < dynamics.numExamples(); i++) {
            if (!dynamics.seen(i)) {
                continue;
            }
            seen++;
            double a = dynamics.aum(i);
            aum += a;
            if (a < 0) {
                neg++;
            }
            conf += dynamics.confidence(i);
            var += dynamics.variability(i);
            corr += dynamics.correctness(i);
            if (dynamics.lastCorrect(i)) {
                lastCorrect++;
            }
            forget += dynamics.forgettingEvents(i);
        }
        double s = Math.max(seen, 1);
        return new double[]{seen, dynamics.observations(), seen == 0 ? Double.NaN : aum / s,
                seen == 0 ? Double.NaN : neg / s, seen == 0 ? Double.NaN : conf / s,
                seen == 0 ? Double.NaN : var / s, seen == 0 ? Double.NaN : corr / s,
                seen == 0 ? Double.NaN : lastCorrect / s, seen == 0 ? Double.NaN : forget / s,
                captureNanosEpoch / 1e6, batchesEpoch, cache.size()};
    }

    private void addDataMap(SuspectsRecord r, int[] top) {
        int n = dynamics.numExamples();
        Set<Integer> chosen = new LinkedHashSet<>();
        int stride = Math.max(1, (int) Math.ceil(n / (double) Math.max(1, dataMapSize)));
        for (int i = 0; i < n; i += stride) {
            if (dynamics.seen(i)) {
                chosen.add(i);
            }
        }
        for (int i : top) {
            chosen.add(i);
        }
        int[] idx = chosen.stream().mapToInt(Integer::intValue).toArray();
        float[] conf = new float[idx.length];
        float[] var = new float[idx.length];
        float[] corr = new float[idx.length];
        for (int j = 0; j < idx.length; j++) {
            conf[j] = (float) dynamics.confidence(idx[j]);
            var[j] = (float) dynamics.variability(idx[j]);
            corr[j] = (float) dynamics.correctness(idx[j]);
        }
        r.withDataMap(idx, conf, var, corr);
    }

    /** The full per-example table at this moment, after {@link #flush()} (not published). */
    public SuspectTableRecord table() {
        flush();
        return tableNow(currentEpoch());
    }

    private SuspectTableRecord tableNow(int epoch) {
        int n = dynamics.numExamples();
        int[] given = new int[n];
        int[] pred = new int[n];
        int[] count = new int[n];
        int[] forget = new int[n];
        int[] learned = new int[n];
        float[][] f = new float[SuspectTableRecord.FLOAT_COLUMNS.size()][n];
        double scale = dynamics.combinedScale();
        for (int i = 0; i < n; i++) {
            given[i] = dynamics.givenLabel(i);
            pred[i] = dynamics.predictedLabel(i);
            count[i] = dynamics.count(i);
            forget[i] = dynamics.forgettingEvents(i);
            learned[i] = dynamics.learnedSinceEpoch(i);
            f[0][i] = (float) dynamics.combinedScore(i, scale);
            f[1][i] = (float) dynamics.aum(i);
            f[2][i] = (float) dynamics.confidence(i);
            f[3][i] = (float) dynamics.variability(i);
            f[4][i] = (float) dynamics.correctness(i);
            f[5][i] = (float) dynamics.meanLoss(i);
            f[6][i] = (float) dynamics.lastLoss(i);
        }
        return new SuspectTableRecord(epoch, dynamics.numClasses(), given, pred, count, forget, learned, f,
                flipped);
    }

    /** Publishes the full table now as static info (replacing the stored one); returns it. */
    public SuspectTableRecord publishTable() {
        SuspectTableRecord t = table();
        publishStatic(t);
        return t;
    }

    /** The iterator wrapper of {@link #track}. */
    private final class TrackingIterator implements DataSetIterator {
        private static final long serialVersionUID = 1L;
        private final DataSetIterator delegate;

        TrackingIterator(DataSetIterator delegate) {
            this.delegate = delegate;
        }

        private org.nd4j.linalg.dataset.DataSet remember(org.nd4j.linalg.dataset.DataSet ds) {
            setBatch(ds);
            return ds;
        }

        @Override
        public org.nd4j.linalg.dataset.DataSet next(int num) {
            return remember(delegate.next(num));
        }

        @Override
        public org.nd4j.linalg.dataset.DataSet next() {
            return remember(delegate.next());
        }

        @Override
        public boolean hasNext() {
            return delegate.hasNext();
        }

        @Override
        public int inputColumns() {
            return delegate.inputColumns();
        }

        @Override
        public int totalOutcomes() {
            return delegate.totalOutcomes();
        }

        @Override
        public boolean resetSupported() {
            return delegate.resetSupported();
        }

        /** Always false: DL4J must not prefetch batches ahead of the one being trained. */
        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            current = null;
            delegate.reset();
        }

        @Override
        public int batch() {
            return delegate.batch();
        }

        @Override
        public void setPreProcessor(DataSetPreProcessor preProcessor) {
            delegate.setPreProcessor(preProcessor);
        }

        @Override
        public DataSetPreProcessor getPreProcessor() {
            return delegate.getPreProcessor();
        }

        @Override
        public List<String> getLabels() {
            return delegate.getLabels();
        }
    }

    /** Builder; {@code numExamples} is required. */
    public static final class Builder extends BackgroundListener.Builder<Builder, TrainingDynamicsListener> {
        private int numExamples = -1;
        private Capture capture = Capture.TRAIN_PASS;
        private int topK = 50;
        private long[] flipped;
        private int dataMapSize = 2000;
        private int featureCache = -1;
        private boolean publishTable = true;
        private LongFunction<INDArray> exampleSource;
        private long[] featureShape;

        Builder(Model model, StatsStorageRouter router) {
            super(model, router, 64);
        }

        Model model() {
            return model;
        }

        /** N: the number of training examples; indices must lie in [0, N). Required. */
        public Builder numExamples(int n) {
            this.numExamples = n;
            return self();
        }

        /** Where logits come from (default {@link Capture#TRAIN_PASS}). */
        public Builder capture(Capture capture) {
            this.capture = Objects.requireNonNull(capture, "capture");
            return self();
        }

        /** Number of suspects per record (default 50). */
        public Builder topK(int k) {
            this.topK = k;
            return self();
        }

        /**
         * Indices known to be mislabeled (e.g. injected label noise); records
         * then carry precision@k, recall@k (k = their number) and AUROC.
         */
        public Builder flippedIndices(long[] flipped) {
            this.flipped = flipped;
            return self();
        }

        /** Maximum number of examples in the data-map sample of each record (default 2000). */
        public Builder dataMapSize(int n) {
            this.dataMapSize = n;
            return self();
        }

        /** Capacity of the feature cache of candidate suspects (default max(8 topK, 512)). */
        public Builder featureCache(int n) {
            this.featureCache = n;
            return self();
        }

        /** Whether to publish the full table at every epoch end (default true). */
        public Builder publishTableEveryEpoch(boolean b) {
            this.publishTable = b;
            return self();
        }

        /**
         * Optional lookup of an example's features by index, used for suspects
         * whose features are not in the cache (for in-memory data sets).
         */
        public Builder exampleSource(LongFunction<INDArray> source) {
            this.exampleSource = source;
            return self();
        }

        /**
         * Shape of one example's features as the UI should render it, e.g.
         * {@code 1, 28, 28} for MNIST given as 784-vectors (default: the batch
         * features' shape without the batch dimension).
         */
        public Builder featureShape(long... shape) {
            this.featureShape = shape.clone();
            return self();
        }

        @Override
        public TrainingDynamicsListener build() {
            if (!(model instanceof MultiLayerNetwork mln)) {
                throw new IllegalArgumentException("TrainingDynamicsListener supports MultiLayerNetwork only; got "
                        + model.getClass().getSimpleName());
            }
            if (schedule != null && !schedule.equals(dev.stethoscope.listeners.core.Schedule.epochs(1))) {
                throw new IllegalArgumentException("TrainingDynamicsListener scores every iteration and records every "
                        + "epoch: its schedule is epochs:1 (the default), got '" + schedule + "'");
            }
            if (numExamples <= 0) {
                throw new IllegalArgumentException("numExamples(N) is required: the number of training examples "
                        + "(example indices must lie in [0, N))");
            }
            if (topK <= 0) {
                throw new IllegalArgumentException("topK must be positive, got " + topK);
            }
            if (dataMapSize < 0) {
                throw new IllegalArgumentException("dataMapSize must be >= 0, got " + dataMapSize);
            }
            if (mln.getLayers() == null || mln.getLayers().length == 0) {
                throw new IllegalArgumentException("The network is not initialised: call net.init() first");
            }
            Layer out = mln.getLayer(mln.getnLayers() - 1);
            if (!(out instanceof BaseOutputLayer<?>) || out.getParam("W") == null) {
                throw new IllegalArgumentException("TrainingDynamicsListener needs an output layer with weights "
                        + "(OutputLayer, e.g. softmax + MCXENT); the last layer is "
                        + out.conf().getLayer().getClass().getSimpleName());
            }
            int numClasses = (int) ((FeedForwardLayer) out.conf().getLayer()).getNOut();
            if (flipped != null) {
                for (long f : flipped) {
                    if (f < 0 || f >= numExamples) {
                        throw new IllegalArgumentException("Flipped index " + f + " outside [0, " + numExamples + ")");
                    }
                }
            }
            if (featureShape != null && Arrays.stream(featureShape).anyMatch(s -> s <= 0)) {
                throw new IllegalArgumentException("featureShape entries must be positive: "
                        + Arrays.toString(featureShape));
            }
            return new TrainingDynamicsListener(this, numClasses);
        }
    }
}
