package dev.stethoscope.probes.model;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;
import java.util.Map;

/**
 * The inputs of a ComputationGraph with several inputs as one array, and back.
 *
 * <p>The joint form of one example is the concatenation of its inputs, each flattened (row-major), in the order of
 * the graph's inputs: [n, sum of the inputs' sizes]. Monitors that hold one array of examples (probe sets, per-example
 * assertions, suspects' features) hold this form for such a graph; {@link #split(ComputationGraph, INDArray)} turns
 * it back into the arrays the graph takes. For a graph with one input the joint form is the input itself.
 */
public final class GraphInputs {
    private GraphInputs() {
    }

    /** The joint form of {@code xs} (one array per input, same rows): each flattened, then concatenated. */
    public static INDArray joint(INDArray[] xs) {
        if (xs.length == 1) {
            return xs[0];
        }
        long n = xs[0].size(0);
        INDArray[] flat = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            if (xs[i].size(0) != n) {
                throw new IllegalArgumentException("All inputs need the same number of rows; got " + n + " and "
                        + xs[i].size(0));
            }
            flat[i] = xs[i].dup('c').reshape('c', n, xs[i].length() / n);
        }
        return Nd4j.hstack(flat);
    }

    /** The joint form of the graph's inputs among {@code activations} (as {@code onForwardPass} gives them). */
    public static INDArray joint(ComputationGraph graph, Map<String, INDArray> activations) {
        List<String> names = graph.getConfiguration().getNetworkInputs();
        INDArray[] xs = new INDArray[names.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = activations.get(names.get(i));
            if (xs[i] == null) {
                return null;
            }
        }
        return joint(xs);
    }

    /**
     * Splits a joint array: {@code shapes[i]} is input i's shape (its first dimension is replaced by the joint
     * array's rows).
     */
    public static INDArray[] split(INDArray joint, long[][] shapes) {
        if (shapes.length == 1 && joint.rank() == shapes[0].length) {
            return new INDArray[]{joint};
        }
        long n = joint.size(0);
        INDArray flat = joint.rank() == 2 ? joint : joint.reshape('c', n, joint.length() / n);
        INDArray[] out = new INDArray[shapes.length];
        long at = 0;
        for (int i = 0; i < shapes.length; i++) {
            long[] s = shapes[i].clone();
            s[0] = n;
            long d = 1;
            for (int k = 1; k < s.length; k++) {
                d *= s[k];
            }
            out[i] = flat.get(NDArrayIndex.all(), NDArrayIndex.interval(at, at + d)).dup('c').reshape('c', s);
            at += d;
        }
        if (at != flat.size(1)) {
            throw new IllegalArgumentException("A joint array of " + flat.size(1) + " values per example does not match "
                    + "the inputs' sizes (" + at + " in all)");
        }
        return out;
    }

    /**
     * The arrays {@code graph} takes for a joint array: the array itself for a graph with one input; for several
     * inputs, split by the inputs' sizes ({@link #inputSizes}).
     *
     * @throws IllegalArgumentException when the sizes cannot be read from the configuration, or do not add up to the
     *                                  joint array's width
     */
    public static INDArray[] split(ComputationGraph graph, INDArray joint) {
        if (graph.getConfiguration().getNetworkInputs().size() == 1) {
            return new INDArray[]{joint};
        }
        long[] sizes = inputSizes(graph);
        long[][] shapes = new long[sizes.length][];
        long total = 0;
        for (int i = 0; i < sizes.length; i++) {
            shapes[i] = new long[]{-1, sizes[i]};
            total += sizes[i];
        }
        long width = joint.length() / Math.max(1, joint.size(0));
        if (width != total) {
            throw new IllegalArgumentException("The graph's inputs " + graph.getConfiguration().getNetworkInputs()
                    + " take " + java.util.Arrays.toString(sizes) + " values per example (" + total + " in all); the "
                    + "joint array has " + width);
        }
        return split(joint, shapes);
    }

    /**
     * Checks, when a monitor is built, that {@code model} can take data in the joint form: nothing to check for a
     * MultiLayerNetwork or a graph with one input; for a graph with several inputs the size of every input must be
     * readable ({@link #inputSizes}) and each given array ({@code null}s skipped) must have the joint width.
     *
     * @param monitor names the monitor in the message
     * @throws IllegalArgumentException naming the input whose size cannot be read, or the expected and given widths
     */
    public static void checkJointForm(org.deeplearning4j.nn.api.Model model, String monitor, INDArray... joints) {
        if (!(model instanceof ComputationGraph graph) || graph.getConfiguration().getNetworkInputs().size() < 2) {
            return;
        }
        long[] sizes;
        try {
            sizes = inputSizes(graph);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(monitor + " cannot follow this graph with several inputs: "
                    + e.getMessage(), e);
        }
        long total = java.util.Arrays.stream(sizes).sum();
        for (INDArray x : joints) {
            if (x != null && x.length() / Math.max(1, x.size(0)) != total) {
                throw new IllegalArgumentException(monitor + ": the graph's inputs "
                        + graph.getConfiguration().getNetworkInputs() + " take " + java.util.Arrays.toString(sizes)
                        + " values per example; give data in the joint form (" + total + " values per example, the "
                        + "inputs flattened and concatenated in this order), not " + x.length() / Math.max(1, x.size(0)));
            }
        }
    }

    /**
     * The number of values per example of each input of {@code graph}, read from the layers that consume it: a
     * feed-forward layer's nIn, or the flat size of a feed-forward-to-CNN preprocessor (inputs declared with
     * {@code InputType.convolutionalFlat}).
     *
     * @throws IllegalArgumentException naming the input when no consumer tells its size (e.g. a convolution layer
     *                                  reading a rank-4 input, or a merge vertex reading it directly)
     */
    public static long[] inputSizes(ComputationGraph graph) {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<String> names = conf.getNetworkInputs();
        long[] sizes = new long[names.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = sizeOf(conf, names.get(i));
            if (sizes[i] <= 0) {
                throw new IllegalArgumentException("The size of input '" + names.get(i) + "' cannot be read from the "
                        + "graph's configuration (no feed-forward layer or flat-to-CNN preprocessor reads it directly): "
                        + "monitors that hold the concatenated inputs of a graph with several inputs support flat "
                        + "inputs (feed-forward, or InputType.convolutionalFlat)");
            }
        }
        return sizes;
    }

    private static long sizeOf(ComputationGraphConfiguration conf, String input) {
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            if (!e.getValue().contains(input)) {
                continue;
            }
            GraphVertex v = conf.getVertices().get(e.getKey());
            if (v instanceof LayerVertex lv) {
                InputPreProcessor pp = lv.getPreProcessor();
                if (pp instanceof FeedForwardToCnnPreProcessor f) {
                    return f.getInputHeight() * f.getInputWidth() * f.getNumChannels();
                }
                if (pp == null && lv.getLayerConf().getLayer() instanceof FeedForwardLayer ff && ff.getNIn() > 0
                        && !(ff instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer)) {
                    return ff.getNIn();
                }
            }
        }
        return -1;
    }
}
