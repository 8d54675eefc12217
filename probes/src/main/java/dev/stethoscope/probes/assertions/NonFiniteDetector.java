package dev.stethoscope.probes.assertions;

import java.util.ArrayList;
import java.util.List;

/**
 * NaN or infinite values in the latest step's loss, gradients, parameters, updates or
 * activations (AUTOTRAINER's and DeepDiagnosis's NaN/Inf rules). Severity ERROR: a non-finite
 * value propagates, and training does not recover from non-finite parameters.
 */
public final class NonFiniteDetector implements Detector {
    private static final long serialVersionUID = 1L;

    /** The id, {@value}. */
    public static final String ID = "non-finite";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Condition check(SignalWindow window) {
        StepSignals s = window.latest();
        if (s == null) {
            return Condition.ABSENT;
        }
        List<String> where = new ArrayList<>();
        if (!Double.isFinite(s.loss())) {
            where.add("loss (" + s.loss() + ")");
        }
        addLayers(where, "gradients", s.gradientNorms(), s);
        addLayers(where, "parameters", s.parameterNorms(), s);
        addLayers(where, "updates", s.updateNorms(), s);
        if (s.nonFiniteActivations() > 0) {
            where.add("activations (" + s.nonFiniteActivations() + " values)");
        }
        if (where.isEmpty()) {
            return Condition.ABSENT;
        }
        return Condition.steps(Severity.ERROR, "NaN or infinite values in " + String.join(", ", where)
                + " at step " + s.step() + ". Usual causes: a learning rate too high (divergence), exploding gradients, "
                + "NaN or infinite values in the input data, or log(0) in the loss. Usual fixes: lower the learning rate, "
                + "clip gradients (GradientNormalization.ClipL2PerLayer), check the data for NaN, "
                + "use a softmax output with MCXENT rather than a hand-made log.", s.step(), s.step());
    }

    private static void addLayers(List<String> where, String what, double[] norms, StepSignals s) {
        List<String> layers = new ArrayList<>();
        for (int i = 0; i < norms.length; i++) {
            if (!Double.isFinite(norms[i])) {
                layers.add(s.layerName(i));
            }
        }
        if (!layers.isEmpty()) {
            where.add(what + " of " + String.join(", ", layers));
        }
    }
}
