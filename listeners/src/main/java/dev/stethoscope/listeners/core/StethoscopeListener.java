package dev.stethoscope.listeners.core;

import dev.stethoscope.listeners.records.MonitorErrorRecord;
import dev.stethoscope.listeners.records.RunInfoRecord;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.model.LayerSelection;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
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
 * logged through SLF4J, published as a {@link MonitorErrorRecord} (shown on the
 * Stethoscope page) and training goes on, unless the listener was built with
 * {@code failFast(true)}, in which case it is rethrown and stops training.
 *
 * <p>A monitor only reads the training network. Analyses that need forward or
 * backward passes run on a {@link dev.stethoscope.probes.model.NetworkCopy}.
 */
public abstract class StethoscopeListener extends BaseTrainingListener {
    private static final Logger log = LoggerFactory.getLogger(StethoscopeListener.class);

    static {
        // analyses run ND4J ops and LAPACK outside workspaces while other threads allocate: ND4J's own
        // CpuLapack and op executioner let garbage collection free buffers still in use (docs/reliability.md)
        dev.stethoscope.probes.linalg.NativeSafety.install();
    }

    private final Model model;
    private final StatsStorageRouter router;
    private final String sessionId;
    private final String workerId;
    private final boolean failFast;
    private final Set<String> loggedFaults = new HashSet<>();
    private volatile int errorCount;
    private final Set<String> announcedTypes = java.util.concurrent.ConcurrentHashMap.newKeySet();

    protected StethoscopeListener(Builder<?, ?> b) {
        this.model = Objects.requireNonNull(b.model, "model");
        this.router = Objects.requireNonNull(b.router,
                "router: pass the StatsStorage (InMemoryStatsStorage, FileStatsStorage) or RemoteUIStatsStorageRouter records go to");
        this.sessionId = b.sessionId != null ? b.sessionId : Sessions.idFor(model);
        this.workerId = b.workerId != null ? b.workerId : "0";
        this.failFast = b.failFast;
    }

    /** A short name of this monitor, used in logs, error records and the UI. */
    public abstract String monitorName();

    /** This monitor's settings, published once in its {@link RunInfoRecord}. */
    protected abstract Map<String, String> settings();

    /** The model this listener was built for. */
    public Model model() {
        return model;
    }

    public String sessionId() {
        return sessionId;
    }

    public String workerId() {
        return workerId;
    }

    public boolean failFast() {
        return failFast;
    }

    /** Number of exceptions this monitor caught (and published) so far. */
    public int errorCount() {
        return errorCount;
    }

    /**
     * Runs {@code body}; an exception is logged and published as an error record,
     * and swallowed unless fail-fast is set.
     */
    protected final void guard(String phase, ThrowingRunnable body) {
        try {
            body.run();
        } catch (Exception | AssertionError e) {
            errorCount++;
            String key = phase + ":" + e.getClass().getName();
            if (loggedFaults.add(key)) {
                log.warn("Stethoscope monitor '{}' failed in {} (training goes on{}): {}", monitorName(), phase,
                        failFast ? "; fail-fast is set, so it stops" : "", e.toString(), e);
            } else {
                log.debug("Stethoscope monitor '{}' failed again in {}: {}", monitorName(), phase, e.toString());
            }
            try {
                publish(new MonitorErrorRecord(monitorName(), phase, e), currentEpoch(), currentIteration());
            } catch (RuntimeException publishFailure) {
                log.error("Could not publish the error record of monitor '{}'", monitorName(), publishFailure);
            }
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

    /** Publishes an update record, stamped with this session, worker, a unique timestamp and the position. */
    protected final void publish(StethoscopeRecord r, int epoch, long iteration) {
        announce(r.getTypeID());
        stamp(r, epoch, iteration);
        router.putUpdate(r);
    }

    /** Publishes records in one call to the router. */
    protected final void publishAll(List<? extends StethoscopeRecord> records, int epoch, long iteration) {
        List<StethoscopeRecord> out = new ArrayList<>(records.size());
        for (StethoscopeRecord r : records) {
            announce(r.getTypeID());
            stamp(r, epoch, iteration);
            out.add(r);
        }
        router.putUpdate(out);
    }

    /** Publishes a static-info record (once per session, type and worker). */
    protected final void publishStatic(StethoscopeRecord r) {
        stamp(r, currentEpoch(), currentIteration());
        router.putStaticInfo(r);
    }

    private void stamp(StethoscopeRecord r, int epoch, long iteration) {
        r.setKey(sessionId, workerId + "/" + monitorName(), Timestamps.next(), epoch, iteration);
    }

    /** Publishes the static info DL4J's storage needs before the first update of {@code typeId}. */
    private void announce(String typeId) {
        if (announcedTypes.add(typeId)) {
            publishStatic(runInfo(typeId));
        }
    }

    private RunInfoRecord runInfo(String typeId) {
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
        return new RunInfoRecord(typeId, monitorName(), model.getClass().getSimpleName(), model.numParams(),
                names, types, settings());
    }

    /** The model's current epoch count (0-based, as DL4J counts). */
    protected int currentEpoch() {
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
        if (model instanceof MultiLayerNetwork mln) {
            mln.addListeners(this);
        } else if (model instanceof ComputationGraph cg) {
            cg.addListeners(this);
        } else {
            model.addListeners(this);
        }
        return this;
    }

    /** A body that may throw. */
    @FunctionalInterface
    public interface ThrowingRunnable {
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

        protected Builder(Model model, StatsStorageRouter router) {
            this.model = Objects.requireNonNull(model, "model");
            this.router = Objects.requireNonNull(router, "router");
            if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
                throw new IllegalArgumentException("Unsupported model type " + model.getClass().getName()
                        + ": Stethoscope supports MultiLayerNetwork and ComputationGraph");
            }
        }

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
