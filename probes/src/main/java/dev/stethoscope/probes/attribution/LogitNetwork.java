package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;
import java.util.Map;

/**
 * A view of a {@link NetworkCopy} whose output is the pre-softmax logits z and whose backward pass gives
 * d(sum_c w_c z_c)/dx for chosen weights w.
 *
 * <p>It is a second network built from the copy's configuration with the output layer's activation set to
 * IDENTITY, its loss replaced by {@link WeightedLogitLoss} and dropout removed (DL4J's backward pass runs layers
 * in training mode). It shares the copy's parameter buffer, so {@link NetworkCopy#refresh()} is seen here too.
 * Networks with BatchNormalization are rejected for gradients, since training mode would use batch statistics.
 *
 * <p>A {@link MultiLayerNetwork} and a single-output {@link ComputationGraph} with one or more inputs are
 * supported. For a graph the input gradients are the epsilons DL4J's own backward pass leaves at the input
 * vertices ({@link #gradients}); the single-input methods ({@link #logits(INDArray, int)},
 * {@link #gradient}) need a graph with exactly one input.
 */
public final class LogitNetwork {
    private final NetworkCopy copy;
    private final MultiLayerNetwork net;
    private final ComputationGraph graph;
    private final int numClasses;
    private final boolean gradientsAllowed;
    private final String gradientBlocker;

