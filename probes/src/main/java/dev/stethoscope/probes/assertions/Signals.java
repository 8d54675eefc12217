package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.conditions.Conditions;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns ND4J arrays of one training step into the plain values of {@link StepSignals}. Every
 * method reads its arrays only.
 *
 * <p>Saturation rule: a pre-activation beyond +-5 is recognised from the activation itself, as
 * |tanh(z)| >= tanh(5), sigmoid(z) <= sigmoid(-5) or >= sigmoid(5); hard tanh/sigmoid count values
 * at their bounds. Zero rule: rectified layers (ReLU without negative slope, ReLU6) count values
 * that are exactly 0.
 */
public final class Signals {
    private static final double TANH5 = Math.tanh(5);
    private static final double SIGMOID_MINUS5 = 1 / (1 + Math.exp(5));

    private Signals() {
    }

    /** Per-layer norms with layer names. */
    public record LayerNorms(String[] names, double[] norms, long[] counts) {
    }

    /** Per-layer activation statistics of one forward pass. */
    public record ActivationSignals(double[] zeroFractions, double[] saturatedFractions, long nonFinite) {
    }

    /** @return the number of NaN or infinite values */
    public static long nonFiniteCount(INDArray a) {
        if (!a.dataType().isFPType() || Double.isFinite(a.sumNumber().doubleValue())) {
            return 0; // one reduction in the usual case: a sum is finite only when every value is
        }
        return a.isNaN().castTo(DataType.INT64).sumNumber().longValue()
                + a.isInfinite().castTo(DataType.INT64).sumNumber().longValue();
    }

    /** @return the fraction of values exactly zero (one counting pass, no temporary array) */
    public static double zeroFraction(INDArray a) {
        if (a.length() == 0) {
            return Double.NaN;
        }
        // one counting reduction (x == 0, so +-0; NaN is not zero), no temporary array
        return org.nd4j.linalg.factory.Nd4j.getExecutioner()
                .exec(new org.nd4j.linalg.api.ops.impl.reduce.longer.CountZero(a)).getDouble(0) / a.length();
    }

    /** @return whether the activation function produces exact zeros for negative inputs */
    public static boolean rectified(IActivation fn) {
        if (fn instanceof ActivationReLU r) {
            return r.getNegativeSlope() == null || r.getNegativeSlope() == 0.0;
        }
        return fn instanceof ActivationReLU6;
    }

    /**
     * @return the fraction of values whose pre-activation lies beyond +-5 (see the class comment),
     *         NaN when {@code fn} is not a sigmoid or tanh (hard or smooth)
     */
    public static double saturatedFraction(INDArray a, IActivation fn) {
        if (a.length() == 0) {
            return Double.NaN;
        }
        // counting passes (match conditions): no temporary arrays
        double hits;
        if (fn instanceof ActivationTanH) {
            hits = count(a, Conditions.absGreaterThanOrEqual(TANH5));
        } else if (fn instanceof ActivationSigmoid) {
            hits = count(a, Conditions.lessThanOrEqual(SIGMOID_MINUS5)) + count(a, Conditions.greaterThanOrEqual(1 - SIGMOID_MINUS5));
        } else if (fn instanceof ActivationHardTanH) {
            hits = count(a, Conditions.absGreaterThanOrEqual(1.0));
        } else if (fn instanceof ActivationHardSigmoid) {
            hits = count(a, Conditions.lessThanOrEqual(0.0)) + count(a, Conditions.greaterThanOrEqual(1.0));
        } else {
            return Double.NaN;
        }
        return hits / a.length();
    }

    private static double count(INDArray a, org.nd4j.linalg.indexing.conditions.Condition c) {
        return a.scan(c).doubleValue();
    }

