package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;
import java.util.Locale;

/**
 * Representation erasure (Li et al. 2017) for one layer: the importance of each dimension (or each channel of
 * a convolutional layer) d is I(d) = mean over examples of (S(e,c) - S(e,c,not d)) / S(e,c), with
 * S = -log P(correct label) (METHODS.md section 8), P the softmax of the logits, and "not d" the layer's
 * output with d set to zero before the rest of the network runs.
 *
 * <p><b>Numerics.</b> For a confidently classified example S is tiny: with the target logit leading every
 * other by L, S = log(1 + sum_{k != c} exp(z_k - z_c)) is about exp(-L), and the textbook form
 * m + log(sum exp(z_k - m)) - z_c rounds to exactly 0 once L exceeds about 37 (1 + exp(-L) == 1 in double),
 * which made I(d) NaN or -infinity. Here log S is computed instead ({@link #logScores}): when z_c is the
 * largest logit, S = log1p(t) with log t = logsumexp_{k != c}(z_k - z_c), and log S = log t - t/2 + O(t^2)
 * for tiny t, so log S is accurate for any lead (t itself may underflow); otherwise S = m - z_c +
 * log(sum exp(z_k - m)) has no cancellation. Each term of I(d) is then (S - S')/S = -expm1(log S' - log S).
 * Where the direct formula is finite the two agree to rounding (tested).
 */
public final class RepresentationErasure {

    /** What is erased: one scalar dimension of the layer's output, or one whole channel [n, c, h, w]. */
    public enum Unit {
        DIMENSION, CHANNEL;

