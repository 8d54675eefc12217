package dev.stethoscope.probes.linalg;

/**
 * Installs the memory-safety fixes for ND4J's native calls: {@link SafeLapack} and
 * {@link SafeOpExecutioner}. Both keep the arrays handed to native code reachable until it
 * returns, so a garbage collection on another thread cannot free memory in use (the native-heap
 * crash of issue 11, docs/reliability.md). Called when the Stethoscope listeners or the
 * similarity code are loaded; call it yourself before running Stethoscope's probes directly.
 */
public final class NativeSafety {
    private NativeSafety() {
    }

    /**
     * Installs both (idempotent, thread-safe).
     *
     * @return true if ND4J now uses both
     */
    public static boolean install() {
        boolean lapack = SafeLapack.install();
        boolean ops = SafeOpExecutioner.install();
        return lapack && ops;
    }

    /** Whether both are in use. */
    public static boolean isInstalled() {
        return SafeLapack.isInstalled() && SafeOpExecutioner.isInstalled();
    }
}