    /**
     * Activation statistics of a forward pass of a {@link MultiLayerConfiguration}'s network.
     *
     * @param feedForward {@code net.feedForward(x, ...)}: index 0 the input, index i+1 layer i's output;
     *                    the list a listener gets in {@code onForwardPass} (without the output layer's
     *                    activations) is accepted too, and the output layer's entries are then NaN
     * @param conf        the network's configuration (for each layer's activation function)
     * @return zero and saturated fractions per layer (NaN where not applicable or not given) and the
     *         count of non-finite values over the layers' outputs
     */
    public static ActivationSignals activations(List<INDArray> feedForward, MultiLayerConfiguration conf) {
        int n = conf.getConfs().size();
        if (feedForward.size() != n + 1 && feedForward.size() != n) {
            throw new IllegalArgumentException("Expected " + (n + 1) + " arrays (input and one per layer) or " + n
                    + " (without the output layer), got " + feedForward.size());
        }
        List<INDArray> outs = new ArrayList<>(n);
        List<IActivation> fns = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            outs.add(i + 1 < feedForward.size() ? feedForward.get(i + 1) : null);
            fns.add(activationOf(conf.getConf(i).getLayer()));
        }
        return activations(outs, fns);
    }

    /**
     * Zero and saturated fractions and non-finite values of layer outputs given with their
     * activation functions (a {@code ComputationGraph}'s layer vertices, for instance).
     *
     * @param outputs     each layer's output (null: not available, its entries are NaN)
     * @param activations each layer's activation function (null: none)
     */
    public static ActivationSignals activations(List<INDArray> outputs, List<IActivation> activations) {
        int n = outputs.size();
        if (activations.size() != n) {
            throw new IllegalArgumentException(n + " outputs but " + activations.size() + " activation functions");
        }
        double[] zero = new double[n];
        double[] sat = new double[n];
        java.util.Arrays.fill(zero, Double.NaN);
        java.util.Arrays.fill(sat, Double.NaN);
        long nonFinite = 0;
        for (int i = 0; i < n; i++) {
            INDArray a = outputs.get(i);
            if (a == null) {
                continue;
            }
            IActivation fn = activations.get(i);
            zero[i] = fn != null && rectified(fn) ? zeroFraction(a) : Double.NaN;
            sat[i] = fn == null ? Double.NaN : saturatedFraction(a, fn);
            nonFinite += nonFiniteCount(a);
        }
        return new ActivationSignals(zero, sat, nonFinite);
    }

    /** @return the layer's activation function, or null when it has none */
    public static IActivation activationOf(Layer layer) {
        if (layer instanceof BaseLayer b) {
            return b.getActivationFn();
        }
        if (layer instanceof ActivationLayer a) {
            return a.getActivationFn();
        }
        return null;
    }

    /**
     * L2 norm per layer of a DL4J parameter-keyed map ({@code "0_W"}, {@code "0_b"}, {@code "1_W"}, ...;
     * as {@code net.paramTable()} or {@code gradient.gradientForVariable()}), layers in index order.
     * Keys without a numeric layer prefix are grouped under their prefix after the numeric ones.
 * Also gives each layer's parameter count (for {@link StepSignals#gradientRms(int)}).
     */
    public static LayerNorms layerNorms(Map<String, INDArray> byKey) {
        java.util.Comparator<String> order = (x, y) -> {
            boolean nx = x.chars().allMatch(Character::isDigit);
            boolean ny = y.chars().allMatch(Character::isDigit);
            if (nx && ny) {
                return Long.compare(Long.parseLong(x), Long.parseLong(y));
            }
            return nx ? -1 : ny ? 1 : x.compareTo(y);
        };
        Map<String, Double> squares = new TreeMap<>(order);
        Map<String, Long> counts = new TreeMap<>(order);
        for (Map.Entry<String, INDArray> e : byKey.entrySet()) {
            int u = e.getKey().indexOf('_');
            String layer = u < 0 ? e.getKey() : e.getKey().substring(0, u);
            double norm = e.getValue().norm2Number().doubleValue();
            squares.merge(layer, norm * norm, Double::sum);
            counts.merge(layer, e.getValue().length(), Long::sum);
        }
        List<String> names = new ArrayList<>(squares.keySet());
        double[] norms = new double[names.size()];
        long[] sizes = new long[names.size()];
        for (int i = 0; i < norms.length; i++) {
            norms[i] = Math.sqrt(squares.get(names.get(i)));
            sizes[i] = counts.get(names.get(i));
        }
        return new LayerNorms(names.stream().map(s -> "layer " + s).toArray(String[]::new), norms, sizes);
    }

    /**
     * L2 norm per layer of a {@link org.deeplearning4j.nn.multilayer.MultiLayerNetwork}'s parameters or
     * gradient buffer, one reduction per layer over the layer's slice of the network's flat buffer
     * (DL4J keeps each layer's parameters, and its gradients, contiguous), rather than one per
     * parameter. Layers without parameters are left out; names and order as {@link #layerNorms(Map)}
     * gives them for {@code net.paramTable()}.
     *
     * @param net       the network
     * @param gradients true for the gradient buffer (the raw gradient before the updater, the update
     *                  after it), false for the parameters
     * @return the norms, or null when a layer with parameters has no flat view of them
     */
    public static LayerNorms layerNorms(org.deeplearning4j.nn.multilayer.MultiLayerNetwork net, boolean gradients) {
        org.deeplearning4j.nn.api.Layer[] layers = net.getLayers();
        List<String> names = new ArrayList<>();
        double[] norms = new double[layers.length];
        long[] counts = new long[layers.length];
        int k = 0;
        for (int i = 0; i < layers.length; i++) {
            long n = layers[i].numParams();
            if (n == 0) {
                continue;
            }
            INDArray view = gradients ? layers[i].getGradientsViewArray() : layers[i].params();
            if (view == null || view.length() != n) {
                return null; // no flat view (e.g. a wrapper layer): the caller falls back to the per-parameter map
            }
            names.add("layer " + i);
            norms[k] = view.norm2Number().doubleValue();
            counts[k] = view.length();
            k++;
        }
        return new LayerNorms(names.toArray(String[]::new), java.util.Arrays.copyOf(norms, k), java.util.Arrays.copyOf(counts, k));
    }

    /**
     * L2 norm per layer of a {@link org.deeplearning4j.nn.graph.ComputationGraph}'s parameters or gradient
     * buffer: one reduction per layer vertex over its slice of the graph's flat buffer, layers with
     * parameters in topological order (so the first is nearest an input, the last is an output layer),
     * named {@code "layer <vertex name>"}.
     *
     * @param graph     the graph
     * @param gradients true for the gradient buffer (raw gradient before the updater, update after it)
     * @return the norms, or null when a layer with parameters has no flat view of them
     */
    public static LayerNorms layerNorms(org.deeplearning4j.nn.graph.ComputationGraph graph, boolean gradients) {
        org.deeplearning4j.nn.graph.vertex.GraphVertex[] vertices = graph.getVertices();
        List<String> names = new ArrayList<>();
        double[] norms = new double[vertices.length];
        long[] counts = new long[vertices.length];
        int k = 0;
        for (int v : graph.topologicalSortOrder()) {
            org.deeplearning4j.nn.graph.vertex.GraphVertex gv = vertices[v];
            if (!gv.hasLayer()) {
                continue;
            }
            org.deeplearning4j.nn.api.Layer layer = gv.getLayer();
            long n = layer.numParams();
            if (n == 0) {
                continue;
            }
            INDArray view = gradients ? layer.getGradientsViewArray() : layer.params();
            if (view == null || view.length() != n) {
                return null;
            }
            names.add("layer " + gv.getVertexName());
            norms[k] = view.norm2Number().doubleValue();
            counts[k] = n;
            k++;
        }
        return new LayerNorms(names.toArray(String[]::new), java.util.Arrays.copyOf(norms, k), java.util.Arrays.copyOf(counts, k));
    }

    /** @return the predicted (arg-max) class of each row of a [batch, classes] output or label array */
    public static int[] classes(INDArray output) {
        if (output.rank() != 2) {
            throw new IllegalArgumentException("Expected [batch, classes], got shape " + java.util.Arrays.toString(output.shape()));
        }
        if (output.size(1) == 1) {
            return output.gte(0.5).castTo(DataType.INT32).toIntVector();
        }
        int[] fast = rowArgMaxInJava(output);
        return fast != null ? fast : output.argMax(1).castTo(DataType.INT32).toIntVector();
    }

    /**
     * Arg-max of each row read straight from the array's buffer (no ND4J op: an op costs tens of
     * microseconds even on a batch of labels), for a float or double array laid out row by row
     * (c order, unit column stride, rows {@code size(1)} apart; views of whole rows included);
     * null otherwise. Ties go to the first column, as ND4J's arg-max; NaN is never the maximum.
     */
    static int[] rowArgMaxInJava(INDArray a) {
        long rows = a.size(0);
        long cols = a.size(1);
        boolean rowMajor = a.ordering() == 'c' && a.stride(1) == 1 && (rows == 1 || a.stride(0) == cols);
        if (!rowMajor || a.offset() + rows * cols > Integer.MAX_VALUE
                || (a.dataType() != DataType.FLOAT && a.dataType() != DataType.DOUBLE)) {
            return null;
        }
        int off = (int) a.offset();
        int n = (int) rows;
        int c = (int) cols;
        int[] out = new int[n];
        if (a.dataType() == DataType.FLOAT) {
            java.nio.FloatBuffer b = a.data().asNioFloat();
            if (b.capacity() < off + n * c) {
                return null;
            }
            for (int r = 0; r < n; r++) {
                int base = off + r * c;
                int best = 0;
                float max = b.get(base);
                for (int j = 1; j < c; j++) {
                    float v = b.get(base + j);
                    if (v > max || (Float.isNaN(max) && !Float.isNaN(v))) {
                        max = v;
                        best = j;
                    }
                }
                out[r] = best;
            }
        } else {
            java.nio.DoubleBuffer b = a.data().asNioDouble();
            if (b.capacity() < off + n * c) {
                return null;
            }
            for (int r = 0; r < n; r++) {
                int base = off + r * c;
                int best = 0;
                double max = b.get(base);
                for (int j = 1; j < c; j++) {
                    double v = b.get(base + j);
                    if (v > max || (Double.isNaN(max) && !Double.isNaN(v))) {
                        max = v;
                        best = j;
                    }
                }
                out[r] = best;
            }
        }
        return out;
    }
}
