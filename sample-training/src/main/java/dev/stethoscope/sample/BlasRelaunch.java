package dev.stethoscope.sample;

import dev.stethoscope.probes.linalg.BackendSelfTest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The sample's fix for wrong double-precision LAPACK (see {@link BackendSelfTest}): at start, if the
 * self-test fails, the same JVM command is re-executed with {@code OPENBLAS_CORETYPE=Haswell} in its
 * environment (OpenBLAS reads it only when it loads, so it cannot be changed in-process). The child gets
 * the marker {@value #MARKER}=1 so it never re-executes again; setting the marker yourself disables the
 * re-execution (the analyses then use the slower pure-Java route).
 */
public final class BlasRelaunch {
    /** Environment marker of a re-executed JVM (and opt-out switch). */
    public static final String MARKER = "STETHOSCOPE_BLAS_RELAUNCHED";
    /** The kernel setting the child gets. */
    public static final String CORE_TYPE = "Haswell";
    private static final Logger LOG = LoggerFactory.getLogger(BlasRelaunch.class);
    private static final Set<String> NO_LINEAR_ALGEBRA = Set.of("-h", "--help", "-V", "--version", "help");

    private BlasRelaunch() {
    }

    /**
     * Runs the self-test (unless the command needs no linear algebra or this JVM was already re-executed)
     * and, if it fails, re-executes this JVM with {@code OPENBLAS_CORETYPE=Haswell}, waiting for it.
     *
     * @param args the command-line arguments
     * @return the child's exit code, or -1 if nothing was re-executed (carry on in this JVM)
     */
    public static int relaunchIfBackendBroken(String[] args) {
        if (args.length == 0 || (args.length == 1 && NO_LINEAR_ALGEBRA.contains(args[0]))
                || (args.length >= 1 && NO_LINEAR_ALGEBRA.contains(args[args.length - 1]))) {
            return -1;
        }
        BackendSelfTest.Result r = BackendSelfTest.result();
        if (r.passed()) {
            return -1;
        }
        if (System.getenv(MARKER) != null) {
            LOG.error("The linear-algebra self-test fails even with OPENBLAS_CORETYPE={} (re-executed JVM, {}={});"
                    + " going on with the pure-Java decompositions", System.getenv("OPENBLAS_CORETYPE"), MARKER,
                    System.getenv(MARKER));
            return -1;
        }
        List<String> cmd = command(args);
        if (cmd == null) {
            LOG.error("Cannot find this JVM's executable to re-execute it; going on with the pure-Java decompositions");
            return -1;
        }
        LOG.warn("Re-executing this command with OPENBLAS_CORETYPE={} (was {}) because ND4J's OpenBLAS double-precision"
                        + " LAPACK failed its self-test; set it yourself before starting Java to skip this step: {}",
                CORE_TYPE, System.getenv("OPENBLAS_CORETYPE") == null ? "unset" : System.getenv("OPENBLAS_CORETYPE"), cmd);
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        Map<String, String> env = pb.environment();
        env.put("OPENBLAS_CORETYPE", CORE_TYPE);
        env.put(MARKER, "1");
        try {
            Process p = pb.start();
            Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
            return p.waitFor();
        } catch (IOException e) {
            LOG.error("Re-executing failed ({}); going on with the pure-Java decompositions", e.toString());
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /**
     * The command line that starts this JVM again with the same JVM options, class path, main class
     * ({@link Main}) and {@code args}; null if the java executable is unknown.
     */
    static List<String> command(String[] args) {
        String java = ProcessHandle.current().info().command().orElse(null);
        if (java == null) {
            return null;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp")) { // a debugger port cannot be bound twice
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }
}
