package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/**
 * Base of methods that propagate a signal layer by layer with their own rules over the copy's weights
 * ({@link Propagation}). Subclasses check at construction that every layer is one their rules cover.
 */
public abstract class PropagationAttributor extends AttributorBase {
    protected final Propagation prop;

    protected PropagationAttributor(LogitNetwork net, int batchSize, String method) {
        super(net, batchSize);
        this.prop = Propagation.of(net.copy().multiLayer(), method);
    }

    /** The unrolled network. */
    public Propagation propagation() {
        return prop;
    }

    /** Fails naming the layer if an activation is not ReLU or identity (rules defined only for those). */
    protected void requireReluOrIdentity(String method) {
        for (Propagation.Step s : prop.steps()) {
            if (s instanceof Propagation.Activation a && !a.isRelu() && !a.isIdentity()) {
                throw new IllegalArgumentException(method + " is defined here for ReLU/identity activations; layer "
                        + s.layer() + " uses " + a.fn() + ". Supported layers: " + Propagation.SUPPORTED);
            }
        }
    }

    /** Logits at the top of a forward pass. */
    protected static INDArray top(List<INDArray> acts) {
        return acts.get(acts.size() - 1);
    }

    /** Runs {@code body} over internal batches of rows and concatenates the per-row results. */
    protected interface BatchBody {
        /** Computes maps for rows [s, e) of x. */
        INDArray run(INDArray xPart, int[] targetsPart, long s);
    }

    /** Splits into batches of {@link #batchSize} rows; results are stacked along axis 0. */
    protected INDArray batched(INDArray x, int[] targets, BatchBody body) {
        long n = x.size(0);
        if (n <= batchSize) {
            return body.run(x, targets, 0);
        }
        INDArray out = null;
        for (long s = 0; s < n; s += batchSize) {
            long e = Math.min(n, s + batchSize);
            int[] t = java.util.Arrays.copyOfRange(targets, (int) s, (int) e);
            INDArray part = body.run(LogitNetwork.rows(x, s, e), t, s);
            if (out == null) {
                long[] shape = part.shape().clone();
                shape[0] = n;
                out = org.nd4j.linalg.factory.Nd4j.create(part.dataType(), shape);
            }
            LogitNetwork.rows(out, s, e).assign(part);
        }
        return out;
    }
}
