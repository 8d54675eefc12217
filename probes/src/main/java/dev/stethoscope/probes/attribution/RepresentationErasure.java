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
 * output with d set to zero before the rest of the network runs. S is computed in double precision as
 * logsumexp(z) - z_c.
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

    private final Propagation prop;
    private final int layer;
    private final Unit unit;
    private final int batchSize;

    /** On a copy. */
    public RepresentationErasure(NetworkCopy copy, String layer, Unit unit) {
        this(new LogitNetwork(copy), AttributorBase.DEFAULT_BATCH, layer, unit);
    }

    /**
     * @param layer name or index of a layer that is not the output layer
     * @param unit  DIMENSION, or CHANNEL for a layer with output [n, c, h, w]
     */
    public RepresentationErasure(LogitNetwork net, int batchSize, String layer, Unit unit) {
        this.prop = Propagation.of(net.copy().multiLayer(), "Representation erasure");
        this.layer = prop.layerIndex(layer);
        if (this.layer == prop.numLayers() - 1) {
            throw new IllegalArgumentException("Representation erasure needs a hidden layer, not the output layer");
        }
        this.unit = unit;
        this.batchSize = Math.max(1, batchSize);
    }

    /** Computes I(d) for every unit of the layer over examples x with their correct labels. */
    public Result importance(INDArray x, int[] labels) {
        if (labels.length != x.size(0)) {
            throw new IllegalArgumentException("Need one label per example: " + x.size(0) + " vs " + labels.length);
        }
        int at = prop.layerEnd(layer);
        long n = x.size(0);
        double[] sum = null;
        double scoreSum = 0;
        for (long s = 0; s < n; s += batchSize) {
            long e = Math.min(n, s + batchSize);
            int[] lab = java.util.Arrays.copyOfRange(labels, (int) s, (int) e);
            List<INDArray> acts = prop.forward(LogitNetwork.rows(x, s, e));
            INDArray a = acts.get(at);
            double[] base = scores(acts.get(acts.size() - 1), lab);
            int units = numUnits(a);
            if (sum == null) {
                sum = new double[units];
            }
            for (double b : base) {
                scoreSum += b;
            }
            for (int d = 0; d < units; d++) {
                INDArray erased = erase(a, d);
                double[] sd = scores(prop.forwardFrom(at, erased), lab);
                for (int i = 0; i < lab.length; i++) {
                    sum[d] += (base[i] - sd[i]) / base[i];
                }
            }
        }
        for (int d = 0; d < sum.length; d++) {
            sum[d] /= n;
        }
        return new Result(String.valueOf(layer), unit, sum, scoreSum / n);
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

    /** S = -log softmax(z)_c = logsumexp(z) - z_c, per row. */
    static double[] scores(INDArray logits, int[] labels) {
        INDArray z = logits.castTo(DataType.DOUBLE);
        double[] out = new double[labels.length];
        for (int i = 0; i < labels.length; i++) {
            double[] row = z.getRow(i).toDoubleVector();
            double m = Double.NEGATIVE_INFINITY;
            for (double v : row) {
                m = Math.max(m, v);
            }
            double se = 0;
            for (double v : row) {
                se += Math.exp(v - m);
            }
            out[i] = m + Math.log(se) - row[labels[i]];
        }
        return out;
    }
}
