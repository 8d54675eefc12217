package dev.stethoscope.probes.assertions;

import java.util.List;
import java.util.function.Predicate;

/** Small helpers shared by the detectors. */
final class WindowMath {
    private WindowMath() {
    }

    /** @return the last {@code n} steps if the window holds at least {@code n}, else null */
    static List<StepSignals> fullTail(SignalWindow w, int n) {
        return w.size() < n ? null : w.lastSteps(n);
    }

    /** The fewest sampled steps a sustained condition needs when the steps are sampled. */
    static final int MIN_SAMPLES = 3;

    /**
     * The sampled steps that stand for a window of {@code n} steps: {@code n} when every step is
     * sampled; else the samples spanning as many iterations, {@code ceil(n / period)}, but at least
     * {@link #MIN_SAMPLES} (or {@code n} when smaller).
     */
    static int samplesFor(SignalWindow w, int n) {
        int k = w.samplePeriod();
        return k <= 1 ? n : Math.max(Math.min(n, MIN_SAMPLES), (n + k - 1) / k);
    }

    /** The sampled steps standing for the last {@code n} steps ({@link #samplesFor}), or null while fewer are kept. */
    static List<StepSignals> fullSampledTail(SignalWindow w, int n) {
        int m = samplesFor(w, n);
        return w.sampledSize() < m ? null : w.lastSampled(m);
    }

    /**
     * How a condition that held at every step of {@code tail} reads in a message: "for n steps
     * (a..b)" when the tail is every step of iterations a..b, else "at each of the k sampled steps
     * over iterations a..b" (layer signals are sampled, the steps between were not looked at).
     */
    static String across(List<StepSignals> tail) {
        long a = first(tail);
        long b = last(tail);
        int k = tail.size();
        return b - a + 1 == k ? "for " + k + " steps (" + a + ".." + b + ")"
                : "at each of the " + k + " sampled steps over iterations " + a + ".." + b;
    }

    /** @return whether every step satisfies the predicate (false for null/empty) */
    static boolean all(List<StepSignals> steps, Predicate<StepSignals> p) {
        if (steps == null || steps.isEmpty()) {
            return false;
        }
        for (StepSignals s : steps) {
            if (!p.test(s)) {
                return false;
            }
        }
        return true;
    }

    /** @return mean of the finite losses of steps [from, to) of the list; NaN if none */
    static double meanLoss(List<StepSignals> steps, int from, int to) {
        double sum = 0;
        int n = 0;
        for (int i = from; i < to; i++) {
            double l = steps.get(i).loss();
            if (Double.isFinite(l)) {
                sum += l;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** @return ||g_first|| / ||g_last|| of the step, NaN when fewer than 2 layers or not finite/positive */
    static double firstLastRatio(StepSignals s) {
        double[] g = s.gradientNorms();
        if (g.length < 2) {
            return Double.NaN;
        }
        double first = g[0];
        double last = g[g.length - 1];
        if (!Double.isFinite(first) || !Double.isFinite(last) || last <= 0) {
            return Double.NaN;
        }
        return first / last;
    }

    static String fmt(double v) {
        if (v == 0) {
            return "0";
        }
        return String.format(java.util.Locale.ROOT, "%.3g", v);
    }

    static String pct(double fraction) {
        return String.format(java.util.Locale.ROOT, "%.0f %%", 100 * fraction);
    }

    static long first(List<StepSignals> steps) {
        return steps.get(0).step();
    }

    static long last(List<StepSignals> steps) {
        return steps.get(steps.size() - 1).step();
    }
}
