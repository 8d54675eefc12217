package dev.stethoscope.listeners.core;

import dev.stethoscope.probes.linalg.NativeMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where the monitors spend CPU, measured in-process: the CPU time of the calling thread
 * ({@link ThreadMXBean#getCurrentThreadCpuTime()}) around every callback of every monitor attached by
 * {@link dev.stethoscope.listeners.Stethoscope#attach} (the training thread), around every analysis task
 * (the analysis thread) and around every monitor's {@code close()}, plus the pauses of
 * {@link NativeMemory}'s collections. For overhead work (docs/overhead.md): CPU time of one thread is
 * far less sensitive to other processes on the machine than wall time.
 *
 * <p>Off by default; on with the system property {@value #PROPERTY}{@code =true} (read once) or
 * {@link #enable()}. When off, {@link #start()} returns -1 and {@link #add} does nothing, so the cost is
 * one volatile read per callback. When on, each measured step costs two reads of the thread's CPU clock
 * (about a microsecond). Thread-safe.
 */
public final class CpuAccounting {
    private static final Logger log = LoggerFactory.getLogger(CpuAccounting.class);
    /** System property that turns the accounting on. */
    public static final String PROPERTY = "stethoscope.cpuAccounting";
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static volatile boolean enabled = Boolean.getBoolean(PROPERTY) && THREADS.isCurrentThreadCpuTimeSupported();
    private static final Map<String, Entry> ENTRIES = new ConcurrentHashMap<>();

    private CpuAccounting() {
    }

    /** Turns the accounting on (if the JVM measures thread CPU time). */
    public static void enable() {
        enabled = THREADS.isCurrentThreadCpuTimeSupported();
    }

    /** Turns the accounting off (what was measured stays until {@link #reset()}). */
    public static void disable() {
        enabled = false;
    }

    /** Whether steps are being measured. */
    public static boolean enabled() {
        return enabled;
    }

    /** Forgets everything measured so far (for tests). */
    public static void reset() {
        ENTRIES.clear();
    }

    /** The calling thread's CPU time in nanoseconds, or -1 when the accounting is off. */
    public static long start() {
        return enabled ? THREADS.getCurrentThreadCpuTime() : -1;
    }

    /**
     * Adds the calling thread's CPU time since {@code start} to {@code key}.
     *
     * @param key   what ran, e.g. {@code "training thread: Health.iterationDone"}
     * @param start what {@link #start()} returned (nothing is added for -1)
     */
    public static void add(String key, long start) {
        if (start < 0) {
            return;
        }
        long cpu = THREADS.getCurrentThreadCpuTime() - start;
        ENTRIES.computeIfAbsent(key, k -> new Entry()).add(cpu);
    }

    /** Calls and CPU nanoseconds of one key. */
    public record Totals(long calls, long cpuNanos) {
    }

    /** Everything measured so far, by key. */
    public static Map<String, Totals> totals() {
        Map<String, Totals> out = new java.util.TreeMap<>();
        ENTRIES.forEach((k, e) -> out.put(k, new Totals(e.calls.sum(), e.nanos.sum())));
        return out;
    }

    /**
     * A table of what was measured, largest CPU first, with NativeMemory's collections and the JVM's
     * garbage-collection totals at the end.
     */
    public static String report() {
        List<Map.Entry<String, Totals>> rows = new ArrayList<>(totals().entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue().cpuNanos(), a.getValue().cpuNanos()));
        StringBuilder sb = new StringBuilder("Stethoscope CPU accounting (thread CPU time; calls, seconds, ms per call):\n");
        for (Map.Entry<String, Totals> r : rows) {
            Totals t = r.getValue();
            sb.append(String.format(Locale.ROOT, "  %-60s %8d %9.3f s %9.3f ms%n", r.getKey(), t.calls(),
                    t.cpuNanos() / 1e9, t.calls() == 0 ? 0 : t.cpuNanos() / 1e6 / t.calls()));
        }
        sb.append(String.format(Locale.ROOT, "  NativeMemory collections: %d, %.3f s in System.gc() (every thread stopped), "
                        + "%.3f s waiting and trimming (calling thread)%n", NativeMemory.collections(),
                NativeMemory.gcNanos() / 1e9, NativeMemory.trimNanos() / 1e9));
        sb.append("  ").append(gcSummary());
        return sb.toString();
    }

    /** The JVM's garbage collections so far: count and accumulated time per collector. */
    public static String gcSummary() {
        StringBuilder sb = new StringBuilder("JVM collections:");
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            sb.append(String.format(Locale.ROOT, " %s %d (%.3f s);", gc.getName(), gc.getCollectionCount(),
                    gc.getCollectionTime() / 1e3));
        }
        return sb.toString();
    }

    /** Logs {@link #report()} at INFO when the accounting is on. */
    public static void logReport() {
        if (enabled) {
            log.info("{}", report());
        }
    }

    /**
     * Attaches {@code listener} to its model behind a wrapper that measures each callback's CPU time
     * under "training thread: MONITOR.CALLBACK" (the accounting must be on). The wrapper forwards every
     * callback unchanged; only code that looks for the listener among the model's listeners by type
     * would miss it, which is why this is for overhead measurements only.
     */
    public static void attachTimed(StethoscopeListener listener) {
        org.deeplearning4j.nn.api.Model model = listener.model();
        Timed t = new Timed(listener);
        if (model instanceof org.deeplearning4j.nn.multilayer.MultiLayerNetwork mln) {
            mln.addListeners(t);
        } else if (model instanceof org.deeplearning4j.nn.graph.ComputationGraph cg) {
            cg.addListeners(t);
        } else {
            model.addListeners(t);
        }
    }

    /** Forwards every callback to a monitor, measuring its CPU time on the calling thread. */
    private static final class Timed implements org.deeplearning4j.optimize.api.TrainingListener {
        private final StethoscopeListener l;
        private final String iter;
        private final String epochStart;
        private final String epochEnd;
        private final String forward;
        private final String gradient;
        private final String backward;

        Timed(StethoscopeListener l) {
            this.l = l;
            String p = "training thread: " + l.monitorName() + ".";
            iter = p + "iterationDone";
            epochStart = p + "onEpochStart";
            epochEnd = p + "onEpochEnd";
            forward = p + "onForwardPass";
            gradient = p + "onGradientCalculation";
            backward = p + "onBackwardPass";
        }

        @Override
        public void iterationDone(org.deeplearning4j.nn.api.Model model, int iteration, int epoch) {
            long t = start();
            l.iterationDone(model, iteration, epoch);
            add(iter, t);
        }

        @Override
        public void onEpochStart(org.deeplearning4j.nn.api.Model model) {
            long t = start();
            l.onEpochStart(model);
            add(epochStart, t);
        }

        @Override
        public void onEpochEnd(org.deeplearning4j.nn.api.Model model) {
            long t = start();
            l.onEpochEnd(model);
            add(epochEnd, t);
        }

        @Override
        public void onForwardPass(org.deeplearning4j.nn.api.Model model, List<org.nd4j.linalg.api.ndarray.INDArray> activations) {
            long t = start();
            l.onForwardPass(model, activations);
            add(forward, t);
        }

        @Override
        public void onForwardPass(org.deeplearning4j.nn.api.Model model, Map<String, org.nd4j.linalg.api.ndarray.INDArray> activations) {
            long t = start();
            l.onForwardPass(model, activations);
            add(forward, t);
        }

        @Override
        public void onGradientCalculation(org.deeplearning4j.nn.api.Model model) {
            long t = start();
            l.onGradientCalculation(model);
            add(gradient, t);
        }

        @Override
        public void onBackwardPass(org.deeplearning4j.nn.api.Model model) {
            long t = start();
            l.onBackwardPass(model);
            add(backward, t);
        }
    }

    private static final class Entry {
        final LongAdder calls = new LongAdder();
        final LongAdder nanos = new LongAdder();

        void add(long cpu) {
            calls.increment();
            nanos.add(cpu);
        }
    }
}
