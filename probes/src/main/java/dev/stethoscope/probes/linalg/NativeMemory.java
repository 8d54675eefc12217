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
    private static volatile long growthBytes = readGrowth();

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
    private static void trim() {
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

    private static long readGrowth() {
        String v = System.getProperty(GROWTH_PROPERTY);
        long mb = DEFAULT_GROWTH_MB;
        if (v != null && !v.isBlank()) {
            try {
                mb = Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                log.warn("{}={} is not a number of megabytes; using {}", GROWTH_PROPERTY, v, DEFAULT_GROWTH_MB);
            }
        }
        return Math.max(0, mb) << 20;
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
     * Collects if the resident memory grew by more than the bound since the lowest point seen after
     * the last collection (and the last collection was at least {@value #MIN_INTERVAL_MS} ms ago).
     *
     * @return whether a collection ran
     */
    public static boolean collectIfGrown() {
        long bound = growthBytes;
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
                log.debug("Collected at RSS {} MB ({} MB above the low point) in {} ms (+ {} ms trimming): RSS now {} MB",
                        rss >> 20, (rss - low) >> 20, gcNanos / 1_000_000, (lastCollectionNanos - t0 - gcNanos) / 1_000_000,
                        Pointer.physicalBytes() >> 20);
            }
            return true;
        }
    }
}
