package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.probes.dynamics.BulkRead;
import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.data.ExampleIdentityException;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.SuspectScore;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.layers.BaseOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.LongFunction;

/**
 * Tracks per-example training dynamics during training and ranks the training
 * examples most likely to be mislabeled (METHODS.md section 7).
 *
 * <h2>Which examples are in a batch</h2>
 * Adding the listener with {@code net.addListeners(...)} (or {@code setListeners}) is enough:
 * the examples are identified by {@link ExampleIdentity}. DL4J's listener callbacks do not
 * receive the DataSet, so by default each row of the training forward pass's input and of the
 * network's labels is hashed, and each distinct content is one example (exact for
 * augmentation-free data, whatever the shuffling; indices 0..N-1 in order of first appearance).
 * When the iterator is wrapped by {@link #track} (or a manual loop calls {@link #setBatch}), the
 * batch's own metadata is used instead and preferred: {@code RecordMetaDataIndex} indices
 * ({@link ExampleIndex}, e.g. {@link dev.stethoscope.listeners.data.IndexedArrayIterator}) as
 * they are, other DataVec metadata (e.g. {@code RecordReaderDataSetIterator.collectMetaData(true)})
 * by location. The tracking wrapper reports {@code asyncSupported() == false}, so DL4J does not
 * prefetch ahead of the batch being trained. If the examples cannot be followed (random
 * augmentation changes their content every epoch; more distinct examples than
 * {@code numExamples}), the listener logs one warning, publishes one {@code MonitorError} (phase
 * "example-identity", {@link ExampleIdentityException}) and stops scoring; training goes on,
 * even with {@code failFast(true)}. Only plain feed-forward training is supported (one forward
 * pass per DataSet; not truncated BPTT).
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
 *       forward pass plus a parameter copy per batch (measured in
 *       docs/suspects.md, "Overhead").</li>
 * </ul>
 * TRAIN_PASS is the default because it is the cheaper of the two and gives
 * the logits training actually used. On a loaded machine every native ND4J op
 * waits for its OpenMP threads, so TRAIN_PASS does one matrix product per batch
 * and reads arrays in bulk (no other native op). The measured cost of both
 * captures, on the training thread ({@code async(false)}) and with the
 * background thread (the default), is in docs/suspects.md ("Overhead").
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
 * refuses others) a {@link Suspects} (top-K suspects with
 * their raw features, summary statistics, a data-map sample, and precision@k,
 * recall@k and AUROC when the flipped indices are known), and, unless turned
 * off, the full per-example table as a {@link SuspectTable} static-info
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
 * <h2>Structure</h2>
 * This class coordinates four package-private parts: {@code BatchTracker} (the tracking
 * iterator and the batch's example indices), {@code LogitCapture} (the two capture modes),
 * {@code FeatureCache} (the bounded cache of candidate features) and {@code SuspectRecords}
 * (record assembly); it owns the threads, timings and publication.
 *
 * <h2>ComputationGraph</h2>
 * A graph with one output layer (fed by one vertex) and one or more inputs is supported: DL4J calls
 * {@code onForwardPass(Model, Map)} with every vertex's activation, and the logits are computed from the
 * activation of the vertex feeding the output layer, as above; without a tracked DataSet the batch's labels are
 * read from the graph. A graph with several outputs is refused by {@code build()}.
 *
 * <p><b>Several inputs.</b> An example is then the concatenation of its inputs: each input flattened per example,
 * in the graph's input order ({@link dev.stethoscope.probes.memorization.InputGradients#joint}). Its content hash
 * covers every input (and the label), and the feature cache keeps that concatenation, which the suspects page
 * renders with {@link Builder#featureShape} (e.g. {@code 1, 28, 28} when the inputs are the two halves of an
 * image; default: one row). The graph trains on a {@code MultiDataSetIterator}: without more, examples are
 * identified by content hash; wrapped by {@link #trackMulti}
 * (or declared with {@link #setMultiBatch}) the batches' example indices or
 * metadata are used. Only {@link Capture#TRAIN_PASS} is supported; {@code build()} refuses
 * {@link Capture#INFERENCE_COPY} on such a graph. Copying the inputs into one array costs one native concatenation
 * per batch on the training thread.
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

    /** Columns of the per-suspect values in {@link Suspects}. */
    public static final List<String> COLUMNS = Suspects.COLUMNS;

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

        /** The name of this capture in settings and records ("train-pass", "inference-copy"). */
        public String key() {
            return key;
        }
    }

    /** Largest rows x hidden x classes product computed in Java rather than by ND4J ({@link LogitCapture}). */
    static final long JAVA_PRODUCT_LIMIT = LogitCapture.JAVA_PRODUCT_LIMIT;

    private final TrainingDynamics dynamics;
    private final Capture capture;
    private final int topK;
    private final int dataMapSize;
    private final boolean publishTableEveryEpoch;

    // the four parts this listener coordinates
    /** Which examples the batch being trained holds (training thread). */
    private final BatchTracker tracker = new BatchTracker();
    /** Which examples the rows of a batch are: tracked indices, metadata or content hash (training thread). */
    private final ExampleIdentity identity;
    /** The logits of each batch (training thread; the hand-over's product may run on the worker). */
    private final LogitCapture logits;
    /** Raw features of candidate suspects (worker, in submission order). */
    private final FeatureCache cache;
    /** The records built from the state (worker). */
    private final SuspectRecords records;

    // written by the worker's tasks (in submission order), read after flush()
    private long captureNanosEpoch;
    private long captureNanosTotal;
    private long epochEndNanosTotal;
    private long batchesEpoch;
    /** Time the training thread spends in this listener's callbacks (snapshots, hand-over). */
    private long trainingThreadNanos;
    private transient volatile Suspects lastRecord;

    private TrainingDynamicsListener(Builder b, int numClasses) {
        super(b, "training-dynamics", "background");
        this.dynamics = new TrainingDynamics(b.numExamples, numClasses);
        this.identity = new ExampleIdentity(b.numExamples);
        this.capture = b.capture;
        this.topK = b.topK;
        this.dataMapSize = b.dataMapSize;
        this.publishTableEveryEpoch = b.publishTable;
        this.logits = b.model() instanceof ComputationGraph g ? new LogitCapture(g, b.capture)
                : new LogitCapture((MultiLayerNetwork) b.model(), b.capture);
        this.cache = new FeatureCache(dynamics, b.featureCache > 0 ? b.featureCache : Math.max(8 * b.topK, 512),
                b.exampleSource, b.featureShape);
        this.records = new SuspectRecords(dynamics, b.capture.key(), b.topK, b.flipped, b.dataMapSize);
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
        m.put("flippedKnown", Integer.toString(records.flippedCount()));
        m.put("featureCache", Integer.toString(cache.capacity()));
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
    public Suspects lastRecord() {
        return lastRecord;
    }

    /** Tests: sets the size up to which logits are computed in Java (0 = always with ND4J). */
    TrainingDynamicsListener javaProductLimit(long limit) {
        logits.javaProductLimit(limit);
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
     * How examples are identified (null before the first batch): tracked indices, metadata or content hash
     * (see the class comment).
     */
    public ExampleIdentity.Source identitySource() {
        return identity.source();
    }

    /** Why examples cannot be followed and the listener stopped scoring (null while it follows them). */
    public String identityLost() {
        return identity.reason();
    }

    /** Wall time spent identifying examples (hashing their content, or reading metadata) so far, in nanoseconds. */
    public long identityNanos() {
        return identity.nanos();
    }

    /** Training-thread CPU time spent identifying examples so far, in nanoseconds (-1 if not measurable). */
    public long identityCpuNanos() {
        return identity.cpuNanos();
    }

    /**
     * Optional: wraps {@code iterator} so this listener reads the example indices or metadata of the
     * batch being trained (preferred to content hashing when the batches carry them). Train on the
     * returned iterator. For a graph with several inputs trained on a {@code MultiDataSetIterator} use
     * {@link #trackMulti} (a separate name, so that {@code track(null)} is not ambiguous).
     *
     * @throws NullPointerException if {@code iterator} is null
     */
    public DataSetIterator track(DataSetIterator iterator) {
        return tracker.track(iterator);
    }

    /**
     * Optional, for a ComputationGraph with several inputs: wraps {@code iterator} so this listener reads the
     * example indices or metadata of the batch being trained ({@code MultiDataSet.getExampleMetaData()}), as
     * {@link #track(DataSetIterator)} does for DataSets. Train on the returned iterator.
     *
     * @throws NullPointerException if {@code iterator} is null
     */
    public org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator trackMulti(
            org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator iterator) {
        return tracker.track(iterator);
    }

    /**
     * Optional: declares the MultiDataSet about to be trained with {@code fit(MultiDataSet)} by a graph with several
     * inputs (manual loops), so that its example indices or metadata are used; {@link #setBatch(DataSet)} for
     * DataSets (a separate name, so that {@code setBatch(null)} is not ambiguous).
     *
     * @param m the batch, or null to forget a declared batch
     */
    public void setMultiBatch(org.nd4j.linalg.dataset.api.MultiDataSet m) {
        if (m == null) {
            tracker.clear();
        } else {
            tracker.set(m);
        }
    }

    /**
     * Optional: declares the DataSet about to be trained with {@code fit(DataSet)} (for manual training loops;
     * {@link #track} does this for iterators), so that its example indices or metadata are used;
     * {@link #setMultiBatch} for a MultiDataSet.
     *
     * @param ds the batch, or null to forget a declared batch
     */
    public void setBatch(DataSet ds) {
        tracker.set(ds);
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        capture(model, activations.get(0), () -> ((MultiLayerNetwork) requireModel()).getLabels(),
                features -> logits.handOver(activations, features), features -> logits.now(activations, features));
    }

    /**
     * A ComputationGraph's training forward pass (single output layer, one or more inputs): the logits from the
     * activation of the vertex feeding the output layer, the batch's labels from the graph; with several inputs the
     * examples are the concatenation of their inputs (see the class comment).
     */
    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        if (!(model instanceof ComputationGraph g)) {
            return;
        }
        List<String> names = g.getConfiguration().getNetworkInputs();
        INDArray input;
        if (names.size() == 1) {
            input = activations.get(names.get(0));
        } else {
            INDArray[] xs = new INDArray[names.size()];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = activations.get(names.get(i));
            }
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                input = dev.stethoscope.probes.memorization.InputGradients.joint(xs);
            }
        }
        capture(model, input, () -> GraphLabels.of((ComputationGraph) requireModel()),
                features -> logits.handOver(activations, features), features -> logits.now(activations, features));
    }

    /** What differs between the two kinds of network in a capture. */
    private interface Logits {
        Object apply(INDArray features) throws Exception;
    }

    @SuppressWarnings("unchecked")
    private void capture(Model model, INDArray input, java.util.function.Supplier<INDArray> trainingLabels,
                         Logits handOver, Logits now) {
        bind(model);
        DataSet declared = tracker.take(input.size(0));
        int epoch = currentEpoch();
        drain();
        if (identity.disabled()) {
            return;
        }
        guard("capture", () -> {
            long t0 = System.nanoTime();
            INDArray features = declared != null ? declared.getFeatures() : input;
            INDArray labelArray = declared != null ? declared.getLabels() : trainingLabels.get();
            long c0 = dev.stethoscope.listeners.core.CpuAccounting.start();
            long[] idx = identity.identify(declared, features, labelArray, epoch);
            dev.stethoscope.listeners.core.CpuAccounting.add("training thread: training-dynamics capture: identify", c0);
            if (idx == null) {
                identityLost(epoch);
                trainingThreadNanos += System.nanoTime() - t0;
                return;
            }
            cache.shapeFrom(features);
            logits.use(requireModel());
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                if (worker().async()) {
                    // hand-over: copies of what training may overwrite before the task runs (the last
                    // hidden activation in the workspace, the parameters the update changes, and the
                    // batch's features, which a manual loop or an iterator may reuse); the labels are
                    // read now (n ints)
                    long c1 = dev.stethoscope.listeners.core.CpuAccounting.start();
                    // a bulk read into a Java array, not a dup: no native allocation on the training thread
                    float[] feats = BulkRead.floats(features);
                    dev.stethoscope.listeners.core.CpuAccounting.add("training thread: training-dynamics capture: copy features", c1);
                    c1 = dev.stethoscope.listeners.core.CpuAccounting.start();
                    int[] labels = TrainingDynamics.labelsOf(labelArray);
                    dev.stethoscope.listeners.core.CpuAccounting.add("training thread: training-dynamics capture: labels", c1);
                    c1 = dev.stethoscope.listeners.core.CpuAccounting.start();
                    Callable<double[]> z = (Callable<double[]>) handOver.apply(features);
                    dev.stethoscope.listeners.core.CpuAccounting.add("training thread: training-dynamics capture: hand over logits inputs", c1);
                    c1 = dev.stethoscope.listeners.core.CpuAccounting.start();
                    worker().submit(() -> {
                        observe(idx, z.call(), labels, feats, epoch);
                        return null;
                    });
                    dev.stethoscope.listeners.core.CpuAccounting.add("training thread: training-dynamics capture: submit", c1);
                } else {
                    int[] labels = TrainingDynamics.labelsOf(labelArray);
                    observe(idx, (double[]) now.apply(features), labels, features, epoch);
                }
            }
            trainingThreadNanos += System.nanoTime() - t0;
        });
    }

    /** The examples cannot be followed: one warning and one error record; never throws, training goes on. */
    private void identityLost(int epoch) {
        log.warn("Stethoscope monitor '{}' stops scoring examples (training goes on): {}", monitorName(),
                identity.reason());
        try {
            publish(MonitorError.of(monitorName(), "example-identity",
                    new ExampleIdentityException(identity.reason())), epoch, currentIteration());
        } catch (RuntimeException e) {
            log.error("Could not publish the example-identity record of monitor '{}'", monitorName(), e);
        }
    }

    /**
     * Feeds one batch observed elsewhere: the logits another copy of this network computed while
     * training (a Spark worker's training pass, see the {@code stethoscope-spark} module), as if this
     * listener had seen the batch itself. The observation is queued behind the batches already
     * handed to the background thread, so the state is the same as when the batches arrive through
     * the training callbacks in this order; the next {@code onEpochEnd} ranks and publishes as usual.
     * A failure is recorded like any other (training goes on).
     *
     * @param indices  the rows' stable example indices, in [0, numExamples)
     * @param logits   row-major {@code [rows x classes]} output-layer pre-activations
     * @param labels   each row's given label
     * @param features the rows' features, for the candidate-feature cache; null when not at hand
     *                 (suspects' images then come from the {@code exampleSource}, else are marked missing)
     * @param epoch    the 0-based epoch of the observation
     */
    public void observeBatch(long[] indices, double[] logits, int[] labels, INDArray features, int epoch) {
        Objects.requireNonNull(indices, "indices");
        Objects.requireNonNull(logits, "logits");
        Objects.requireNonNull(labels, "labels");
        drain();
        if (identity.disabled()) {
            return;
        }
        guard("remote-batch", () -> {
            INDArray feats = features == null ? null : features.dup();
            worker().submit(() -> {
                observe(indices, logits, labels, feats, epoch);
                return null;
            });
        });
    }

    /** Updates the state with one batch's logits and caches candidate features; times itself. */
    private void observe(long[] idx, double[] z, int[] labels, INDArray features, int epoch) {
        long t0 = System.nanoTime();
        dynamics.observe(idx, z, labels, epoch);
        if (features != null) {
            cache.shapeFrom(features);
            cache.offer(idx, features);
        }
        long dt = System.nanoTime() - t0;
        captureNanosEpoch += dt;
        captureNanosTotal += dt;
        batchesEpoch++;
    }

    /** As {@link #observe(long[], double[], int[], INDArray, int)} with the features read into a Java array. */
    private void observe(long[] idx, double[] z, int[] labels, float[] features, int epoch) {
        long t0 = System.nanoTime();
        dynamics.observe(idx, z, labels, epoch);
        cache.offer(idx, features);
        long dt = System.nanoTime() - t0;
        captureNanosEpoch += dt;
        captureNanosTotal += dt;
        batchesEpoch++;
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        int epoch = currentEpoch();
        long iteration = currentIteration();
        drain();
        if (identity.disabled()) {
            return;
        }
        guard("epoch-end", () -> worker().submit(() -> {
            long t0 = System.nanoTime();
            Suspects r = buildRecordNow();
            SuspectTable t = publishTableEveryEpoch ? records.table(epoch) : null;
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
    public Suspects buildRecord() {
        flush();
        return buildRecordNow();
    }

    /** The record from the current state; then sets the feature cache's admission rule for the next epoch. */
    private Suspects buildRecordNow() {
        double scale = dynamics.combinedScale();
        double[] combined = records.combined(scale);
        Suspects r = records.record(combined, cache, captureNanosEpoch / 1e6, batchesEpoch);
        cache.admitFrom(scale, combined);
        return r;
    }

    /** The full per-example table at this moment, after {@link #flush()} (not published). */
    public SuspectTable table() {
        flush();
        return records.table(currentEpoch());
    }

    /** Publishes the full table now as static info (replacing the stored one); returns it. */
    public SuspectTable publishTable() {
        SuspectTable t = table();
        publishStatic(t);
        return t;
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
            if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
                throw new IllegalArgumentException("TrainingDynamicsListener supports MultiLayerNetwork and "
                        + "ComputationGraph; got " + model.getClass().getSimpleName());
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
            Layer out;
            if (model instanceof ComputationGraph g) {
                if (g.getLayers() == null || g.getLayers().length == 0) {
                    throw new IllegalArgumentException("The network is not initialised: call net.init() first");
                }
                var conf = g.getConfiguration();
                if (conf.getNetworkOutputs().size() != 1) {
                    throw new IllegalArgumentException("TrainingDynamicsListener on a ComputationGraph needs one output; "
                            + "this graph has outputs " + conf.getNetworkOutputs());
                }
                if (conf.getNetworkInputs().size() > 1 && capture == Capture.INFERENCE_COPY) {
                    throw new IllegalArgumentException("TrainingDynamicsListener: capture INFERENCE_COPY takes one input "
                            + "array; this graph has inputs " + conf.getNetworkInputs() + ". Valid captures for it: "
                            + List.of(Capture.TRAIN_PASS));
                }
                String outName = conf.getNetworkOutputs().get(0);
                var in = conf.getVertexInputs().get(outName);
                if (!g.getVertex(outName).hasLayer() || in == null || in.size() != 1) {
                    throw new IllegalArgumentException("TrainingDynamicsListener needs the graph's output vertex '"
                            + outName + "' to be an output layer with one input vertex");
                }
                out = g.getVertex(outName).getLayer();
            } else {
                MultiLayerNetwork mln = (MultiLayerNetwork) model;
                if (mln.getLayers() == null || mln.getLayers().length == 0) {
                    throw new IllegalArgumentException("The network is not initialised: call net.init() first");
                }
                out = mln.getLayer(mln.getnLayers() - 1);
            }
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
