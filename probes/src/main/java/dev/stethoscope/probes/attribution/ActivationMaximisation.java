package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

/**
 * Activation maximisation (Erhan et al. 2009): gradient ascent on the input to maximise one unit's activation
 * (after the layer's activation function; for the output layer, the pre-softmax logit), keeping the input on
 * the sphere ||x|| = norm (the data's average norm, {@link #averageNorm}). Several random starts run together;
 * each step moves along the normalised gradient, projects back to the sphere and is kept only if the
 * activation increases (otherwise the step size halves), so each start's activation never decreases.
 */
public final class ActivationMaximisation {

    /**
     * @param inputs             the optimised inputs, one per start, of the input's shape
     * @param initialActivations the unit's activation at each random start
     * @param finalActivations   the unit's activation at the end
     * @param trace              per start, the activation after each iteration
     */
    public record Result(INDArray inputs, double[] initialActivations, double[] finalActivations, double[][] trace) {
    }

    /** The unrolled MultiLayerNetwork, or null for a graph. */
    private final Propagation prop;
    /** The unrolled graph, or null for a MultiLayerNetwork. */
    private final GraphPropagation graph;
    private final int layer;
    private final long unit;

    /**
     * On a copy: the unit (flat index in one example's layer output) of the layer given by name or index; for a
     * single-input ComputationGraph, of the layer vertex given by name (the output vertex: its logits).
     */
    public ActivationMaximisation(NetworkCopy copy, String layer, long unit) {
        if (copy.model() instanceof org.deeplearning4j.nn.graph.ComputationGraph g) {
            this.prop = null;
            this.graph = GraphPropagation.of(g, "Activation maximisation");
            if (graph.inputNames().size() != 1) {
                throw new IllegalArgumentException("Activation maximisation optimises one input array; this graph has "
                        + "inputs " + graph.inputNames());
            }
            this.layer = graph.layerEnd(layer);
        } else {
            this.graph = null;
            this.prop = Propagation.of(copy.multiLayer(), "Activation maximisation");
            this.layer = prop.layerIndex(layer);
        }
        this.unit = unit;
        if (unit < 0) {
            throw new IllegalArgumentException("Unit index must be >= 0, got " + unit);
        }
    }

    /** Mean Euclidean norm of the examples (rows) of {@code data}. */
    public static double averageNorm(INDArray data) {
        long n = data.size(0);
        return data.dup('c').reshape('c', n, data.length() / n).norm2(1).meanNumber().doubleValue();
    }

    /**
     * Runs the ascent.
     *
     * @param exampleShape one example's shape (without the batch axis)
     * @param norm         the fixed input norm (&gt; 0)
     * @param starts       number of random starts (&gt;= 1)
     * @param iterations   ascent steps (&gt;= 1)
     * @param stepSize     initial step length, as a fraction of the norm
     * @param seed         random seed
     */
    public Result run(long[] exampleShape, double norm, int starts, int iterations, double stepSize, long seed) {
        if (norm <= 0 || starts < 1 || iterations < 1 || stepSize <= 0) {
            throw new IllegalArgumentException("Activation maximisation needs norm > 0, starts >= 1, iterations >= 1, "
                    + "stepSize > 0; got " + norm + ", " + starts + ", " + iterations + ", " + stepSize);
        }
        long d = 1;
        for (long s : exampleShape) {
            d *= s;
        }
        long[] shape = new long[exampleShape.length + 1];
        shape[0] = starts;
        System.arraycopy(exampleShape, 0, shape, 1, exampleShape.length);
        org.nd4j.linalg.api.rng.Random rng = Nd4j.getRandomFactory().getNewRandomInstance(seed);
        INDArray x = project(Nd4j.randn(rng, starts, d).castTo(graph != null ? graph.dataType() : prop.dataType()), norm);
        int at = graph != null ? layer : prop.layerEnd(layer);
        double[] act = activations(x, shape, at);
        long units = forward(x.reshape('c', shape).getRows(0)).get(at).length();
        if (unit >= units) {
            throw new IllegalArgumentException("Unit " + unit + " out of range: layer " + layer + " has " + units + " units");
        }
        double[] initial = act.clone();
        double[] lr = new double[starts];
        java.util.Arrays.fill(lr, stepSize * norm);
        double[][] trace = new double[starts][iterations];
        for (int it = 0; it < iterations; it++) {
            INDArray g = gradient(x, shape, at).reshape('c', starts, d);
            INDArray gn = g.norm2(1);
            INDArray cand = x.dup();
            for (int i = 0; i < starts; i++) {
                double nrm = gn.getDouble(i);
                if (nrm > 0) {
                    cand.getRow(i).addi(g.getRow(i).mul(lr[i] / nrm));
                }
            }
            cand = project(cand, norm);
            double[] ca = activations(cand, shape, at);
            for (int i = 0; i < starts; i++) {
                if (ca[i] > act[i]) {
                    x.getRow(i).assign(cand.getRow(i));
                    act[i] = ca[i];
                    lr[i] *= 1.2;
                } else {
                    lr[i] *= 0.5;
                }
                trace[i][it] = act[i];
            }
        }
        return new Result(x.reshape('c', shape), initial, act, trace);
    }

    private static INDArray project(INDArray rows, double norm) {
        INDArray n = rows.norm2(1).reshape(rows.size(0), 1);
        return rows.divColumnVector(n.addi(1e-30)).muli(norm);
    }

    private List<INDArray> forward(INDArray x) {
        return graph != null ? graph.forward(x) : prop.forward(x);
    }

    private double[] activations(INDArray rows, long[] shape, int at) {
        INDArray a = forward(rows.reshape('c', shape)).get(at);
        long n = a.size(0);
        INDArray flat = a.dup('c').reshape('c', n, a.length() / n);
        return flat.getColumn(unit).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleVector();
    }

    private INDArray gradient(INDArray rows, long[] shape, int at) {
        List<INDArray> acts = forward(rows.reshape('c', shape));
        INDArray a = acts.get(at);
        long n = a.size(0);
        INDArray seed = Nd4j.zeros(a.dataType(), n, a.length() / n);
        seed.getColumn(unit).assign(1);
        if (graph != null) {
            INDArray[] sig = graph.propagate(acts, at, seed.reshape('c', a.shape()), 0, Propagation.GRADIENT,
                    GraphPropagation.GRADIENT);
            return graph.atInputs(sig, acts)[0];
        }
        return prop.propagate(acts, at, seed.reshape('c', a.shape()), 0, Propagation.GRADIENT, null);
    }
}
