package dev.stethoscope.sample;

/**
 * JavaCPP's off-heap limits for the sample's JVM, so that ND4J's native memory does not wait for a
 * garbage collection of a large, rarely collected heap.
 *
 * <p>ND4J's arrays live in native memory that is freed when their Java objects are collected. JavaCPP
 * counts it: when the counted bytes would pass {@code org.bytedeco.javacpp.maxbytes}, or the process's
 * resident memory {@code org.bytedeco.javacpp.maxphysicalbytes}, it runs the collector and retries
 * before failing. Its defaults are the heap's maximum (a quarter of the machine's memory) and twice
 * that, so with the default heap native garbage piles up for a long time first (docs/reliability.md:
 * RSS grew to 5.3 GB over 48 epochs with the soak's 3 GB heap). The sample sets, unless given on the
 * command line ({@code -Dorg.bytedeco.javacpp.maxbytes=...}):
 * <ul>
 *   <li>{@code maxbytes} = {@value #MAX_BYTES}: MNIST and every monitor's bounded state fit well
 *       below it (LeNet with every monitor: peak RSS about 3.2 GB with a 2 GB cap, docs/reliability.md);</li>
 *   <li>{@code maxphysicalbytes} = {@value #MAX_BYTES} + the heap's maximum + 1 GB: a cap on the whole
 *       process's resident memory that an honest run never reaches, so the collector runs before
 *       the kernel's OOM killer does.</li>
 * </ul>
 * The properties must be set before ND4J's first class loads (JavaCPP reads them once), so
 * {@link Main#main} calls {@link #apply()} first. Measured effect: docs/overhead.md.
 */
public final class OffHeapLimits {
    /** The off-heap bytes JavaCPP may count before it collects. */
    public static final String MAX_BYTES = "2G";
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
            long heap = Runtime.getRuntime().maxMemory();
            long physical = 2L * 1024 * 1024 * 1024 + (heap == Long.MAX_VALUE ? 4L << 30 : heap) + (1L << 30);
            System.setProperty(MAX_PHYSICAL_PROPERTY, String.valueOf(physical));
        }
    }
}
