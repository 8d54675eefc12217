package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener.Capture;
import dev.stethoscope.probes.dynamics.BulkRead;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * The output layer's pre-activation (the logits) of a training batch, taken as the
 * {@link Capture} mode says (see {@link TrainingDynamicsListener} for the two modes and their
 * costs). Logits are returned row-major, {@code [rows x classes]}.
 *
 * <p>{@link #now} and {@link #handOver} run on the training thread, inside the forward-pass
 * callback; the {@link Callable} returned by {@link #handOver} may run later on another thread.
 *
 * <p>On a ComputationGraph the output layer's input is the activation of the vertex feeding it, which DL4J's
 * {@code onForwardPass(Model, Map)} hands over by name.
 *
 * <p>Serializable: the network and the inference copy are not serialised; {@link #use} sets the
 * network being trained (the listener passes the model of each callback).
 *
 * <p>Public so that listeners elsewhere take the logits exactly as {@link TrainingDynamicsListener}
 * does (the Spark module's worker-side listener, whose observations the driver merges into a
 * {@code TrainingDynamicsListener} with {@link TrainingDynamicsListener#observeBatch}).
 */
public final class LogitCapture implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** Largest rows x hidden x classes product computed in Java rather than by ND4J. */
    static final long JAVA_PRODUCT_LIMIT = 8_000_000L;

    /** The network being trained ({@link #use}): a MultiLayerNetwork or a ComputationGraph. */
    private transient Model net;
    /** MultiLayerNetwork: index of the output layer; -1 for a graph. */
    private final int outputIndex;
    /** ComputationGraph: the output layer's vertex, and the vertex feeding it (the last hidden activation). */
    private final String outputVertex;
    private final String hiddenVertex;
    /** The output layer's input preprocessor: configuration, read here so that no other thread reads the network. */
    private final InputPreProcessor outputPreProcessor;
    private final Capture capture;
    private transient NetworkCopy copy;
    private long javaProductLimit = JAVA_PRODUCT_LIMIT;

    /**
     * @param net     the network whose architecture the logits are taken from (and, until {@link #use}, the one
     *                being trained)
     * @param capture the mode
     */
    public LogitCapture(MultiLayerNetwork net, Capture capture) {
        this.net = Objects.requireNonNull(net, "net");
        this.outputIndex = net.getnLayers() - 1;
        this.outputVertex = null;
        this.hiddenVertex = null;
        this.outputPreProcessor = net.getLayerWiseConfigurations().getInputPreProcess(outputIndex);
        this.capture = Objects.requireNonNull(capture, "capture");
    }

    /**
     * For a single-output ComputationGraph whose output vertex is an output layer with one input vertex: the
     * logits are {@code h W + b} with h the activation of that input vertex in the training pass.
     */
    public LogitCapture(ComputationGraph graph, Capture capture) {
        this.net = Objects.requireNonNull(graph, "graph");
        ComputationGraphConfiguration conf = graph.getConfiguration();
        this.outputIndex = -1;
        this.outputVertex = conf.getNetworkOutputs().get(0);
        List<String> in = conf.getVertexInputs().get(outputVertex);
        if (in == null || in.size() != 1) {
            throw new IllegalArgumentException("The output layer '" + outputVertex + "' must have exactly one input "
                    + "vertex; it has " + in);
        }
        this.hiddenVertex = in.get(0);
        this.outputPreProcessor = conf.getVertices().get(outputVertex) instanceof LayerVertex lv
                ? lv.getPreProcessor() : null;
        this.capture = Objects.requireNonNull(capture, "capture");
    }

    /** Takes the logits of {@code network} (same architecture) from now on; returns this. */
    public LogitCapture use(Model network) {
        this.net = Objects.requireNonNull(network, "network");
        return this;
    }

    /** The capture mode. */
    public Capture capture() {
        return capture;
    }

    /** Sets the size up to which logits are computed in Java (0 = always with ND4J). */
    void javaProductLimit(long limit) {
        this.javaProductLimit = limit;
    }

    /** The graph vertex whose activation is the output layer's input (null for a MultiLayerNetwork). */
    String hiddenVertex() {
        return hiddenVertex;
    }

    private Layer outputLayer() {
        return net instanceof ComputationGraph g ? g.getVertex(outputVertex).getLayer()
                : ((MultiLayerNetwork) net).getLayer(outputIndex);
    }

    /**
     * The logits of the batch now.
     *
     * @param activations the training pass's activations as DL4J's {@code onForwardPass} gives them
     *                    (input, then every layer but the output layer)
     * @param features    the batch's features (for {@link Capture#INFERENCE_COPY})
     */
    public double[] now(List<INDArray> activations, INDArray features) {
        return nowFrom(activations.get(activations.size() - 1), features);
    }

    /** As {@link #now(List, INDArray)} for a graph's {@code onForwardPass} (activations by vertex name). */
    public double[] now(Map<String, INDArray> activations, INDArray features) {
        return nowFrom(activations.get(hiddenVertex), features);
    }

    private double[] nowFrom(INDArray hidden, INDArray features) {
        if (capture == Capture.TRAIN_PASS) {
            Layer out = outputLayer();
            return logitsFrom(hidden, out.getParam("W"), out.getParam("b"));
        }
        return fromCopy(features);
    }

    /**
     * The logits of the batch, to be computed later: with {@link Capture#TRAIN_PASS} copies what
     * training may overwrite before then (the output layer's input and its parameters) and defers
     * the product; with {@link Capture#INFERENCE_COPY} runs the copy's forward pass now (it needs
     * the current parameters).
     */
    Callable<double[]> handOver(List<INDArray> activations, INDArray features) {
        return handOverFrom(activations.get(activations.size() - 1), features);
    }

    /** As {@link #handOver(List, INDArray)} for a graph's {@code onForwardPass}. */
    Callable<double[]> handOver(Map<String, INDArray> activations, INDArray features) {
        return handOverFrom(activations.get(hiddenVertex), features);
    }

    private Callable<double[]> handOverFrom(INDArray hidden, INDArray features) {
        if (capture == Capture.TRAIN_PASS) {
            Layer out = outputLayer();
            INDArray hA = hidden;
            INDArray wA = out.getParam("W");
            INDArray bA = out.getParam("b");
            if (outputPreProcessor == null && hA.rank() == 2 && wA.rank() == 2 && hA.size(1) == wA.size(0)) {
                // bulk copies into Java arrays: a memory copy each, no ND4J op and no native allocation on
                // the training thread (three dups cost 0.56 ms per MLP batch on the loaded machine, most of
                // it allocating fresh native buffers; docs/overhead.md, 2026-12-07); the product runs later
                int rows = (int) hA.size(0);
                int width = (int) wA.size(0);
                int c = (int) wA.size(1);
                float[] hf = hA.dataType() == DataType.FLOAT ? BulkRead.floats(hA) : null;
                double[] hd = hf == null ? BulkRead.doubles(hA) : null;
                double[] wv = BulkRead.doubles(wA);
                double[] bv = bA == null ? null : BulkRead.doubles(bA);
                return () -> javaLogits(hf, hd, rows, width, wv, c, bv);
            }
            INDArray h = hA.dup();
            INDArray w = wA.dup();
            INDArray b = bA == null ? null : bA.dup();
            return () -> logitsFrom(h, w, b);
        }
        double[] z = fromCopy(features);
        return () -> z;
    }

    /**
     * Logits h W + b in Java from row-major copies: h as floats ({@code hf}) or doubles ({@code hd}),
     * {@code [rows x hidden]}; W {@code [hidden x c]}; b {@code [c]} or null. Sums in double precision.
     */
    static double[] javaLogits(float[] hf, double[] hd, int rows, int hidden, double[] wv, int c, double[] bv) {
        double[] z = new double[rows * c];
        for (int r = 0; r < rows; r++) {
            int zo = r * c;
            int ho = r * hidden;
            for (int k = 0; k < hidden; k++) {
                double hk = hf != null ? hf[ho + k] : hd[ho + k];
                if (hk != 0) { // ReLU layers: mostly zeros
                    int wo = k * c;
                    for (int j = 0; j < c; j++) {
                        z[zo + j] += hk * wv[wo + j];
                    }
                }
            }
            if (bv != null) {
                for (int j = 0; j < c; j++) {
                    z[zo + j] += bv[j];
                }
            }
        }
        return z;
    }

    private double[] fromCopy(INDArray features) {
        if (copy == null || copy.source() != net) {
            copy = NetworkCopy.of(net);
        } else {
            copy.refresh();
        }
        // layer by layer (vertex by vertex): DL4J's feedForward methods refuse to run while the
        // training pass's workspace is open (we are inside its callback)
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        if (copy.model() instanceof ComputationGraph g) {
            INDArray h = graphHidden(g, features, mgr);
            Layer out = g.getVertex(outputVertex).getLayer();
            return logitsFrom(h, out.getParam("W"), out.getParam("b"));
        }
        MultiLayerNetwork c = copy.multiLayer();
        INDArray h = features;
        int rows = (int) features.size(0);
        for (int j = 0; j < outputIndex; j++) {
            InputPreProcessor pp = c.getLayerWiseConfigurations().getInputPreProcess(j);
            if (pp != null) {
                h = pp.preProcess(h, rows, mgr);
            }
            h = c.getLayer(j).activate(h, false, mgr);
        }
        Layer out = c.getLayer(outputIndex);
        return logitsFrom(h, out.getParam("W"), out.getParam("b"));
    }

    /** Inference-mode activation of the output layer's input vertex, vertex by vertex in topological order. */
    private INDArray graphHidden(ComputationGraph g, INDArray features, LayerWorkspaceMgr mgr) {
        GraphVertex[] vs = g.getVertices();
        INDArray[] act = new INDArray[vs.length];
        int target = g.getVertex(hiddenVertex).getVertexIndex();
        for (int idx : g.topologicalSortOrder()) {
            GraphVertex v = vs[idx];
            if (v.isInputVertex()) {
                act[idx] = features;
            } else if (!v.isOutputVertex()) {
                VertexIndices[] in = v.getInputVertices();
                for (int j = 0; j < in.length; j++) {
                    v.setInput(j, act[in[j].getVertexIndex()], mgr);
                }
                act[idx] = v.doForward(false, mgr);
                v.clear();
            }
            if (idx == target) {
                return act[idx];
            }
        }
        throw new IllegalStateException("Vertex '" + hiddenVertex + "' was not reached");
    }

    /**
     * Output-layer pre-activation h W + b, row-major, from the output layer's
     * input h (before its preprocessor). When ND4J runs several threads and
     * the product has up to {@link #JAVA_PRODUCT_LIMIT} multiply-adds, it is
     * computed in Java from bulk copies of h and W (no ND4J op at all);
     * otherwise with one ND4J matrix product. The bias is added in Java.
     */
    double[] logitsFrom(INDArray h, INDArray w, INDArray b) {
        InputPreProcessor pp = outputPreProcessor;
        if (pp != null) {
            h = pp.preProcess(h, (int) h.size(0), LayerWorkspaceMgr.noWorkspaces());
        }
        int rows = (int) h.size(0);
        int hidden = (int) w.size(0);
        int c = (int) w.size(1);
        double[] z;
        if (h.rank() == 2 && h.size(1) == hidden && (long) rows * hidden * c <= javaProductLimit
                && Nd4j.getEnvironment().maxThreads() > 1) {
            // small product with multi-threaded ND4J: plain Java on bulk copies, no ND4J op (each op
            // hands work to the OpenMP threads, which costs more than the arithmetic at this size).
            // With one ND4J thread the ND4J product is the cheaper one (measured in docs/suspects.md,
            // "Before: everything on the training thread").
            double[] hv = BulkRead.doubles(h);
            double[] wv = BulkRead.doubles(w);
            z = new double[rows * c];
            for (int r = 0; r < rows; r++) {
                int zo = r * c;
                int ho = r * hidden;
                for (int k = 0; k < hidden; k++) {
                    double hk = hv[ho + k];
                    if (hk != 0) { // ReLU layers: mostly zeros
                        int wo = k * c;
                        for (int j = 0; j < c; j++) {
                            z[zo + j] += hk * wv[wo + j];
                        }
                    }
                }
            }
        } else {
            INDArray hw = h.dataType() == w.dataType() ? h : h.castTo(w.dataType());
            // c-order result, so the bulk read needs no extra copy (mmul's default result is f-order)
            INDArray product = Nd4j.createUninitialized(w.dataType(), new long[]{hw.size(0), c}, 'c');
            hw.mmul(w, product);
            z = BulkRead.doubles(product);
        }
        if (b != null) {
            double[] bias = BulkRead.doubles(b);
            for (int j = 0; j < z.length; j++) {
                z[j] += bias[j % c];
            }
        }
        return z;
    }
}
