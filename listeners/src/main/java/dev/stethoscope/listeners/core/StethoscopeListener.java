package dev.stethoscope.listeners.core;

import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.RunInfo;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.linalg.BackendSelfTest;
import dev.stethoscope.probes.linalg.LinearAlgebraBackendException;
import dev.stethoscope.probes.model.LayerSelection;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.core.storage.listener.RoutingIterationListener;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Base class of Stethoscope's training listeners.
 *
 * <p>It holds what every monitor shares: the model it is attached to, the
 * {@link StatsStorageRouter} records go to, the session and worker ids, and the
 * fault policy. Subclasses do their work inside {@link #guard}: an exception is
 * logged through SLF4J, published as a {@link MonitorError} (shown on the
 * Stethoscope page) and training goes on, unless the listener was built with
 * {@code failFast(true)}, in which case it is rethrown and stops training.
 *
 * <p><b>What is caught.</b> Every {@link Throwable} raised by a monitor's analysis is caught
 * (exceptions, {@link AssertionError}, {@link LinkageError}, any other {@link Error} a library
 * throws), except {@link VirtualMachineError} ({@link OutOfMemoryError},
 * {@link StackOverflowError}, {@link InternalError}) and {@link ThreadDeath}: after those the JVM
 * may be unable to go on, and hiding them would turn a dying process into a silent hang or a
 * half-working run; they are logged and rethrown whatever the fail-fast setting. An
 * {@link InterruptedException} is recorded and the thread's interrupt flag restored.
 *
 * <p><b>Rate limit.</b> The same failure (same phase and exception class) is logged at WARN and
 * published the first time, and then again only at its 2nd, 4th, 8th, 16th, ... occurrence, each
 * record carrying the number of occurrences so far ({@link MonitorError#count()}): a
 * monitor failing at every iteration writes a logarithmic, not linear, number of records.
 * {@link #errorCount()} counts every occurrence.
 *
 * <p><b>Testing.</b> {@link #setFaultHook} installs a hook run at the start of every guarded
 * analysis step (training thread) and, for {@link BackgroundListener}s, of every background
 * task: fault-injection tests throw from it to check that training survives.
 *
 * <p>A monitor only reads the training network. Analyses that need forward or
 * backward passes run on a {@link dev.stethoscope.probes.model.NetworkCopy}.
 *
 * <p><b>The model of each callback.</b> A listener works on the model DL4J passes to each
 * callback ({@link #bind}), not only on the one given to the builder: {@link #model()} is the model
 * of the latest callback (the builder's until the first one), and network copies follow it. So
 * one listener can be attached to another network of the same architecture (DL4J's
 * {@code ParallelWrapper} replicas, the fresh network a Spark worker builds each round), and the
 * builder's network is only used by {@code build()} to validate the configuration (unknown layer,
 * wrong shape). Monitors sharing an {@link AnalysisContext} ({@code Stethoscope.attach}) take
 * their parameter snapshots from the context's network, the one the handle attached them to.
 *
 * <p><b>Serializable.</b> Listeners travel (DL4J's Spark training serialises them to every task).
 * What is serialised: the configuration and the analysis state (probe sets, accumulated scores,
 * kept snapshots). What is not ({@code transient}), and is rebuilt lazily on first use after
 * deserialisation: the model (the next callback binds one), the {@link StatsStorageRouter}, the
 * background thread, network copies, caches, the shared {@link AnalysisContext} (a deserialised
 * monitor runs alone, with its own copy and thread) and the {@link #setFaultHook fault hook}. Serialise
 * a listener when it is idle (before {@code fit}, or after {@link #close()}). A deserialised
 * listener publishes nothing until it has a router: it implements DL4J's
 * {@link RoutingIterationListener}, so DL4J hands it one on a Spark worker
 * ({@link #setStorageRouter}); elsewhere call {@code setStorageRouter} yourself. {@link #clone()}
 * is a serialisation round trip that keeps this listener's router.
 */
public abstract class StethoscopeListener extends BaseTrainingListener
        implements AutoCloseable, RoutingIterationListener, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(StethoscopeListener.class);

    static {
        // analyses run ND4J ops and LAPACK outside workspaces while other threads allocate: ND4J's own
        // CpuLapack and op executioner let garbage collection free buffers still in use (docs/reliability.md)
        dev.stethoscope.probes.linalg.NativeSafety.install();
    }

    /** The model of the latest callback (the builder's until the first one); not serialised. */
    private transient volatile Model model;
    /** Where records go; not serialised (DL4J sets it on a worker through {@link #setStorageRouter}). */
    private transient volatile StatsStorageRouter router;
    private volatile String sessionId;
    private volatile String workerId;
    private final boolean failFast;
    /** Shared with the monitors attached together; not serialised (a deserialised monitor runs alone). */
    private final transient AnalysisContext context;
    private final Map<String, Integer> faultCounts = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger errorCount = new java.util.concurrent.atomic.AtomicInteger();
    private transient volatile FaultHook faultHook;
    private transient volatile boolean backendChecked;
    /** Record types whose static info went to the current router (announced again to a new router). */
    private transient volatile Set<String> announcedTypes = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Takes the model, router, session and worker ids, fault policy and schedule from {@code b}; a subclass's
     * {@code build()} calls it after checking its own configuration.
     */
    protected StethoscopeListener(Builder<?, ?> b) {
        this.model = Objects.requireNonNull(b.model, "model");
        this.router = Objects.requireNonNull(b.router,
                "router: pass the StatsStorage (InMemoryStatsStorage, FileStatsStorage) or RemoteUIStatsStorageRouter records go to");
        this.sessionId = b.sessionId != null ? b.sessionId : Sessions.idFor(model);
        this.workerId = b.workerId != null ? b.workerId : "0";
        this.failFast = b.failFast;
        this.context = b.context;
        if (context != null && context.model() != model) {
            throw new IllegalArgumentException("The analysis context belongs to another model");
        }
    }

    /**
     * The analysis context shared with the other monitors attached together by
     * {@code Stethoscope.attach}, or null for a monitor built alone (its own copy and thread).
     */
    protected final AnalysisContext context() {
        return context;
    }

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        announcedTypes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    }

    /**
     * Makes {@code callbackModel} (the model DL4J passed to the running callback) the model this
     * listener works on from now on; returns it. Every callback of a Stethoscope listener calls it
     * first, so analyses, network copies, the epoch and iteration counts and the records' run info
     * follow the network being trained, whichever it is. A null argument keeps the current model.
     */
    protected final Model bind(Model callbackModel) {
        if (callbackModel != null && callbackModel != model) {
            model = callbackModel;
        }
        return model;
    }

    /** A short name of this monitor, used in logs, error records and the UI. */
    public abstract String monitorName();

    /** This monitor's settings, published once in its {@link RunInfo}. */
    protected abstract Map<String, String> settings();

    /**
     * The model of the latest callback ({@link #bind}); before the first callback, the model given
     * to the builder; null for a deserialised listener before its first callback.
     */
    public Model model() {
        return model;
    }

    /** {@link #model()}, or a clear error when there is none yet (a deserialised listener before any callback). */
    protected final Model requireModel() {
        Model m = model;
        if (m == null) {
            throw new IllegalStateException("Monitor '" + monitorName() + "' has no model yet: a deserialised "
                    + "listener gets one from its first training callback (attach it to a network and fit)");
        }
        return m;
    }

    /** The session id of this listener's records (see {@link Builder#sessionId}). */
    public String sessionId() {
        return sessionId;
    }

    /** The worker id of this listener's records: "0" in one JVM unless set, DL4J's worker id on a Spark worker. */
    public String workerId() {
        return workerId;
    }

    /**
     * Sets the router records go to (DL4J calls it on a Spark worker; call it after deserialising
     * a listener). The record types' static info is published again to the new router.
     */
    @Override
    public void setStorageRouter(StatsStorageRouter router) {
        this.router = router;
        this.announcedTypes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    }

    /** The router records go to; null for a deserialised listener until {@link #setStorageRouter}. */
    @Override
    public StatsStorageRouter getStorageRouter() {
        return router;
    }

    /** Sets the worker id of the records (DL4J calls it on a Spark worker). */
    @Override
    public void setWorkerID(String workerID) {
        this.workerId = Objects.requireNonNull(workerID, "workerID");
    }

    @Override
    public String getWorkerID() {
        return workerId;
    }

    /** Sets the session id of the records. */
    @Override
    public void setSessionID(String sessionID) {
        this.sessionId = Objects.requireNonNull(sessionID, "sessionID");
    }

    @Override
    public String getSessionID() {
        return sessionId;
    }

    /**
     * A deep copy made by a serialisation round trip (configuration and analysis state; no
     * model, thread, copy or fault hook, see the class comment), publishing to this listener's
     * router. DL4J's {@code ParallelWrapper} clones routing listeners for its worker threads.
     */
    @Override
    public StethoscopeListener clone() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(this);
            }
            StethoscopeListener c;
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                c = (StethoscopeListener) in.readObject();
            }
            c.setStorageRouter(router);
            return c;
        } catch (IOException e) {
            throw new UncheckedIOException("Could not clone monitor '" + monitorName() + "' by serialisation", e);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether a failure inside this monitor stops training ({@link Builder#failFast}) instead of being recorded. */
    public boolean failFast() {
        return failFast;
    }

    /** Number of exceptions this monitor caught (and published) so far. */
    public int errorCount() {
        return errorCount.get();
    }

    /**
     * A hook for fault-injection tests: called with this monitor's name, the phase and whether it
     * runs on a background thread, at the start of every guarded step (and every background task
     * of a {@link BackgroundListener}). Whatever it throws goes through the fault policy as if the
     * analysis had thrown it.
     */
    @FunctionalInterface
    public interface FaultHook {
        /** Called before the step {@code phase} of {@code monitor} (on a background thread when {@code background}). */
        void beforeStep(String monitor, String phase, boolean background) throws Exception;
    }

    /**
     * Installs (or, with null, removes) a {@link FaultHook}. Meant for tests that check that a
     * failing analysis never stops or changes training; not for production use.
     */
    public void setFaultHook(FaultHook hook) {
        this.faultHook = hook;
    }

    /** The installed fault hook, or null. */
    protected final FaultHook faultHook() {
        return faultHook;
    }

    /**
     * Runs {@code body}; a failure is logged and published as an error record (rate limited),
     * and swallowed unless fail-fast is set. {@link VirtualMachineError} and {@link ThreadDeath}
     * are logged and always rethrown (see the class comment).
     */
    protected final void guard(String phase, ThrowingRunnable body) {
        if (!backendChecked && usesDoublePrecisionLinearAlgebra()) {
            checkLinearAlgebraBackend();
        }
        try {
            FaultHook hook = faultHook;
            if (hook != null) {
                hook.beforeStep(monitorName(), phase, false);
            }
            body.run();
        } catch (VirtualMachineError | ThreadDeath fatal) {
            try {
                log.error("Stethoscope monitor '{}' hit {} in {}: not recoverable, rethrown", monitorName(),
                        fatal.getClass().getName(), phase);
            } catch (Throwable ignored) {
                // logging may itself fail when memory is exhausted
            }
            throw fatal;
        } catch (Throwable e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            recordFailure(phase, e);
            if (failFast) {
                if (e instanceof RuntimeException re) {
                    throw re;
                }
                if (e instanceof Error err) {
                    throw err;
                }
                throw new MonitorFailedException(monitorName(), phase, e);
            }
        }
    }

    /** Counts, logs and (rate limited) publishes a failure; never throws. */
    private void recordFailure(String phase, Throwable e) {
        errorCount.incrementAndGet();
        String key = phase + ":" + e.getClass().getName();
        int n = faultCounts.merge(key, 1, Integer::sum);
        boolean report = Integer.bitCount(n) == 1; // 1, 2, 4, 8, ...
        if (n == 1) {
            log.warn("Stethoscope monitor '{}' failed in {} (training goes on{}): {}", monitorName(), phase,
                    failFast ? "; fail-fast is set, so it stops" : "", e.toString(), e);
        } else if (report) {
            log.warn("Stethoscope monitor '{}' failed in {} again ({} times so far): {}", monitorName(), phase, n,
                    e.toString());
        } else {
            log.debug("Stethoscope monitor '{}' failed again in {}: {}", monitorName(), phase, e.toString());
        }
        if (!report || router == null) {
            return; // without a router (a deserialised listener before setStorageRouter) the log is all there is
        }
        try {
            publish(MonitorError.of(monitorName(), phase, e).withCount(n), currentEpoch(), currentIteration());
        } catch (RuntimeException | LinkageError publishFailure) {
            log.error("Could not publish the error record of monitor '{}'", monitorName(), publishFailure);
        }
    }

    /**
     * Whether this monitor's analyses use double-precision linear algebra (SVD, eigendecompositions,
     * double matrix products). If so, the first {@link #guard} runs {@link BackendSelfTest} (once per
     * JVM) before the analysis; default false.
     */
    protected boolean usesDoublePrecisionLinearAlgebra() {
        return false;
    }

    /**
     * Runs the backend self-test (cached per JVM) and, if it failed, logs an ERROR naming the fix and
     * publishes it once for this listener as a {@link MonitorError} (phase "backend-self-test")
     * on the Monitor errors panel. The analyses then run on the route that passed (see
     * {@link dev.stethoscope.probes.linalg.Decompositions}). Never throws.
     */
    protected final synchronized void checkLinearAlgebraBackend() {
        if (backendChecked) {
            return;
        }
        backendChecked = true;
        try {
            BackendSelfTest.Result r = BackendSelfTest.result();
            if (!r.passed()) {
                log.error("Stethoscope monitor '{}': {}", monitorName(), r.summary());
                publish(MonitorError.of(monitorName(), "backend-self-test", new LinearAlgebraBackendException(r)),
                        currentEpoch(), currentIteration());
            }
        } catch (RuntimeException e) {
            log.error("Stethoscope monitor '{}': the linear-algebra self-test could not run", monitorName(), e);
        }
    }

    /**
     * Publishes an update record of {@code payload} (a registered record type, see
     * {@link dev.stethoscope.listeners.records.RecordTypes}), stamped with this session, worker, a
     * unique timestamp and the position.
     */
    protected final void publish(Record payload, int epoch, long iteration) {
        StethoscopeRecord r = StethoscopeRecord.of(payload);
        StatsStorageRouter router = requireRouter();
        announce(r.getTypeID());
        stamp(r, epoch, iteration);
        synchronized (router) { // one writer at a time per storage (the UI's suspect marks take the same lock)
            router.putUpdate(r);
        }
    }

    /** Publishes update records of {@code payloads} in one call to the router. */
    protected final void publishAll(List<? extends Record> payloads, int epoch, long iteration) {
        StatsStorageRouter router = requireRouter();
        List<StethoscopeRecord> out = new ArrayList<>(payloads.size());
        for (Record p : payloads) {
            StethoscopeRecord r = StethoscopeRecord.of(p);
            announce(r.getTypeID());
            stamp(r, epoch, iteration);
            out.add(r);
        }
        synchronized (router) {
            router.putUpdate(out);
        }
    }

    /** Publishes {@code payload} as static info under its own type id (once per session, type and worker). */
    protected final void publishStatic(Record payload) {
        putStatic(StethoscopeRecord.of(payload));
    }

    private void putStatic(StethoscopeRecord r) {
        StatsStorageRouter router = requireRouter();
        stamp(r, currentEpoch(), currentIteration());
        synchronized (router) {
            router.putStaticInfo(r);
        }
    }

    private StatsStorageRouter requireRouter() {
        StatsStorageRouter r = router;
        if (r == null) {
            throw new IllegalStateException("Monitor '" + monitorName() + "' has no storage router, so its records "
                    + "are dropped: a deserialised listener needs setStorageRouter(statsStorage) (DL4J's Spark "
                    + "training does it on the workers)");
        }
        return r;
    }

    private void stamp(StethoscopeRecord r, int epoch, long iteration) {
        r.setKey(sessionId, workerId + "/" + monitorName(), Timestamps.next(), epoch, iteration);
    }

    /**
     * Publishes the static info DL4J's storage needs before the first update of {@code typeId}
     * (once; publishing does it by itself). A monitor calls it early when the UI should know it is
     * attached before its first record (the assertions monitor: a run without findings is healthy).
     */
    protected final void announce(String typeId) {
        if (announcedTypes.add(typeId)) {
            putStatic(StethoscopeRecord.staticInfo(typeId, runInfo()));
        }
    }

    private RunInfo runInfo() {
        Model model = requireModel();
        List<String> names = LayerSelection.layerNames(model);
        List<String> types = new ArrayList<>();
        if (model instanceof MultiLayerNetwork mln) {
            for (var l : mln.getLayers()) {
                types.add(l.conf().getLayer().getClass().getSimpleName());
            }
        } else if (model instanceof ComputationGraph cg) {
            for (String n : names) {
                types.add(cg.getLayer(n).conf().getLayer().getClass().getSimpleName());
            }
        }
        return new RunInfo(monitorName(), model.getClass().getSimpleName(), model.numParams(),
                names, types, settings());
    }

    /** The model's current epoch count (0-based, as DL4J counts). */
    protected int currentEpoch() {
        Model model = this.model;
        if (model instanceof MultiLayerNetwork mln) {
            return mln.getEpochCount();
        }
        if (model instanceof ComputationGraph cg) {
            return cg.getEpochCount();
        }
        return 0;
    }

    /** The model's current iteration count. */
    protected long currentIteration() {
        Model model = this.model;
        if (model instanceof MultiLayerNetwork mln) {
            return mln.getIterationCount();
        }
        if (model instanceof ComputationGraph cg) {
            return cg.getIterationCount();
        }
        return 0;
    }

    /**
     * Attaches this listener to its model with {@code addListeners} (keeping the
     * listeners already there, DL4J's StatsListener included); returns this.
     */
    public StethoscopeListener attach() {
        Model model = requireModel();
        if (model instanceof MultiLayerNetwork mln) {
            mln.addListeners(this);
        } else if (model instanceof ComputationGraph cg) {
            cg.addListeners(this);
        } else {
            model.addListeners(this);
        }
        return this;
    }

    /**
     * Ends monitoring: runs what is still due (the final analysis of a schedule with
     * {@link Schedule#andLast()}), publishes everything pending and releases threads and copies.
     * Call it after {@code fit} returns (in a {@code finally} block), before closing the storage.
     * Idempotent: closing twice is safe. This base implementation does nothing.
     */
    @Override
    public void close() {
    }

    /** A body that may throw. */
    @FunctionalInterface
    public interface ThrowingRunnable {
        /** Runs the body. */
        void run() throws Exception;
    }

    /**
     * Settings every Stethoscope listener shares. Subclass builders extend it;
     * {@code build()} validates the configuration against the model (unknown
     * layers, wrong shapes) and fails there, before training starts.
     *
     * @param <B> the concrete builder
     * @param <L> the listener it builds
     */
    public abstract static class Builder<B extends Builder<B, L>, L extends StethoscopeListener> {
        protected final Model model;
        protected StatsStorageRouter router;
        protected String sessionId;
        protected String workerId;
        protected boolean failFast;
        /** When the monitor runs; null until set (each listener has its own default). */
        protected Schedule schedule;
        /** The shared analysis context, or null (see {@link #context(AnalysisContext)}). */
        protected AnalysisContext context;

        /**
         * @param model  the network the monitor watches (its configuration is checked in {@code build()})
         * @param router where the records go: a StatsStorage or a RemoteUIStatsStorageRouter
         * @throws IllegalArgumentException for a model that is neither a MultiLayerNetwork nor a ComputationGraph
         */
        protected Builder(Model model, StatsStorageRouter router) {
            this.model = Objects.requireNonNull(model, "model");
            this.router = Objects.requireNonNull(router, "router");
            if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
                throw new IllegalArgumentException("Unsupported model type " + model.getClass().getName()
                        + ": Stethoscope supports MultiLayerNetwork and ComputationGraph");
            }
        }

        /** This builder as its own type, for the fluent setters. */
        @SuppressWarnings("unchecked")
        protected B self() {
            return (B) this;
        }

        /**
         * Session id of the records; default: one id per model, shared by all
         * Stethoscope listeners on it ({@link Sessions#idFor}). Pass DL4J
         * StatsListener's session id to see both in one session.
         */
        public B sessionId(String sessionId) {
            this.sessionId = sessionId;
            return self();
        }

        /** Worker id of the records (default "0"). */
        public B workerId(String workerId) {
            this.workerId = workerId;
            return self();
        }

        /**
         * When the monitor runs ({@link Schedule}); each listener documents its default and which
         * kinds it accepts, and {@code build()} refuses the others with a message.
         */
        public B schedule(Schedule schedule) {
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            return self();
        }

        /**
         * Shares {@code context}'s parameter snapshots, network copy, analysis thread and probe-set
         * activations with the other monitors using it. {@code Stethoscope.attach} sets it; a
         * monitor built without it keeps its own copy and thread.
         */
        public B context(AnalysisContext context) {
            this.context = context;
            return self();
        }

        /** The model this builder was made for. */
        public Model builderModel() {
            return model;
        }

        /**
         * The schedule set with {@link #schedule}, or {@code defaultSchedule} when none was set;
         * for {@code build()}.
         *
         * @throws IllegalArgumentException if its kind is not one of {@code accepted}, naming them
         */
        protected final Schedule scheduleOr(Schedule defaultSchedule, Schedule.Kind... accepted) {
            Schedule s = schedule != null ? schedule : defaultSchedule;
            return checkKind(getClass().getEnclosingClass() != null ? getClass().getEnclosingClass().getSimpleName()
                    : getClass().getSimpleName(), "schedule", s, accepted);
        }

        /**
         * Returns {@code s} if its kind is one of {@code accepted}.
         *
         * @param listener the listener's name, for the message
         * @param setting  the builder setting, for the message
         * @throws IllegalArgumentException naming the accepted kinds otherwise
         */
        protected static Schedule checkKind(String listener, String setting, Schedule s, Schedule.Kind... accepted) {
            Objects.requireNonNull(s, setting);
            for (Schedule.Kind k : accepted) {
                if (s.kind() == k) {
                    return s;
                }
            }
            throw new IllegalArgumentException(listener + " does not accept " + setting + " '" + s + "' (kind "
                    + s.kind() + "); accepted kinds: " + java.util.Arrays.toString(accepted));
        }

        /** If true, an exception inside the monitor stops training (default false: logged, recorded, ignored). */
        public B failFast(boolean failFast) {
            this.failFast = failFast;
            return self();
        }

        /** Validates the configuration and builds the listener (not yet attached). */
        public abstract L build();

        /** Builds the listener and adds it to the model's listeners. */
        @SuppressWarnings("unchecked")
        public L attach() {
            L l = build();
            l.attach();
            return l;
        }
    }
}
