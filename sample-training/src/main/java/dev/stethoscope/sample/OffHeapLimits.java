package dev.stethoscope.sample;

/**
 * JavaCPP's off-heap limits for the sample's JVM, so that ND4J's native memory does not wait for a
 * garbage collection of a large, rarely collected heap.
 *
 * <p>ND4J's arrays live in native memory that is freed when their Java objects are collected. JavaCPP
 * counts it: when the counted bytes would pass {@code org.bytedeco.javacpp.maxbytes}, or the process's
 * resident memory {@code org.bytedeco.javacpp.maxphysicalbytes}, it runs the collector and retries
 * before failing. Its defaults are the heap's maximum (a quarter of the machine's memory) and about
 * twice that, so the analyses' native garbage piles up long before a collection: LeNet with the
 * business preset peaked at 5.2 GB RSS with {@code maxbytes=2G} alone (docs/overhead.md). The sample
 * sets, unless given on the command line ({@code -Dorg.bytedeco.javacpp.maxbytes=...}):
 * <ul>
 *   <li>{@code maxbytes} = {@value #MAX_BYTES}: what JavaCPP may count before it collects (MNIST
 *       and the monitors' live state stay well below it);</li>
 *   <li>{@code maxphysicalbytes} = {@value #MAX_PHYSICAL_BYTES}: the process's resident memory at
 *       which it collects (the same LeNet run: 3.2 GB peak RSS, no slower). The sample's Java heap
 *       holds little (the data are ND4J arrays, off-heap); give a larger cap with the property when
 *       you run it with a heap that really fills ({@code -Xmx} above 2 GB in use), since JavaCPP
 *       refuses allocations once the process stays above it after collecting.</li>
 * </ul>
 * Measured since (docs/overhead.md, 2026-12-06): ND4J 1.0.0-M2.1's array buffers are not among the
 * bytes JavaCPP counts ({@code Pointer.totalBytes()} stayed at 0 MB through a LeNet run), so only
 * {@code maxphysicalbytes} acts, as a backstop; what keeps the monitors' resident memory low is
 * {@code dev.stethoscope.probes.linalg.NativeMemory}, which collects (and trims glibc's arenas)
 * whenever the analyses have grown the resident memory by 256 MB.
 * The properties must be set before ND4J's first class loads (JavaCPP reads them once), so
 * {@link Main#main} calls {@link #apply()} first.
 */
public final class OffHeapLimits {
    /** The off-heap bytes JavaCPP may count before it collects. */
    public static final String MAX_BYTES = "1G";
    /** The resident memory of the process at which JavaCPP collects. */
    public static final String MAX_PHYSICAL_BYTES = "3G";
    static final String MAX_BYTES_PROPERTY = "org.bytedeco.javacpp.maxbytes";
    static final String MAX_PHYSICAL_PROPERTY = "org.bytedeco.javacpp.maxphysicalbytes";

    private OffHeapLimits() {
    }

    /** Sets both limits unless already set (by {@code -D} or an earlier call). */
    public static void apply() {
        if (System.getProperty(MAX_BYTES_PROPERTY) == null) {
            System.setProperty(MAX_BYTES_PROPERTY, MAX_BYTES);
        }
        if (System.getProperty(MAX_PHYSICAL_PROPERTY) == null) {
            System.setProperty(MAX_PHYSICAL_PROPERTY, MAX_PHYSICAL_BYTES);
        }
    }
}
