package dev.stethoscope.probes.linalg;

import org.bytedeco.javacpp.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Frees the analyses' native garbage early: a Java garbage collection when the process's resident
 * memory has grown by more than a bound since the lowest point seen after the last one.
 *
 * <p>Why: ND4J's arrays live in native memory that is freed only when their small Java objects are
 * collected. The analyses (linear probes, SVCCA, critical-sample search) make hundreds of megabytes of
 * short-lived native arrays while the Java heap hardly fills, so a collection comes rarely and the
 * process's resident memory climbs by gigabytes before it does (measured on LeNet with the business
 * preset: from 1.4 GB to the 3 GB cap of JavaCPP's {@code maxphysicalbytes}, docs/overhead.md). JavaCPP's
 * {@code maxbytes} does not help: it does not count ND4J's buffers. The analyses call
 * {@link #collectIfGrown()} between their steps (per probed layer, per search iteration, after each
 * analysis task); it reads the resident size (one cheap native call) and collects only past the bound.
 *
 * <p>The bound is {@value #DEFAULT_GROWTH_MB} MB, or the system property
 * {@value #GROWTH_PROPERTY} (megabytes; 0 turns collections off); at most one collection per
 * {@value #MIN_INTERVAL_MS} ms. A collection stops every Java thread for its duration (tens of
 * milliseconds with the monitors' small heaps), training included; it never changes a result.
 * {@link #watch()} adds a thread that checks every {@value #WATCH_PERIOD_MS} ms, for growth inside an
 * analysis step (the monitors attached by {@code Stethoscope.attach} hold one while attached).
 *
 * <p><b>A tighter bound while an analysis task runs.</b> While some thread holds {@link #analysis()} (the
 * monitors' background tasks do, {@code BackgroundWorker}), the bound is the smaller of the above and
 * {@value #DEFAULT_ANALYSIS_GROWTH_MB} MB, or the system property {@value #ANALYSIS_GROWTH_PROPERTY}
 * (megabytes; 0 = no tighter bound). Training itself hardly grows the resident memory (DL4J reuses its
 * workspaces), so the collections happen during the analyses either way; the tighter bound lowers the
 * peak they reach (LeNet, business, full epoch: docs/overhead.md, 2026-12-07 s6) at the price of more
 * collections, each of which stops training if it is running. Measured costs and effects: docs/overhead.md.
 * Thread-safe.
 */
public final class NativeMemory {
    private static final Logger log = LoggerFactory.getLogger("dev.stethoscope.memory");
    /** Default growth of the resident memory (MB) that triggers a collection. */
    public static final long DEFAULT_GROWTH_MB = 256;
    /** System property with the growth bound in MB (0 = never collect). */
    public static final String GROWTH_PROPERTY = "stethoscope.nativeGcGrowthMB";
    /** Smallest time between two collections triggered here. */
    public static final long MIN_INTERVAL_MS = 1000;

    private static final AtomicLong LOW = new AtomicLong(-1);
    private static final AtomicLong COLLECTIONS = new AtomicLong();
    private static final AtomicLong GC_NANOS = new AtomicLong();
    private static final AtomicLong TRIM_NANOS = new AtomicLong();
    private static volatile long lastCollectionNanos = System.nanoTime() - MIN_INTERVAL_MS * 1_000_000L;
    private static volatile long growthBytes = readGrowth(GROWTH_PROPERTY, DEFAULT_GROWTH_MB);
    /** Default bound (MB) while an analysis task runs ({@link #analysis()}). */
    public static final long DEFAULT_ANALYSIS_GROWTH_MB = 128;
    /** System property with the bound in MB while an analysis task runs (0 = the general bound only). */
    public static final String ANALYSIS_GROWTH_PROPERTY = "stethoscope.analysisGcGrowthMB";
    private static volatile long analysisGrowthBytes = readGrowth(ANALYSIS_GROWTH_PROPERTY, DEFAULT_ANALYSIS_GROWTH_MB);
    private static final java.util.concurrent.atomic.AtomicInteger ANALYSES = new java.util.concurrent.atomic.AtomicInteger();

    private NativeMemory() {
    }

    /** glibc's {@code malloc_trim} through JNA, when JNA is on the class path (found reflectively); else null. */
    private static final Object MALLOC_TRIM = mallocTrim();

    private static Object mallocTrim() {
        try {
            Class<?> lib = Class.forName("com.sun.jna.NativeLibrary");
            Object c = lib.getMethod("getInstance", String.class).invoke(null, "c");
            return lib.getMethod("getFunction", String.class).invoke(c, "malloc_trim");
        } catch (Throwable e) {
            return null; // no JNA, not glibc: the collection alone still frees the arrays
        }
    }

    /**
     * After a collection ND4J frees the collected arrays on its deallocator thread; give it a moment,
     * then hand the freed pages back to the system with {@code malloc_trim(0)} (glibc keeps freed
     * blocks of its arenas otherwise, so RSS would not fall). Without JNA this only waits.
     */
    static void trim() { // package-private for tests: hands freed arena memory back, so RSS growth is measurable
        try {
            Thread.sleep(30);
            if (MALLOC_TRIM != null) {
                MALLOC_TRIM.getClass().getMethod("invokeInt", Object[].class).invoke(MALLOC_TRIM, (Object) new Object[]{0});
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) {
            log.debug("malloc_trim failed: {}", e.toString());
        }
    }

    private static long readGrowth(String property, long defaultMb) {
        String v = System.getProperty(property);
        long mb = defaultMb;
        if (v != null && !v.isBlank()) {
            try {
                mb = Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                log.warn("{}={} is not a number of megabytes; using {}", property, v, defaultMb);
            }
        }
        return Math.max(0, mb) << 20;
    }

    /** Sets the bound in megabytes while an analysis task runs (0 = the general bound only); for tests and embedding applications. */
    public static void analysisGrowthMegabytes(long mb) {
        if (mb < 0) {
            throw new IllegalArgumentException("growth must be >= 0 MB, got " + mb);
        }
        analysisGrowthBytes = mb << 20;
    }

    /** The bound in bytes while an analysis task runs (0 = the general bound only). */
    public static long analysisGrowthBytes() {
        return analysisGrowthBytes;
    }

    /**
     * Marks an analysis task as running until the returned handle is closed (idempotent): while any is
     * open, collections use the tighter bound ({@link #analysisGrowthBytes()}), from whichever thread
     * checks (the task's own steps or the {@link #watch()} thread). Reference-counted across threads.
     */
    public static AutoCloseable analysis() {
        ANALYSES.incrementAndGet();
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (closed.compareAndSet(false, true)) {
                ANALYSES.decrementAndGet();
            }
        };
    }

    /** Whether an analysis task holds {@link #analysis()} now. */
    public static boolean analysing() {
        return ANALYSES.get() > 0;
    }

    /** The bound that applies now: the general one, or the tighter one while an analysis task runs (0 = off). */
    public static long currentBoundBytes() {
        long bound = growthBytes;
        long tight = analysisGrowthBytes;
        if (bound > 0 && tight > 0 && ANALYSES.get() > 0) {
            return Math.min(bound, tight);
        }
        return bound;
    }

    /** Sets the growth bound in megabytes (0 = never collect); for tests and embedding applications. */
    public static void growthMegabytes(long mb) {
        if (mb < 0) {
            throw new IllegalArgumentException("growth must be >= 0 MB, got " + mb);
        }
        growthBytes = mb << 20;
    }

    /** The growth bound in bytes (0 = off). */
    public static long growthBytes() {
        return growthBytes;
    }

    /** Period of the {@link #watch()} thread's checks, in milliseconds. */
    public static final long WATCH_PERIOD_MS = 200;
    private static final Object WATCH_LOCK = new Object();
    private static Thread watcher;
    private static int watchers;
    private static final AtomicLong WATCH_COLLECTIONS = new AtomicLong();

    /**
     * Starts checking every {@value #WATCH_PERIOD_MS} ms on a daemon thread ({@code stethoscope-native-memory})
     * until the returned handle is closed, so that the bound holds within an analysis step too, not only at
     * the points that call {@link #collectIfGrown()} (measured on LeNet, docs/overhead.md 2026-12-07: the
     * similarity snapshot before training grew the resident memory by 820 MB and the probe of conv1 by 788 MB
     * between two such points). Starts from the current resident size as the low point. Reference-counted:
     * one thread however many handles are open. A check reads the resident size (one native call); the
     * collections themselves are the same as {@link #collectIfGrown()}'s (at most one a second). Does
     * nothing when collections are off ({@link #growthBytes()} 0).
     *
     * @return a handle whose {@code close()} stops this watch (idempotent)
     */
    public static AutoCloseable watch() {
        if (growthBytes <= 0) {
            return () -> { };
        }
        synchronized (WATCH_LOCK) {
            if (watchers++ == 0) {
                LOW.set(Pointer.physicalBytes());
                Thread t = new Thread(NativeMemory::watchLoop, "stethoscope-native-memory");
                t.setDaemon(true);
                watcher = t;
                t.start();
            }
        }
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            synchronized (WATCH_LOCK) {
                if (--watchers == 0 && watcher != null) {
                    watcher.interrupt();
                    watcher = null;
                }
            }
        };
    }

    /** Whether a {@link #watch()} thread is running. */
    public static boolean watching() {
        synchronized (WATCH_LOCK) {
            return watcher != null;
        }
    }

    /** Collections triggered by the {@link #watch()} thread so far (included in {@link #collections()}). */
    public static long watchCollections() {
        return WATCH_COLLECTIONS.get();
    }

    private static void watchLoop() {
        Thread self = Thread.currentThread();
        while (!self.isInterrupted()) {
            try {
                Thread.sleep(WATCH_PERIOD_MS);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (WATCH_LOCK) {
                if (watcher != self) {
                    return;
                }
            }
            try {
                if (collectIfGrown()) {
                    WATCH_COLLECTIONS.incrementAndGet();
                }
            } catch (RuntimeException | LinkageError e) {
                log.debug("native memory check failed: {}", e.toString());
            }
        }
    }

    /** Collections triggered so far (for logs and tests). */
    public static long collections() {
        return COLLECTIONS.get();
    }

    /** Wall time spent in the {@code System.gc()} calls of the collections so far (every thread stopped), in ns. */
    public static long gcNanos() {
        return GC_NANOS.get();
    }

    /** Wall time spent waiting for the deallocator and trimming after the collections so far (calling thread), in ns. */
    public static long trimNanos() {
        return TRIM_NANOS.get();
    }

    /**
     * Collects if the resident memory grew by more than the bound ({@link #currentBoundBytes()}) since the
     * lowest point seen after the last collection (and the last collection was at least {@value #MIN_INTERVAL_MS} ms ago).
     *
     * @return whether a collection ran
     */
    public static boolean collectIfGrown() {
        long bound = currentBoundBytes();
        if (bound <= 0) {
            return false;
        }
        long rss = Pointer.physicalBytes();
        long low = LOW.get();
        if (low < 0 || rss < low) {
            LOW.compareAndSet(low, rss);
            return false;
        }
        if (rss - low < bound || System.nanoTime() - lastCollectionNanos < MIN_INTERVAL_MS * 1_000_000L) {
            return false;
        }
        synchronized (NativeMemory.class) {
            if (System.nanoTime() - lastCollectionNanos < MIN_INTERVAL_MS * 1_000_000L) {
                return false;
            }
            long t0 = System.nanoTime();
            System.gc();
            long gcNanos = System.nanoTime() - t0;
            trim();
            lastCollectionNanos = System.nanoTime();
            COLLECTIONS.incrementAndGet();
            GC_NANOS.addAndGet(gcNanos);
            TRIM_NANOS.addAndGet(lastCollectionNanos - t0 - gcNanos);
            // ND4J frees the arrays on its deallocator thread after the collection: the low point is
            // re-learnt from the next readings
            LOW.set(Pointer.physicalBytes());
            if (log.isDebugEnabled()) {
                log.debug("Collected at RSS {} MB ({} MB above the low point, bound {} MB) in {} ms (+ {} ms trimming): RSS now {} MB",
                        rss >> 20, (rss - low) >> 20, bound >> 20, gcNanos / 1_000_000, (lastCollectionNanos - t0 - gcNanos) / 1_000_000,
                        Pointer.physicalBytes() >> 20);
            }
            return true;
        }
    }
}
