package dev.stethoscope.probes.linalg;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs the memory-safety fixes for ND4J's native calls: {@link SafeLapack} and
 * {@link SafeOpExecutioner}. Both keep the arrays handed to native code reachable until it
 * returns, so a garbage collection on another thread cannot free memory in use (the native-heap
 * crash of issue 11, docs/reliability.md). Called when the Stethoscope listeners or the
 * similarity code are loaded; call it yourself before running Stethoscope's probes directly.
 *
 * <p>Both fixes are for ND4J's CPU backend ({@code nd4j-native}), which the Stethoscope library
 * modules do not bring (the user picks the backend). When its classes are not on the class path
 * (a CUDA backend, say) nothing is installed and {@link #install()} returns false.
 */
public final class NativeSafety {
    private static final Logger log = LoggerFactory.getLogger(NativeSafety.class);
    private static final String CPU_BACKEND_CLASS = "org.nd4j.linalg.cpu.nativecpu.blas.CpuLapack";
    private static volatile boolean missingBackendLogged;
    private NativeSafety() {
    }

    /**
     * Installs both (idempotent, thread-safe).
     *
     * @return true if ND4J now uses both
     */
    public static boolean install() {
        if (!cpuBackendPresent()) {
            if (!missingBackendLogged) {
                missingBackendLogged = true;
                log.info("ND4J's CPU backend (nd4j-native) is not on the class path: its native-safety fixes are not installed");
            }
            return false;
        }
        boolean lapack = SafeLapack.install();
        boolean ops = SafeOpExecutioner.install();
        return lapack && ops;
    }

    /** Whether both are in use. */
    public static boolean isInstalled() {
        return cpuBackendPresent() && SafeLapack.isInstalled() && SafeOpExecutioner.isInstalled();
    }

    /** Whether ND4J's CPU backend classes, which SafeLapack and SafeOpExecutioner extend, can be loaded. */
    static boolean cpuBackendPresent() {
        try {
            Class.forName(CPU_BACKEND_CLASS, false, NativeSafety.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
