package dev.stethoscope.listeners.core;

import org.bytedeco.javacpp.Pointer;

/**
 * The process's memory at one moment, for the DEBUG lines of the {@code dev.stethoscope.memory}
 * logger (overhead work, docs/overhead.md): resident memory (JavaCPP's {@link Pointer#physicalBytes()}),
 * the native bytes JavaCPP counts ({@link Pointer#totalBytes()}) and the Java heap in use.
 *
 * @param nanos    {@link System#nanoTime()} when taken
 * @param rss      resident bytes of the process
 * @param counted  native bytes JavaCPP counts as allocated
 * @param heapUsed bytes of the Java heap in use (live and not yet collected)
 */
public record MemoryUse(long nanos, long rss, long counted, long heapUsed) {
    /** Now. */
    public static MemoryUse now() {
        Runtime r = Runtime.getRuntime();
        return new MemoryUse(System.nanoTime(), Pointer.physicalBytes(), Pointer.totalBytes(),
                r.totalMemory() - r.freeMemory());
    }

    /** A one-line description of the change from this moment to {@code after}. */
    public String to(MemoryUse after) {
        return String.format(java.util.Locale.ROOT, "%.0f ms, RSS %d -> %d MB, JavaCPP-counted %d -> %d MB, heap %d -> %d MB",
                (after.nanos - nanos) / 1e6, rss >> 20, after.rss >> 20, counted >> 20, after.counted >> 20,
                heapUsed >> 20, after.heapUsed >> 20);
    }

    /** A one-line description of this moment. */
    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "RSS %d MB, JavaCPP-counted %d MB, heap %d MB",
                rss >> 20, counted >> 20, heapUsed >> 20);
    }
}
