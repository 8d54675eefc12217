package dev.stethoscope.sample.bench;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Measures a monitor's overhead as a ratio within one process: whole training
 * runs from the same seed, without and with the monitor, in ABBA order (plain,
 * monitored, monitored, plain, ...) so that slow drifts of the machine hit both
 * sides alike.
 *
 * <p>Whole runs, not interleaved epochs: a monitor that analyses on a background
 * thread keeps working after its epoch ends, and with interleaved epochs that
 * work would overlap (and be charged to) the next unmonitored epoch. A monitored
 * run's time therefore includes waiting for its last analyses (the run's
 * {@code close} or {@code flush}), so no monitor work escapes the measurement.
 */
public final class OverheadRuns {
    private OverheadRuns() {
    }

    /** One complete training run; a monitored run attaches its monitors and waits for them before returning. */
    @FunctionalInterface
    public interface Run {
        /**
         * @param monitored whether to attach the monitor(s)
         * @param epochs    epochs to train
         * @return the trained network (to compare parameters)
         */
        MultiLayerNetwork train(boolean monitored, int epochs) throws Exception;
    }

    /**
     * Wall and process CPU seconds of each run (in run order per side) and whether
     * every monitored run ended with the same parameters as the plain runs.
     */
    public record Result(double[] plainWall, double[] monitoredWall, double[] plainCpu, double[] monitoredCpu,
                         double[] plainThreadCpu, double[] monitoredThreadCpu, boolean identicalParameters) {
        /** Median monitored wall time over median plain wall time. */
        public double wallRatio() {
            return median(monitoredWall) / median(plainWall);
        }

        /** Median monitored CPU time over median plain CPU time (all threads of the process). */
        public double cpuRatio() {
            return median(monitoredCpu) / median(plainCpu);
        }

        /**
         * Median CPU time of the training thread (the one that calls {@code fit}, and with one
         * ND4J thread the one that runs its ops), monitored over plain. Unlike wall time it does
         * not count time the virtual CPU was taken away (steal) or spent waiting, so it is the
         * steady measure of the work added on the training path; a monitored run's wait for its
         * background work is not in it (see the wall ratio).
         */
        public double trainingThreadCpuRatio() {
            return median(monitoredThreadCpu) / median(plainThreadCpu);
        }

        /**
         * Median over the pairs of (monitored wall time / plain wall time) of the pair's two
         * adjacent runs: less sensitive than {@link #wallRatio()} to the machine's speed drifting
         * between pairs.
         */
        public double pairedWallRatio() {
            double[] r = new double[plainWall.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = monitoredWall[i] / plainWall[i];
            }
            return median(r);
        }

        /** One line: the per-run times and the ratios, for the given number of epochs per run. */
        public String summary(int epochsPerRun) {
            return String.format(Locale.ROOT, "wall seconds per epoch: without %s, with %s; ratio with/without %.3f"
                            + " (median of the pairs' ratios: %.3f; process CPU: %.3f; training-thread CPU: %.3f,"
                            + " per epoch without %s, with %s); identical parameters: %s",
                    perEpoch(plainWall, epochsPerRun), perEpoch(monitoredWall, epochsPerRun), wallRatio(),
                    pairedWallRatio(), cpuRatio(),
                    trainingThreadCpuRatio(), perEpoch(plainThreadCpu, epochsPerRun),
                    perEpoch(monitoredThreadCpu, epochsPerRun), identicalParameters);
        }

        private static String perEpoch(double[] v, int epochs) {
            List<String> s = new ArrayList<>();
            for (double x : v) {
                s.add(String.format(Locale.ROOT, "%.2f", x / epochs));
            }
            return s.toString();
        }
    }

    /**
     * Runs {@code pairs} plain and {@code pairs} monitored runs of {@code epochs} epochs in ABBA
     * order and prints each run's time as it finishes. First, untimed, one epoch without and one
     * with the monitor, so that JIT compilation and first allocations are not charged to either side.
     */
    public static Result measure(Run run, int epochs, int pairs) throws Exception {
        if (pairs < 1) {
            throw new IllegalArgumentException("pairs must be >= 1, got " + pairs);
        }
        double[] pw = new double[pairs];
        double[] mw = new double[pairs];
        double[] pc = new double[pairs];
        double[] mc = new double[pairs];
        double[] pt = new double[pairs];
        double[] mt = new double[pairs];
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        run.train(false, 1); // warm-up
        run.train(true, 1);
        MultiLayerNetwork reference = null;
        boolean identical = true;
        for (int p = 0; p < pairs; p++) {
            boolean plainFirst = p % 2 == 0;
            for (int k = 0; k < 2; k++) {
                boolean monitored = (k == 0) != plainFirst;
                long s0 = stealTicks();
                long c0 = processCpuNanos();
                long th0 = threads.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                MultiLayerNetwork net = run.train(monitored, epochs);
                double wall = (System.nanoTime() - t0) / 1e9;
                double threadCpu = (threads.getCurrentThreadCpuTime() - th0) / 1e9;
                double cpu = (processCpuNanos() - c0) / 1e9;
                long steal = stealTicks() - s0;
                (monitored ? mw : pw)[p] = wall;
                (monitored ? mc : pc)[p] = cpu;
                (monitored ? mt : pt)[p] = threadCpu;
                if (reference == null) {
                    reference = net;
                } else {
                    identical &= reference.params().equals(net.params());
                }
                System.out.printf(Locale.ROOT, "run %d %s: %.2f s wall, %.2f s CPU, %.2f s training-thread CPU,"
                                + " %.2f s stolen from the VM's CPUs%n", 2 * p + k + 1,
                        monitored ? "with monitor" : "without", wall, cpu, threadCpu, steal / 100.0);
            }
        }
        return new Result(pw, mw, pc, mc, pt, mt, identical);
    }

    /** Steal time of all CPUs so far, in clock ticks (1/100 s) from /proc/stat; 0 if unavailable. */
    static long stealTicks() {
        try {
            String[] f = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat")).get(0).trim().split("\\s+");
            return f.length > 8 ? Long.parseLong(f[8]) : 0;
        } catch (Exception | Error e) {
            return 0;
        }
    }

    /** CPU time of the whole process (all threads, native BLAS threads included), -1 if unavailable. */
    public static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime();
        }
        return -1;
    }

    /** Median of {@code v}. */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
