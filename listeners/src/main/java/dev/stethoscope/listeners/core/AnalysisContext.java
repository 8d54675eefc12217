package dev.stethoscope.listeners.core;

import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the monitors attached together (by {@code Stethoscope.attach}) share at an analysis point:
 * one copy of the parameters, one network copy, one analysis thread, and one forward pass of
 * each probe set.
 *
 * <p><b>Threads.</b> {@link #snapshot()} runs on the training thread: it copies the training
 * network's parameters ({@code params().dup()}, detached, outside any workspace) once per training
 * iteration, so monitors due at the same callback (for example probes, similarity, memorisation
 * and health at an epoch end) get the same {@link Snapshot}. The first call also makes the network
 * copy (reading the training network off its thread while {@code fit} runs would block). Every
 * other method runs on the context's one analysis thread ({@link #executor()}; with
 * {@code async = false}, on the training thread inside the callbacks): the network copy is never
 * used from two threads at once, and the activation cache is touched by that thread only. Arrays
 * cross threads only as the detached parameter copies.
 *
 * <p><b>Network copy.</b> For a MultiLayerNetwork or a ComputationGraph it is {@link InputGradients#analysisCopy}
 * (dropout and weight noise removed, no training workspaces), which the memorisation monitor's
 * input gradients need and which gives the same inference-mode activations as a plain copy
 * (inference passes never apply dropout). {@link #load} sets a snapshot's parameters only when
 * another snapshot is loaded.
 *
 * <p><b>Activation cache and its memory bound.</b> {@link #activations} computes the activations
 * of a {@link ProbeSet} at the requested layers once per snapshot; a second monitor asking for the
 * same probe set (same contents) and layers gets the cached arrays, and a {@link ProbeSet#head head}
 * of a cached probe set is served as row views of it. The whole cache is dropped when a task
 * loads another snapshot, when a task loads the copy for passes of its own ({@link #load}), and at
 * the end of each analysis point ({@link #endOfPoint()}, which the {@code Stethoscope} handle calls
 * after every monitor's callbacks of an iteration or epoch end): it holds at most, while the current
 * snapshot's tasks run, m x (sum of the requested layers' activation sizes) floats per probe set (m its
 * examples), and nothing between analysis points. Example: MNIST MLP
 * 784-512-10, two probe halves of 1000 examples: 2 x 1000 x (512 + 10) x 4 B = 4.2 MB; LeNet
 * (20x24x24, 20x12x12, 50x8x8, 50x4x4, 500, 10 per example): about 80 MB per 1000 examples.
 * Callers must treat cached arrays as read-only.
 *
 * <p>A monitor built alone (without a context) keeps its own copy and thread, as before.
 */
public final class AnalysisContext implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AnalysisContext.class);
    private static final AtomicLong THREADS = new AtomicLong();

    private final Model model;
    private final boolean async;
    private final Duration timeout;
    private final ExecutorService executor;
    private final AtomicLong snapshots = new AtomicLong();

    // training thread only
    private Snapshot last;
    private long lastIteration = Long.MIN_VALUE;
    private int lastEpoch = Integer.MIN_VALUE;
    private volatile NetworkCopy copy;

    // analysis thread only
    private long loadedSnapshot = -1;
    private long cachedSnapshot = -1;
    private final Map<String, Map<String, INDArray>> cache = new HashMap<>();
    private final Map<String, java.util.Set<String>> declared = new java.util.concurrent.ConcurrentHashMap<>();
    private long forwardPasses;
    private long cacheHits;
    private long releases;
    // training thread only: the last snapshot whose end of point was handed to the analysis thread
    private long endedSnapshot = -1;
    /** The native-memory watch held while the context is open ({@link dev.stethoscope.probes.linalg.NativeMemory#watch()}). */
    private final AutoCloseable memoryWatch;

    /**
     * @param model   the training network (MultiLayerNetwork or ComputationGraph)
     * @param async   analyses on the context's background thread (true) or inside the callbacks
     * @param timeout bound of the waits of the workers using this context
     */
    public AnalysisContext(Model model, boolean async, Duration timeout) {
        this.model = Objects.requireNonNull(model, "model");
        if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
            throw new IllegalArgumentException("Unsupported model type " + model.getClass().getName()
                    + ": Stethoscope supports MultiLayerNetwork and ComputationGraph");
        }
        this.async = async;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        String name = "stethoscope-analysis-" + THREADS.incrementAndGet();
        this.executor = async ? Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        }) : null;
        // the resident-memory bound holds inside analysis steps too, not only between them
        this.memoryWatch = dev.stethoscope.probes.linalg.NativeMemory.watch();
    }

    /** The model the context was made for. */
    public Model model() {
        return model;
    }

    /** Whether the analyses run on the context's background thread. */
    public boolean async() {
        return async;
    }

    /** The bound of every wait of the workers that use this context. */
    public Duration timeout() {
        return timeout;
    }

    /** The one analysis thread (null when not async). */
    public ExecutorService executor() {
        return executor;
    }

    /**
     * A worker for one monitor: its own bound on pending tasks and its own result queue, its tasks
     * run on the context's thread.
     */
    public BackgroundWorker newWorker(String name, int maxPending) {
        return new BackgroundWorker(name, async, maxPending, timeout, executor);
    }

    /** The parameters of the training network at one moment, shared by the monitors due then. */
    public record Snapshot(long id, int epoch, long iteration, INDArray params) {
    }

    /**
     * The current parameters (training thread): one detached copy per training iteration, shared
     * by every monitor that asks at the same point. The first call also makes the network copy.
     */
    public synchronized Snapshot snapshot() {
        long it = iterationOf(model);
        int ep = epochOf(model);
        if (last != null && it == lastIteration && ep == lastEpoch) {
            return last;
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (copy == null) {
                copy = InputGradients.analysisCopy(model); // MultiLayerNetwork or ComputationGraph
            }
            INDArray p = model.params().dup().detach();
            last = new Snapshot(snapshots.incrementAndGet(), ep, it, p);
            lastIteration = it;
            lastEpoch = ep;
            return last;
        }
    }

    /**
     * The shared network copy loaded with {@code s}'s parameters, for a task that runs its own passes
     * through it (analysis thread; the memorisation monitor's input gradients and loss sensitivity).
     * Such a task does not read the probe-set activations, and the presets attach the monitors that do
     * (health, probes, similarity) before it, so their tasks of the same point have run: the activation
     * cache is dropped here rather than held through the task (on LeNet with 2000 probe examples its arrays
     * take about 160 MB; measured effect: docs/overhead.md, 2026-12-07 s5). A later request for the same
     * snapshot computes the same activations again (one more forward pass, same values).
     */
    public NetworkCopy load(Snapshot s) {
        NetworkCopy c = loadCopy(s);
        if (!cache.isEmpty()) {
            cache.clear();
            releases++;
        }
        return c;
    }

    /** The shared network copy loaded with {@code s}'s parameters; drops the cache if it holds another snapshot. */
    private NetworkCopy loadCopy(Snapshot s) {
        NetworkCopy c = copy;
        if (c == null) {
            throw new IllegalStateException("No snapshot was taken yet: call snapshot() on the training thread first");
        }
        if (loadedSnapshot != s.id()) {
            c.model().setParams(s.params());
            loadedSnapshot = s.id();
        }
        if (cachedSnapshot != s.id()) {
            cache.clear();
            cachedSnapshot = s.id();
        }
        return c;
    }

    /**
     * Activations of {@code probe} at {@code layers} (inference mode) under snapshot {@code s}
     * (analysis thread): computed once per snapshot, probe set and layer, then served from the
     * cache (read-only arrays).
     */
    public Map<String, INDArray> activations(Snapshot s, ProbeSet probe, List<String> layers, int batchSize) {
        loadCopy(s);
        Map<String, INDArray> have = cache.computeIfAbsent(probe.key(), k -> new HashMap<>());
        List<String> missing = new ArrayList<>();
        for (String l : layers) {
            if (!have.containsKey(l)) {
                missing.add(l);
            }
        }
        if (!missing.isEmpty()) {
            ProbeSet parent = probe.parent();
            if (parent != null && (declared.containsKey(parent.key()) || cache.containsKey(parent.key()))) {
                // a head of a probe set other monitors read too: one pass over the whole set, sliced
                Map<String, INDArray> whole = activations(s, parent, missing, batchSize);
                for (String l : missing) {
                    have.put(l, whole.get(l).get(NDArrayIndex.interval(0, probe.size())));
                }
            } else {
                // the layers asked for and the layers other monitors declared for this probe set, in one pass
                java.util.LinkedHashSet<String> want = new java.util.LinkedHashSet<>(missing);
                for (String l : declared.getOrDefault(probe.key(), java.util.Set.of())) {
                    if (!have.containsKey(l)) {
                        want.add(l);
                    }
                }
                try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    have.putAll(LayerRepresentations.activations(copy.model(), probe.inputs(), new ArrayList<>(want),
                            batchSize));
                }
                forwardPasses++;
            }
        }
        if (missing.size() < layers.size()) {
            cacheHits++;
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String l : layers) {
            out.put(l, have.get(l));
        }
        return out;
    }

    /**
     * Declares that a monitor will ask for {@code layers} of {@code probe} at its analysis points
     * (call it when the monitor is built), so that the first request of a snapshot computes them
     * for every monitor in one pass. A {@link ProbeSet#head head} is served from its parent set's
     * pass when some monitor declared (or already computed) the parent, else computed alone.
     */
    public void declare(ProbeSet probe, List<String> layers) {
        declared.computeIfAbsent(probe.key(), k -> java.util.concurrent.ConcurrentHashMap.newKeySet()).addAll(layers);
    }

    /**
     * Ends the current analysis point (training thread, after every monitor's callbacks of an iteration
     * or of an epoch end): when a snapshot was taken since the last call, queues behind that snapshot's
     * tasks a release that drops the activation cache (if it still holds that snapshot's activations) and,
     * on the analysis thread, destroys the ND4J workspaces that thread's inference passes left allocated.
     * What the analyses compute is unchanged (a later request for the same snapshot computes the same
     * activations again); between analysis points the cache then holds nothing (measured on LeNet:
     * docs/overhead.md, 2026-12-07 s5). Without an analysis thread ({@code async = false}) the release runs
     * here, on the training thread, and leaves the workspaces alone (they are the training's). A no-op
     * after {@link #close()}. The {@code Stethoscope} handle calls it through {@link #pointEndListener()}.
     */
    public void endOfPoint() {
        Snapshot s;
        synchronized (this) {
            s = last;
            if (s == null || s.id() == endedSnapshot) {
                return;
            }
            endedSnapshot = s.id();
        }
        long id = s.id();
        if (executor == null) {
            releaseCache(id);
            return;
        }
        try {
            executor.execute(() -> {
                releaseCache(id);
                try {
                    Nd4j.getWorkspaceManager().destroyAllWorkspacesForCurrentThread();
                } catch (RuntimeException e) {
                    log.debug("Destroying the analysis thread's workspaces failed: {}", e.toString());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closed: close() drops the cache itself
        }
    }

    /** Analysis thread (or the training thread without one): drops the cache if it holds snapshot {@code id}. */
    private void releaseCache(long id) {
        if (cachedSnapshot == id) {
            cache.clear();
            cachedSnapshot = -1;
            releases++;
        }
    }

    /**
     * A training listener that calls {@link #endOfPoint()} at every {@code iterationDone} and
     * {@code onEpochEnd}; attach it after the monitors that use this context, so that it runs after their
     * callbacks of the same event (DL4J calls listeners in the order they were added).
     */
    public org.deeplearning4j.optimize.api.TrainingListener pointEndListener() {
        return new PointEnd(this);
    }

    /** See {@link #pointEndListener()}; serialisable (Spark) with the context left behind. */
    private static final class PointEnd extends org.deeplearning4j.optimize.api.BaseTrainingListener
            implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        private final transient AnalysisContext ctx;

        PointEnd(AnalysisContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            if (ctx != null) {
                ctx.endOfPoint();
            }
        }

        @Override
        public void onEpochEnd(Model model) {
            if (ctx != null) {
                ctx.endOfPoint();
            }
        }
    }

    /**
     * Activation caches dropped before the next snapshot so far, by {@link #endOfPoint()} or by a task's
     * {@link #load} (analysis thread; for tests and logs).
     */
    public long releases() {
        return releases;
    }

    /** Whether the activation cache holds anything now (analysis thread; for tests and logs). */
    public boolean cacheEmpty() {
        return cache.isEmpty();
    }

    /** Forward passes over probe sets run so far (analysis thread; for tests and logs). */
    public long forwardPasses() {
        return forwardPasses;
    }

    /** Requests served at least partly from the activation cache (analysis thread; for tests and logs). */
    public long cacheHits() {
        return cacheHits;
    }

    /**
     * A fixed set of probe inputs with a key derived from its shape and contents, so that monitors
     * given equal probe inputs share one forward pass; {@link #head} is its first rows, served from
     * the parent's cached activations when those exist.
     */
    public record ProbeSet(String key, ProbeSet parent, INDArray inputs) {
        /** A probe set of {@code inputs} (copied, detached); its key is a digest of shape and contents. */
        public static ProbeSet of(INDArray inputs) {
            Objects.requireNonNull(inputs, "inputs");
            INDArray x;
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                x = inputs.dup('c').detach();
            }
            return new ProbeSet(digest(x), null, x);
        }

        /** The first {@code n} rows (all if fewer), keyed as a head of this set. */
        public ProbeSet head(long n) {
            if (n >= size()) {
                return this;
            }
            INDArray h;
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                h = inputs.get(NDArrayIndex.interval(0, n)).dup('c').detach();
            }
            return new ProbeSet(key + "#head" + n, this, h);
        }

        /** Number of examples. */
        public long size() {
            return inputs.size(0);
        }

        private static String digest(INDArray x) {
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                md.update(java.util.Arrays.toString(x.shape()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update(x.dataType().name().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                ByteBuffer b = x.data().asNio();
                ByteBuffer view = b.duplicate();
                view.position(0);
                long bytes = x.length() * x.dataType().width();
                view.limit((int) Math.min(view.capacity(), bytes));
                md.update(view);
                return HexFormat.of().formatHex(md.digest(), 0, 12);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * Stops the analysis thread after its pending tasks (waits up to a minute), then releases the
     * network copy, the last parameter snapshot and the activation cache. Idempotent.
     */
    @Override
    public void close() {
        try {
            memoryWatch.close();
        } catch (Exception e) {
            log.debug("Stopping the native-memory watch failed: {}", e.toString());
        }
        if (executor != null && !executor.isShutdown()) {
            executor.shutdown();
            try {
                if (!executor.awaitTermination(Math.max(1, Math.min(60, timeout.toSeconds())), TimeUnit.SECONDS)) {
                    log.warn("Stethoscope analysis thread still running a minute after close; left to finish as a daemon");
                    return; // its task may still use the copy and the cache
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        synchronized (this) {
            last = null;
            copy = null;
        }
        cache.clear();
    }

    private static long iterationOf(Model m) {
        return m instanceof MultiLayerNetwork mln ? mln.getIterationCount() : ((ComputationGraph) m).getIterationCount();
    }

    private static int epochOf(Model m) {
        return m instanceof MultiLayerNetwork mln ? mln.getEpochCount() : ((ComputationGraph) m).getEpochCount();
    }
}
