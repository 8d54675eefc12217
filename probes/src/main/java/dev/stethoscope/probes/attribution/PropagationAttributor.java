package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/**
 * Base of methods that propagate a signal layer by layer with their own rules over the copy's weights
 * ({@link Propagation} for a MultiLayerNetwork, {@link GraphPropagation} for a ComputationGraph). Subclasses check
 * at construction that every layer or vertex is one their rules cover.
 */
public abstract class PropagationAttributor extends AttributorBase {
    /** The unrolled MultiLayerNetwork, or null for a graph. */
    protected final Propagation prop;
    /** The unrolled ComputationGraph, or null for a MultiLayerNetwork. */
    protected final GraphPropagation graph;

    /**
     * Unrolls the network's copy into propagation steps.
     *
     * @param net       the logit view of a private copy of the network
     * @param batchSize rows per internal batch
     * @param method    the method's name, for the error message
     * @throws IllegalArgumentException naming the first layer or vertex the rules do not cover
     */
    protected PropagationAttributor(LogitNetwork net, int batchSize, String method) {
        super(net, batchSize);
        if (net.isGraph()) {
            this.graph = GraphPropagation.of((ComputationGraph) net.copy().model(), method);
            this.prop = null;
        } else {
            this.prop = Propagation.of(net.copy().multiLayer(), method);
            this.graph = null;
        }
    }

    /** The unrolled graph (null for a MultiLayerNetwork). */
    public GraphPropagation graphPropagation() {
        return graph;
    }

    /** Every step of the unrolled network (a graph's combine nodes excluded). */
    protected List<Propagation.Step> allSteps() {
        if (prop != null) {
            return prop.steps();
        }
        List<Propagation.Step> r = new java.util.ArrayList<>();
        for (GraphPropagation.Node nd : graph.nodes()) {
            if (nd.step() != null) {
                r.add(nd.step());
            }
        }
        return r;
    }

    /** A graph method's body on one internal batch: maps per input for rows [s, s + n). */
    protected interface GraphBody {
        /** Computes one map per input for the rows of {@code xs}. */
        INDArray[] run(INDArray[] xs, int[] targetsPart, long s);
    }

    /** Splits graph inputs into internal batches of {@link #batchSize} rows; results are stacked along axis 0. */
    protected INDArray[] batchedInputs(INDArray[] xs, int[] targets, GraphBody body) {
        long n = xs[0].size(0);
        if (n <= batchSize) {
            return body.run(xs, targets, 0);
        }
        INDArray[] out = null;
        for (long s = 0; s < n; s += batchSize) {
            long e = Math.min(n, s + batchSize);
            int[] t = java.util.Arrays.copyOfRange(targets, (int) s, (int) e);
            INDArray[] part = new INDArray[xs.length];
            for (int i = 0; i < xs.length; i++) {
                part[i] = LogitNetwork.rows(xs[i], s, e);
            }
            INDArray[] res = body.run(part, t, s);
            if (out == null) {
                out = new INDArray[res.length];
                for (int i = 0; i < res.length; i++) {
                    long[] shape = res[i].shape().clone();
                    shape[0] = n;
                    out[i] = org.nd4j.linalg.factory.Nd4j.create(res[i].dataType(), shape);
                }
            }
            for (int i = 0; i < res.length; i++) {
                LogitNetwork.rows(out[i], s, e).assign(res[i]);
            }
        }
        return out;
    }

    /** Sum over all inputs of each example's map. */
    protected static double[] rowSums(INDArray[] maps) {
        double[] total = rowSums(maps[0]);
        for (int i = 1; i < maps.length; i++) {
            double[] r = rowSums(maps[i]);
            for (int e = 0; e < r.length; e++) {
                total[e] += r[e];
            }
        }
        return total;
    }

    /** For a graph: the single-input call as the one-input case of {@link #attributeInputs}. */
    protected Attribution graphSingle(INDArray x, int[] targets, java.util.Map<String, INDArray> extras) {
        validate(x, targets);
        InputAttributions r = attributeInputs(new INDArray[]{x}, targets);
        return new Attribution(r.method(), r.maps().get(0), r.targets(), r.targetScores(), r.completenessGap(), extras);
    }

    /** The unrolled network. */
    public Propagation propagation() {
        return prop;
    }

    /** Fails naming the layer if an activation is not ReLU or identity (rules defined only for those). */
    protected void requireReluOrIdentity(String method) {
        for (Propagation.Step s : allSteps()) {
            if (s instanceof Propagation.Activation a && !a.isRelu() && !a.isIdentity()) {
                throw new IllegalArgumentException(method + " is defined here for ReLU/identity activations; "
                        + (prop != null ? "layer " + s.layer() : s.where()) + " uses " + a.fn()
                        + ". Supported layers: " + Propagation.SUPPORTED);
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