        /** Parses "dimension"/"channel"; the error lists valid values. */
        public static Unit parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("Unknown erasure unit '" + s + "'. Valid: DIMENSION, CHANNEL");
            }
        }
    }

    /**
     * @param layer      the layer's name
     * @param unit       what was erased
     * @param importance I(d) per unit
     * @param meanScore  mean S(e,c) over the examples
     */
    public record Result(String layer, Unit unit, double[] importance, double meanScore) {
    }

    /** The unrolled MultiLayerNetwork, or null for a graph. */
    private final Propagation prop;
    /** The unrolled graph, or null for a MultiLayerNetwork. */
    private final GraphPropagation graph;
    private final String layerName;
    private final int layer;
    private final Unit unit;
    private final int batchSize;

    /** On a copy. */
    public RepresentationErasure(NetworkCopy copy, String layer, Unit unit) {
        this(new LogitNetwork(copy), AttributorBase.DEFAULT_BATCH, layer, unit);
    }

    /**
     * @param layer name or index of a layer that is not the output layer; for a single-input ComputationGraph the
     *              name of a layer vertex that is not the output (the rest of the graph, skip connections included,
     *              runs on the erased value)
     * @param unit  DIMENSION, or CHANNEL for a layer with output [n, c, h, w]
     */
    public RepresentationErasure(LogitNetwork net, int batchSize, String layer, Unit unit) {
        if (net.isGraph()) {
            this.prop = null;
            this.graph = GraphPropagation.of((org.deeplearning4j.nn.graph.ComputationGraph) net.copy().model(),
                    "Representation erasure");
            if (graph.inputNames().size() != 1) {
                throw new IllegalArgumentException("Representation erasure takes one input array; this graph has inputs "
                        + graph.inputNames());
            }
            this.layer = graph.layerEnd(layer);
            if (this.layer == graph.nodes().size() - 1) {
                throw new IllegalArgumentException("Representation erasure needs a hidden layer, not the output layer '"
                        + layer + "'");
            }
            this.layerName = layer;
        } else {
            this.graph = null;
            this.prop = Propagation.of(net.copy().multiLayer(), "Representation erasure");
            this.layer = prop.layerIndex(layer);
            if (this.layer == prop.numLayers() - 1) {
                throw new IllegalArgumentException("Representation erasure needs a hidden layer, not the output layer");
            }
            this.layerName = String.valueOf(this.layer);
        }
        this.unit = unit;
        this.batchSize = Math.max(1, batchSize);
    }

    /** Computes I(d) for every unit of the layer over examples x with their correct labels. */
    public Result importance(INDArray x, int[] labels) {
        if (labels.length != x.size(0)) {
            throw new IllegalArgumentException("Need one label per example: " + x.size(0) + " vs " + labels.length);
        }
        int at = graph != null ? layer : prop.layerEnd(layer);
        long n = x.size(0);
        double[] sum = null;
        double scoreSum = 0;
        for (long s = 0; s < n; s += batchSize) {
            long e = Math.min(n, s + batchSize);
            int[] lab = java.util.Arrays.copyOfRange(labels, (int) s, (int) e);
            List<INDArray> acts = graph != null ? graph.forward(LogitNetwork.rows(x, s, e))
                    : prop.forward(LogitNetwork.rows(x, s, e));
            INDArray a = acts.get(at);
            double[] logBase = logScores(acts.get(acts.size() - 1), lab);
            int units = numUnits(a);
            if (sum == null) {
                sum = new double[units];
            }
            for (double b : logBase) {
                scoreSum += Math.exp(b);
            }
            for (int d = 0; d < units; d++) {
                INDArray erased = erase(a, d);
                INDArray logits = graph != null ? last(graph.forwardWith(acts, at, erased)) : prop.forwardFrom(at, erased);
                double[] logErased = logScores(logits, lab);
                for (int i = 0; i < lab.length; i++) {
                    // (S - S') / S = 1 - exp(log S' - log S)
                    sum[d] += -Math.expm1(logErased[i] - logBase[i]);
                }
            }
        }
        for (int d = 0; d < sum.length; d++) {
            sum[d] /= n;
        }
        return new Result(layerName, unit, sum, scoreSum / n);
    }

    private static INDArray last(List<INDArray> acts) {
        return acts.get(acts.size() - 1);
    }

    private int numUnits(INDArray a) {
        if (unit == Unit.CHANNEL) {
            if (a.rank() != 4) {
                throw new IllegalArgumentException("CHANNEL erasure needs a layer with output [n, c, h, w]; layer "
                        + layer + " gives rank " + a.rank());
            }
            return (int) a.size(1);
        }
        return (int) (a.length() / a.size(0));
    }

    /** A copy of a with unit d zeroed in every example. */
    INDArray erase(INDArray a, int d) {
        INDArray out = a.dup('c');
        if (unit == Unit.CHANNEL) {
            INDArrayIndex[] idx = {NDArrayIndex.all(), NDArrayIndex.point(d), NDArrayIndex.all(), NDArrayIndex.all()};
            out.get(idx).assign(0);
            return out;
        }
        long n = a.size(0);
        INDArray flat = out.reshape('c', n, a.length() / n);
        flat.getColumn(d).assign(0);
        return flat.reshape('c', a.shape());
    }

    /** S = -log softmax(z)_c per row (the exponential of {@link #logScores}; tiny S may underflow to 0). */
    static double[] scores(INDArray logits, int[] labels) {
        double[] out = logScores(logits, labels);
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.exp(out[i]);
        }
        return out;
    }

    /**
     * log S per row, S = -log softmax(z)_c, accurate for any lead of the target logit (see the class
     * comment); -infinity only when there is a single class.
     */
    static double[] logScores(INDArray logits, int[] labels) {
        INDArray z = logits.castTo(DataType.DOUBLE);
        double[] out = new double[labels.length];
        for (int i = 0; i < labels.length; i++) {
            out[i] = logScore(z.getRow(i).toDoubleVector(), labels[i]);
        }
        return out;
    }

    /** log S for one row of logits z and target class c. */
    static double logScore(double[] z, int c) {
        double zc = z[c];
        double mOther = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < z.length; k++) {
            if (k != c) {
                mOther = Math.max(mOther, z[k]);
            }
        }
        if (mOther == Double.NEGATIVE_INFINITY) {
            return Double.NEGATIVE_INFINITY; // one class: S = 0
        }
        if (mOther > zc) {
            // another class leads: S = (m - z_c) + log(sum_k exp(z_k - m)) >= m - z_c > 0, no cancellation
            double se = 0;
            for (double v : z) {
                se += Math.exp(v - mOther);
            }
            return Math.log(mOther - zc + Math.log(se));
        }
        // z_c leads (or ties): S = log1p(t), t = sum_{k != c} exp(z_k - z_c) <= k - 1
        double se = 0;
        for (int k = 0; k < z.length; k++) {
            if (k != c) {
                se += Math.exp(z[k] - mOther);
            }
        }
        double logT = mOther - zc + Math.log(se);
        if (logT < -20) {
            // log(log1p(t)) = log t + log(1 - t/2 + t^2/3 - ...) = log t - t/2 + O(t^2); t < 2e-9
            return logT - 0.5 * Math.exp(logT);
        }
        return Math.log(Math.log1p(Math.exp(logT)));
    }
}
