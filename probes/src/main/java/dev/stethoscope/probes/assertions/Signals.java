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

    /** @return the fraction of values exactly zero */
    public static double zeroFraction(INDArray a) {
        return a.length() == 0 ? Double.NaN : a.eq(0.0).castTo(DataType.INT64).sumNumber().doubleValue() / a.length();
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
        double hits;
        if (fn instanceof ActivationTanH) {
            hits = count(org.nd4j.linalg.ops.transforms.Transforms.abs(a, true).gte(TANH5));
        } else if (fn instanceof ActivationSigmoid) {
            hits = count(a.lte(SIGMOID_MINUS5)) + count(a.gte(1 - SIGMOID_MINUS5));
        } else if (fn instanceof ActivationHardTanH) {
            hits = count(org.nd4j.linalg.ops.transforms.Transforms.abs(a, true).gte(1.0));
        } else if (fn instanceof ActivationHardSigmoid) {
            hits = count(a.lte(0.0)) + count(a.gte(1.0));
        } else {
            return Double.NaN;
        }
        return hits / a.length();
    }

    private static double count(INDArray bool) {
        return bool.castTo(DataType.INT64).sumNumber().doubleValue();
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
        double[] zero = new double[n];
        double[] sat = new double[n];
        java.util.Arrays.fill(zero, Double.NaN);
        java.util.Arrays.fill(sat, Double.NaN);
        long nonFinite = 0;
        for (int i = 0; i + 1 < feedForward.size(); i++) {
            INDArray a = feedForward.get(i + 1);
            IActivation fn = activationOf(conf.getConf(i).getLayer());
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

    /** @return the predicted (arg-max) class of each row of a [batch, classes] output or label array */
    public static int[] classes(INDArray output) {
        if (output.rank() != 2) {
            throw new IllegalArgumentException("Expected [batch, classes], got shape " + java.util.Arrays.toString(output.shape()));
        }
        if (output.size(1) == 1) {
            return output.gte(0.5).castTo(DataType.INT32).toIntVector();
        }
        return output.argMax(1).castTo(DataType.INT32).toIntVector();
    }
}
