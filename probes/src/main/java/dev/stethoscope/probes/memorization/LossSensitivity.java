package dev.stethoscope.probes.memorization;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Loss sensitivity (Arpit et al. 2017; METHODS.md section 5): for a training
 * example x after t updates, g_x^t = ||dL_t/dx||_1, the L1 norm of the input
 * gradient of the example's own loss; g_x is its average over the times it was
 * measured. The Gini coefficient of {g_x} is near 0 when the network is equally
 * sensitive to all examples. The per-class matrix has cell (i, j) = mean over
 * examples of class j of ||dL(y = i)/dx||_1.
 *
 * <p>Static methods compute one measurement on a network (an analysis copy,
 * see {@link InputGradients#analysisCopy}); an instance accumulates the running
 * average per example index. Instances are not thread-safe.
 */
public final class LossSensitivity implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private final Map<Long, double[]> sums = new HashMap<>();

    /**
     * Per example: ||dL(x_n, y_n)/dx_n||_1 (the network's configured loss on the given labels).
     *
     * @return one value per row of {@code features}
     */
    public static double[] perExampleL1(MultiLayerNetwork net, INDArray features, INDArray labels) {
        INDArray g = InputGradients.perExample(net, features, labels);
        int n = (int) g.size(0);
        INDArray flat = g.reshape('c', n, g.length() / n);
        return flat.norm1(1).toDoubleVector();
    }

    /**
     * Per example: the L1 norm over all inputs of dL(x_n, y_n)/dx_n for a single-output ComputationGraph (a copy
     * from {@link InputGradients#graphAnalysisCopy}).
     */
    public static double[] perExampleL1(org.deeplearning4j.nn.graph.ComputationGraph net, INDArray[] features,
                                        INDArray labels) {
        INDArray[] g = InputGradients.perExample(net, features, labels);
        double[] out = new double[(int) labels.size(0)];
        for (INDArray gi : g) {
            int n = (int) gi.size(0);
            double[] r = gi.reshape('c', n, gi.length() / n).norm1(1).toDoubleVector();
            for (int e = 0; e < n; e++) {
                out[e] += r[e];
            }
        }
        return out;
    }

    /**
     * The per-class sensitivity matrix: cell [i][j] = mean over the examples of
     * class j (argmax of their label row) of ||dL(y = i)/dx||_1, where L(y = i) is
     * the network's loss with one-hot label i (for softmax with cross-entropy:
     * -log p_i). One backward pass per class. Columns of classes without examples are NaN.
     *
     * @param labels one-hot (or probability) label rows giving each example's class
     */
    public static double[][] perClassMatrix(MultiLayerNetwork net, INDArray features, INDArray labels) {
        return perClassMatrix(y -> perExampleL1(net, features, y), features, labels);
    }

    /**
     * The per-class sensitivity matrix ({@link #perClassMatrix(MultiLayerNetwork, INDArray, INDArray)}) of a
     * single-input, single-output graph (a copy from {@link InputGradients#graphAnalysisCopy}).
     */
    public static double[][] perClassMatrix(org.deeplearning4j.nn.graph.ComputationGraph net, INDArray features,
                                            INDArray labels) {
        return perClassMatrix(y -> perExampleL1(net, new INDArray[]{features}, y), features, labels);
    }

    /**
     * The per-class sensitivity matrix of a single-output graph with one or more inputs (a copy from
     * {@link InputGradients#graphAnalysisCopy}): ||dL(y = i)/dx||_1 is the L1 norm over every input's gradient (the
     * norm of their concatenation).
     */
    public static double[][] perClassMatrix(org.deeplearning4j.nn.graph.ComputationGraph net, INDArray[] features,
                                            INDArray labels) {
        return perClassMatrix(y -> perExampleL1(net, features, y), features[0], labels);
    }

    private static double[][] perClassMatrix(java.util.function.Function<INDArray, double[]> l1, INDArray features,
                                             INDArray labels) {
        int k = (int) labels.size(1);
        int n = (int) features.size(0);
        int[] cls = InputGradients.argmax(labels);
        int[] count = new int[k];
        for (int c : cls) {
            count[c]++;
        }
        double[][] m = new double[k][k];
        for (int i = 0; i < k; i++) {
            int[] all = new int[n];
            Arrays.fill(all, i);
            double[] g = l1.apply(InputGradients.oneHot(all, k, features));
            double[] sum = new double[k];
            for (int e = 0; e < n; e++) {
                sum[cls[e]] += g[e];
            }
            for (int j = 0; j < k; j++) {
                m[i][j] = count[j] == 0 ? Double.NaN : sum[j] / count[j];
            }
        }
        return m;
    }

    /**
     * Gini coefficient of non-negative values: sorted ascending,
     * G = sum_i (2i - n - 1) v_i / (n sum_i v_i), i = 1..n. 0 when all values are
     * equal (and, by convention, when all are 0); (n-1)/n when one value holds everything.
     *
     * @throws IllegalArgumentException for an empty array, a negative or a non-finite value
     */
    public static double gini(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("Gini of an empty set is undefined");
        }
        double[] v = values.clone();
        for (double x : v) {
            if (!(x >= 0) || !Double.isFinite(x)) {
                throw new IllegalArgumentException("Gini needs finite non-negative values, got " + x);
            }
        }
        Arrays.sort(v);
        int n = v.length;
        double num = 0;
        double sum = 0;
        for (int i = 1; i <= n; i++) {
            num += (2.0 * i - n - 1) * v[i - 1];
            sum += v[i - 1];
        }
        return sum == 0 ? 0.0 : num / (n * sum);
    }

    /**
     * Adds one measurement per example to the running averages.
     *
     * @param exampleIndices stable example indices (one per value)
     * @param values         g_x^t of each example
     */
    public void add(long[] exampleIndices, double[] values) {
        if (exampleIndices.length != values.length) {
            throw new IllegalArgumentException(exampleIndices.length + " indices for " + values.length + " values");
        }
        for (int i = 0; i < values.length; i++) {
            double[] s = sums.computeIfAbsent(exampleIndices[i], key -> new double[2]);
            s[0] += values[i];
            s[1] += 1;
        }
    }

    /** Measures {@code features}/{@code labels} on {@code net} and adds the values; returns them. */
    public double[] measure(MultiLayerNetwork net, long[] exampleIndices, INDArray features, INDArray labels) {
        double[] g = perExampleL1(net, features, labels);
        add(exampleIndices, g);
        return g;
    }

    /** Number of examples with at least one measurement. */
    public int size() {
        return sums.size();
    }

    /** Average g_x of each measured example, keyed by example index. */
    public Map<Long, Double> averages() {
        Map<Long, Double> out = new HashMap<>();
        sums.forEach((k, s) -> out.put(k, s[0] / s[1]));
        return out;
    }

    /** Gini coefficient of the averaged g_x over the measured examples. */
    public double gini() {
        if (sums.isEmpty()) {
            throw new IllegalStateException("No loss sensitivity measured yet");
        }
        double[] v = new double[sums.size()];
        int i = 0;
        for (double[] s : sums.values()) {
            v[i++] = s[0] / s[1];
        }
        return gini(v);
    }

    /** Forgets every measurement. */
    public void reset() {
        sums.clear();
    }
}
