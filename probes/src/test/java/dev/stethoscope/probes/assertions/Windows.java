package dev.stethoscope.probes.assertions;

import java.util.Random;
import java.util.function.UnaryOperator;

/** Constructed step signals: a healthy run and ways to inject one fault into it. */
final class Windows {
    private Windows() {
    }

    /** Healthy step t of a run: loss decays 2.3 -> ~0.3 with 10 % noise, norms steady, half-zero ReLU, mixed predictions. */
    static StepSignals.Builder healthy(long t, Random r) {
        double loss = (0.3 + 2.0 * Math.exp(-t / 40.0)) * (1 + 0.1 * r.nextGaussian());
        double[] grad = {0.5 * (1 + 0.2 * r.nextGaussian()), 0.8 * (1 + 0.2 * r.nextGaussian()), 1.0 * (1 + 0.2 * r.nextGaussian())};
        double[] params = {10 + t * 0.001, 8, 5};
        double[] updates = {params[0] * 1e-3 * (1 + 0.3 * r.nextDouble()), params[1] * 2e-3, params[2] * 3e-3};
        int[] pred = new int[32];
        int[] lab = new int[32];
        for (int i = 0; i < 32; i++) {
            lab[i] = r.nextInt(10);
            pred[i] = r.nextDouble() < Math.min(0.9, t / 100.0) ? lab[i] : r.nextInt(10);
        }
        return StepSignals.builder(t).epoch((int) (t / 50)).loss(loss).layerNames("dense0", "dense1", "output")
                .gradientNorms(grad).parameterNorms(params).updateNorms(updates)
                .zeroFractions(0.5 + 0.05 * r.nextGaussian(), 0.45 + 0.05 * r.nextGaussian(), Double.NaN)
                .saturatedFractions(Double.NaN, Double.NaN, Double.NaN)
                .predictedClasses(pred).labelClasses(lab);
    }

    /** Feeds {@code steps} healthy steps, each passed through {@code fault} from step {@code from} on. */
    static SignalWindow run(int steps, long from, UnaryOperator<StepSignals.Builder> fault) {
        Random r = new Random(7);
        SignalWindow w = new SignalWindow(DetectorSuite.DEFAULT_CAPACITY);
        for (long t = 0; t < steps; t++) {
            StepSignals.Builder b = healthy(t, r);
            w.add((t >= from ? fault.apply(b) : b).build());
        }
        return w;
    }
}