    /**
     * Builds the logit view of {@code copy}.
     *
     * @throws IllegalArgumentException if the copy's output layer is not an output layer with weights
     *                                  (OutputLayer and relatives), or a graph has more than one output
     */
    public LogitNetwork(NetworkCopy copy) {
        this.copy = copy;
        if (copy.model() instanceof ComputationGraph src) {
            ComputationGraphConfiguration conf = src.getConfiguration().clone();
            List<String> outs = conf.getNetworkOutputs();
            if (outs.size() != 1) {
                throw new IllegalArgumentException("Attribution supports single-output graphs; this graph has outputs "
                        + outs);
            }
            String blocker = null;
            for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
                if (e.getValue() instanceof LayerVertex lv) {
                    Layer l = lv.getLayerConf().getLayer();
                    l.setIDropout(null);
                    if (l instanceof BaseLayer bl) {
                        bl.setWeightNoise(null);
                    }
                    if (l instanceof BatchNormalization && blocker == null) {
                        blocker = "vertex '" + e.getKey() + "' is BatchNormalization (gradients would use batch statistics)";
                    }
                }
            }
            GraphVertex outV = conf.getVertices().get(outs.get(0));
            Layer last = outV instanceof LayerVertex lv ? lv.getLayerConf().getLayer() : null;
            if (!(last instanceof BaseOutputLayer out)) {
                throw new IllegalArgumentException("Attribution needs an output layer with weights (OutputLayer) as the "
                        + "graph's output; vertex '" + outs.get(0) + "' is "
                        + (last == null ? outV.getClass().getSimpleName() : last.getClass().getSimpleName()));
            }
            out.setActivationFn(new ActivationIdentity());
            out.setLossFn(new WeightedLogitLoss());
            conf.setTrainingWorkspaceMode(WorkspaceMode.NONE);
            conf.setInferenceWorkspaceMode(WorkspaceMode.NONE);
            this.graph = new ComputationGraph(conf);
            this.graph.init(src.params(), false);
            this.net = null;
            this.numClasses = (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) out).getNOut();
            this.gradientsAllowed = blocker == null;
            this.gradientBlocker = blocker;
            return;
        }
        MultiLayerNetwork src;
        try {
            src = copy.multiLayer();
        } catch (UnsupportedOperationException e) {
            throw new IllegalArgumentException("Attribution needs a MultiLayerNetwork or ComputationGraph: "
                    + e.getMessage(), e);
        }
        MultiLayerConfiguration conf = src.getLayerWiseConfigurations().clone();
        int n = conf.getConfs().size();
        String blocker = null;
        for (int i = 0; i < n; i++) {
            NeuralNetConfiguration c = conf.getConf(i);
            Layer l = c.getLayer();
            l.setIDropout(null);
            if (l instanceof BaseLayer bl) {
                bl.setWeightNoise(null);
            }
            if (l instanceof BatchNormalization && blocker == null) {
                blocker = "layer " + i + " is BatchNormalization (gradients would use batch statistics)";
            }
        }
        Layer last = conf.getConf(n - 1).getLayer();
        if (!(last instanceof BaseOutputLayer out)) {
            throw new IllegalArgumentException("Attribution needs an output layer with weights (OutputLayer) last; got "
                    + last.getClass().getSimpleName());
        }
        out.setActivationFn(new ActivationIdentity());
        out.setLossFn(new WeightedLogitLoss());
        this.net = new MultiLayerNetwork(conf);
        this.net.init(src.params(), false);
        this.graph = null;
        this.numClasses = (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) out).getNOut();
        this.gradientsAllowed = blocker == null;
        this.gradientBlocker = blocker;
    }

    /** True when the copy is a ComputationGraph. */
    public boolean isGraph() {
        return graph != null;
    }

    /** Names of the network's inputs: the graph's input vertices, or {"input"} for a MultiLayerNetwork. */
    public List<String> inputNames() {
        return graph != null ? graph.getConfiguration().getNetworkInputs() : List.of("input");
    }

    /**
     * The preprocessor applied to the (first) network input: a MultiLayerNetwork's layer-0 preprocessor, or for a
     * graph that of a PreprocessorVertex or layer vertex reading input 0 directly; null when there is none.
     */
    public org.deeplearning4j.nn.conf.InputPreProcessor inputPreProcessor() {
        if (net != null) {
            return net.getLayerWiseConfigurations().getInputPreProcess(0);
        }
        ComputationGraphConfiguration conf = graph.getConfiguration();
        String in = conf.getNetworkInputs().get(0);
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            if (e.getValue().contains(in)) {
                GraphVertex v = conf.getVertices().get(e.getKey());
                if (v instanceof LayerVertex lv && lv.getPreProcessor() != null) {
                    return lv.getPreProcessor();
                }
                if (v instanceof org.deeplearning4j.nn.conf.graph.PreprocessorVertex pv) {
                    return pv.getPreProcessor();
                }
            }
        }
        return null;
    }

    /** Fails with a clear message when the network has more than one input (single-input methods). */
    public void requireSingleInput(String method) {
        if (inputNames().size() != 1) {
            throw new IllegalArgumentException(method + " takes one input array; this graph has inputs " + inputNames()
                    + ": use the multi-input form (attributeInputs) of a method that supports it");
        }
    }

    /** The copy this view reads its parameters from. */
    public NetworkCopy copy() {
        return copy;
    }

    /** Number of output classes. */
    public int numClasses() {
        return numClasses;
    }

    /** The network's parameter data type. */
    public DataType dataType() {
        return (net != null ? net.params() : graph.params()).dataType();
    }

    /** Throws if input gradients cannot be computed faithfully on this network. */
    public void requireGradients(String method) {
        if (!gradientsAllowed) {
            throw new IllegalArgumentException(method + " is not supported on this network: " + gradientBlocker);
        }
    }

    /** Pre-softmax logits [n, classes], in inference mode, in internal batches of at most {@code batch} rows. */
    public INDArray logits(INDArray x, int batch) {
        return logits(new INDArray[]{x}, batch);
    }

    /** Pre-softmax logits [n, classes] of a network with one or more inputs (one array per input, same n). */
    public INDArray logits(INDArray[] xs, int batch) {
        checkInputs(xs);
        long n = xs[0].size(0);
        INDArray[] in = cast(xs);
        if (n <= batch) {
            INDArray o = forwardLogits(in).detach();
            clear();
            return o;
        }
        INDArray out = Nd4j.create(dataType(), n, numClasses);
        for (long s = 0; s < n; s += batch) {
            long e = Math.min(n, s + batch);
            INDArray part = forwardLogits(rows(in, s, e));
            out.get(NDArrayIndex.interval(s, e), NDArrayIndex.all()).assign(part);
        }
        clear();
        return out;
    }

    private INDArray forwardLogits(INDArray[] in) {
        return graph != null ? graph.output(false, in)[0] : net.output(in[0], false);
    }

    private void clear() {
        if (graph != null) {
            graph.clear();
        } else {
            net.clear();
        }
    }

    private void checkInputs(INDArray[] xs) {
        int want = inputNames().size();
        if (xs.length != want) {
            throw new IllegalArgumentException("The network takes " + want + " input array(s) " + inputNames() + "; got "
                    + xs.length);
        }
        for (INDArray x : xs) {
            if (x.size(0) != xs[0].size(0)) {
                throw new IllegalArgumentException("All inputs need the same number of rows; got " + x.size(0) + " and "
                        + xs[0].size(0));
            }
        }
    }

    private INDArray[] cast(INDArray[] xs) {
        INDArray[] r = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            r[i] = xs[i].castTo(dataType());
        }
        return r;
    }

    /**
     * d(sum_r sum_c w_rc z_rc)/dx: row r of the result is sum_c w_rc dz_c(x_r)/dx_r.
     *
     * @param x       inputs [n, ...]
     * @param weights [n, classes]
     * @param batch   internal batch size
     * @return gradients of the input's shape, detached
     */
    public INDArray gradient(INDArray x, INDArray weights, int batch) {
        return gradients(new INDArray[]{x}, weights, batch)[0];
    }

    /**
     * The gradients of sum_r sum_c w_rc z_rc with respect to each input array (one or more inputs of a graph):
     * element i has input i's shape.
     */
    public INDArray[] gradients(INDArray[] xs, INDArray weights, int batch) {
        checkInputs(xs);
        long n = xs[0].size(0);
        INDArray[] in = cast(xs);
        INDArray w = weights.castTo(dataType());
        INDArray[] out = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            out[i] = Nd4j.create(dataType(), xs[i].shape());
        }
        for (long s = 0; s < n; s += batch) {
            long e = Math.min(n, s + batch);
            INDArray[] g = backward(rows(in, s, e), rows(w, s, e));
            for (int i = 0; i < g.length; i++) {
                rows(out[i], s, e).assign(g[i]);
            }
        }
        clear();
        return out;
    }

    private INDArray[] backward(INDArray[] in, INDArray w) {
        if (net != null) {
            return new INDArray[]{net.calculateGradients(in[0], w, null, null).getSecond()};
        }
        return graphBackward(in, w);
    }

    /** Input gradients of the graph by DL4J's own vertex backward passes ({@link GraphBackward}). */
    private INDArray[] graphBackward(INDArray[] in, INDArray w) {
        return dev.stethoscope.probes.model.GraphBackward.inputGradients(graph, in, w);
    }

    private static INDArray[] rows(INDArray[] a, long s, long e) {
        INDArray[] r = new INDArray[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = rows(a[i], s, e);
        }
        return r;
    }

    /** Rows [s, e) of an array of any rank (a view). */
    static INDArray rows(INDArray a, long s, long e) {
        if (s == 0 && e == a.size(0)) {
            return a;
        }
        return a.get(indexRows(a.rank(), s, e));
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex[] indexRows(int rank, long s, long e) {
        org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[rank];
        idx[0] = NDArrayIndex.interval(s, e);
        for (int i = 1; i < rank; i++) {
            idx[i] = NDArrayIndex.all();
        }
        return idx;
    }
}
