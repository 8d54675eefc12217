package dev.stethoscope.probes.memorization;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.HashMap;
import java.util.Map;

/**
 * {@link IntervalBounds} for a single-output {@link ComputationGraph} with one or more inputs (each input its own box,
 * {@link #certify(INDArray[], INDArray[], int[])}): interval bound propagation
 * through the graph's vertices in topological order, then the same margin bound and certification rule at the dense
 * output layer.
 *
 * <p>Per vertex, from the bounds [l, u] of its inputs: dense and convolution layers by centre and radius
 * (c W + b and rho |W|, then the layer's monotone activation on both ends), max/avg subsampling and max/avg/sum global
 * pooling, monotone activation layers and the supported preprocessors on each end (monotone maps), dropout as the
 * identity; element-wise {@code Add}, {@code Average} and {@code Max} on each end, {@code Subtract} as
 * [l0 - u1, u0 - l1]; merge and subset on each end; shift by its constant; scale by its factor (ends swapped for a
 * negative factor). Any other vertex (element-wise product, batch normalisation, ...) makes the bounds unavailable,
 * and {@link #unsupportedReason} names the vertex. A graph that is a chain of the layers of an MLP gives the MLP's
 * bounds (tested).
 */
public final class GraphIntervalBounds {
    private final ComputationGraph centre;
    private final ComputationGraph radius;
    private final ComputationGraphConfiguration conf;
    private final INDArray outW;
    private final INDArray outB;
    private final String outputName;
    /** The source graph's activation of each affine layer vertex (the copies have identity activations). */
    private final Map<String, IActivation> activations = new HashMap<>();

    private GraphIntervalBounds(ComputationGraph graph) {
        this.conf = graph.getConfiguration();
        for (var e : conf.getVertices().entrySet()) {
            if (e.getValue() instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BaseLayer bl) {
                activations.put(e.getKey(), bl.getActivationFn());
            }
        }
        this.outputName = conf.getNetworkOutputs().get(0);
        this.centre = identityCopy(graph, false);
        this.radius = identityCopy(graph, true);
        org.deeplearning4j.nn.api.Layer out = centre.getVertex(outputName).getLayer();
        this.outW = out.getParam("W").dup();
        this.outB = out.paramTable().get("b") == null ? null : out.paramTable().get("b").dup();
    }

    /**
     * Bounds for {@code graph} with its current parameters, copied now.
     *
     * @throws IllegalArgumentException if {@link #unsupportedReason} is not null
     */
    public static GraphIntervalBounds of(ComputationGraph graph) {
        String why = unsupportedReason(graph);
        if (why != null) {
            throw new IllegalArgumentException("Interval bounds are not available for this graph: " + why);
        }
        return new GraphIntervalBounds(graph);
    }

    /** Why interval bounds cannot be computed for {@code graph}, or {@code null} if they can. */
    public static String unsupportedReason(ComputationGraph graph) {
        String io = InputGradients.singleOutputReason(graph);
        if (io != null) {
            return io;
        }
        DataType type = graph.params().dataType();
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            return "the graph computes in " + type + " (supported: FLOAT, DOUBLE): its own rounding is "
                    + "too coarse for the certification's tolerance";
        }
        ComputationGraphConfiguration c = graph.getConfiguration();
        String out = c.getNetworkOutputs().get(0);
        for (var e : c.getVertices().entrySet()) {
            String name = "vertex '" + e.getKey() + "' (" + e.getValue().getClass().getSimpleName() + ")";
            var v = e.getValue();
            if (v instanceof LayerVertex lv) {
                String why = layerReason(graph, e.getKey(), lv, e.getKey().equals(out));
                if (why != null) {
                    return why;
                }
            } else if (v instanceof ElementWiseVertex ew) {
                if (ew.getOp() == ElementWiseVertex.Op.Product) {
                    return name + ": element-wise Product is not monotone (supported: Add, Subtract, Average, Max)";
                }
            } else if (!(v instanceof MergeVertex) && !(v instanceof SubsetVertex) && !(v instanceof ShiftVertex)
                    && !(v instanceof ScaleVertex)) {
                return name + " is not supported (supported vertices: layers, element-wise Add/Subtract/Average/Max, "
                        + "merge, subset, shift, scale)";
            }
        }
        return null;
    }

    private static String layerReason(ComputationGraph graph, String vertex, LayerVertex lv, boolean isOutput) {
        InputPreProcessor pre = lv.getPreProcessor();
        Layer l = lv.getLayerConf().getLayer();
        String name = "vertex '" + vertex + "' (" + l.getClass().getSimpleName() + ")";
        if (pre != null && !(pre instanceof CnnToFeedForwardPreProcessor) && !(pre instanceof FeedForwardToCnnPreProcessor)) {
            return name + " has input preprocessor " + pre.getClass().getSimpleName()
                    + " (supported: CnnToFeedForwardPreProcessor, FeedForwardToCnnPreProcessor)";
        }
        if (l instanceof BaseLayer bl && bl.getWeightNoise() != null) {
            return name + ": weight noise " + bl.getWeightNoise();
        }
        var params = graph.getVertex(vertex).getLayer().paramTable().keySet();
        if (isOutput) {
            if (l.getClass() != OutputLayer.class) {
                return name + ": the output layer must be a dense OutputLayer";
            }
            IActivation a = ((BaseLayer) l).getActivationFn();
            if (!(a instanceof ActivationSoftmax) && !(a instanceof ActivationIdentity)) {
                return name + ": output activation " + a + " (supported: softmax, identity)";
            }
            return IntervalBounds.AFFINE_PARAMS.containsAll(params) ? null : name + ": parameters " + params;
        }
        if (l instanceof DenseLayer d) {
            if (d.hasLayerNorm()) {
                return name + ": layer normalisation is not affine";
            }
        } else if (l instanceof ConvolutionLayer) {
            // linear in the input
        } else if (l instanceof SubsamplingLayer s) {
            return s.getPoolingType() == PoolingType.MAX || s.getPoolingType() == PoolingType.AVG ? null
                    : name + ": pooling " + s.getPoolingType() + " (supported: MAX, AVG)";
        } else if (l instanceof GlobalPoolingLayer g) {
            PoolingType t = g.getPoolingType();
            return t == PoolingType.MAX || t == PoolingType.AVG || t == PoolingType.SUM ? null
                    : name + ": global pooling " + t + " (supported: MAX, AVG, SUM)";
        } else if (l instanceof ActivationLayer a) {
            return IntervalBounds.monotone(a.getActivationFn()) ? null
                    : name + ": activation " + a.getActivationFn() + " is not monotone (with these settings)";
        } else if (l instanceof DropoutLayer) {
            return null;
        } else {
            return name + " is not supported (supported layers: dense, convolution, max/avg subsampling, max/avg/sum "
                    + "global pooling, activation and dropout layers, and a dense OutputLayer as the output)";
        }
        IActivation a = ((BaseLayer) l).getActivationFn();
        if (!IntervalBounds.monotone(a)) {
            return name + ": activation " + a + " is not monotone (with these settings)";
        }
        if (!IntervalBounds.AFFINE_PARAMS.containsAll(params)) {
            return name + ": parameters " + params + " (supported: W, pW, b)";
        }
        return null;
    }

    /** A copy of {@code graph} in double precision whose affine layers have identity activations; optionally |W|, no bias. */
    private static ComputationGraph identityCopy(ComputationGraph graph, boolean absoluteWeights) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            ComputationGraphConfiguration c = graph.getConfiguration().clone();
            for (var v : c.getVertices().values()) {
                if (v instanceof LayerVertex lv) {
                    Layer l = lv.getLayerConf().getLayer();
                    if (l instanceof BaseLayer b && (l instanceof DenseLayer || l instanceof ConvolutionLayer
                            || l instanceof OutputLayer)) {
                        b.setActivationFn(new ActivationIdentity());
                    }
                }
            }
            ComputationGraph f = new ComputationGraph(c);
            f.init(graph.params().dup(), false);
            ComputationGraph d = f.params().dataType() == DataType.DOUBLE ? f : f.convertDataType(DataType.DOUBLE);
            if (absoluteWeights) {
                d.setParams(Transforms.abs(d.params(), true));
                for (org.deeplearning4j.nn.api.Layer l : d.getLayers()) {
                    INDArray b = l.paramTable().get("b");
                    if (b != null) {
                        b.assign(0);
                    }
                }
            }
            return d;
        }
    }

    /**
     * For each example i, a lower bound of {@code min over j != predicted[i] of (z_predicted[i] - z_j)} over every
     * input in the box {@code [lo[i], hi[i]]} (as {@link IntervalBounds#marginLowerBounds}).
     */
    public double[] marginLowerBounds(INDArray lo, INDArray hi, int[] predicted) {
        return margins(new INDArray[]{lo}, new INDArray[]{hi}, predicted).lower();
    }

    /** As {@link #marginLowerBounds(INDArray, INDArray, int[])} for a graph with several inputs: one box per input. */
    public double[] marginLowerBounds(INDArray[] lo, INDArray[] hi, int[] predicted) {
        return margins(lo, hi, predicted).lower();
    }

    /**
     * Whether each example provably keeps its predicted class everywhere in its box (the rule of
     * {@link IntervalBounds#certify}).
     */
    public boolean[] certify(INDArray lo, INDArray hi, int[] predicted) {
        return certify(new INDArray[]{lo}, new INDArray[]{hi}, predicted);
    }

    /**
     * For a graph with several inputs: whether each example provably keeps its predicted class everywhere in the
     * product of its boxes, input i in {@code [lo[i], hi[i]]} (arrays in the order of the graph's inputs).
     */
    public boolean[] certify(INDArray[] lo, INDArray[] hi, int[] predicted) {
        return IntervalBounds.certified(margins(lo, hi, predicted));
    }

    private IntervalBounds.Margins margins(INDArray[] los, INDArray[] his, int[] predicted) {
        java.util.List<String> inputs = conf.getNetworkInputs();
        if (los.length != inputs.size() || his.length != inputs.size()) {
            throw new IllegalArgumentException("The graph has inputs " + inputs + ": need one box per input, got "
                    + los.length + " lower and " + his.length + " upper arrays");
        }
        int n = (int) los[0].size(0);
        for (int j = 0; j < los.length; j++) {
            if (los[j].size(0) != n || his[j].size(0) != n || predicted.length != n) {
                throw new IllegalArgumentException("lo, hi and predicted must have the same number of examples: "
                        + los[j].size(0) + ", " + his[j].size(0) + ", " + predicted.length);
            }
        }
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            GraphVertex[] vs = centre.getVertices();
            INDArray[] lower = new INDArray[vs.length];
            INDArray[] upper = new INDArray[vs.length];
            boolean[] bad = new boolean[n];
            INDArray outL = null;
            INDArray outU = null;
            for (int idx : centre.topologicalSortOrder()) {
                GraphVertex v = vs[idx];
                String name = v.getVertexName();
                if (v.isInputVertex()) {
                    int which = inputs.indexOf(name);
                    lower[idx] = los[which].castTo(DataType.DOUBLE).dup();
                    upper[idx] = his[which].castTo(DataType.DOUBLE).dup();
                    continue;
                }
                VertexIndices[] in = v.getInputVertices();
                INDArray[] ls = new INDArray[in.length];
                INDArray[] us = new INDArray[in.length];
                for (int j = 0; j < in.length; j++) {
                    ls[j] = lower[in[j].getVertexIndex()];
                    us[j] = upper[in[j].getVertexIndex()];
                }
                var vc = conf.getVertices().get(name);
                INDArray l;
                INDArray u;
                if (vc instanceof LayerVertex lv) {
                    l = ls[0];
                    u = us[0];
                    InputPreProcessor pre = lv.getPreProcessor();
                    if (pre != null) {
                        l = pre.preProcess(l, n, mgr).dup();
                        u = pre.preProcess(u, n, mgr).dup();
                    }
                    if (name.equals(outputName)) {
                        outL = l;
                        outU = u;
                        continue;
                    }
                    Layer lc = lv.getLayerConf().getLayer();
                    if (lc instanceof DenseLayer || lc instanceof ConvolutionLayer) {
                        INDArray c = l.add(u).muli(0.5);
                        INDArray rho = u.sub(l).muli(0.5);
                        org.deeplearning4j.nn.api.Layer cl = centre.getVertex(name).getLayer();
                        org.deeplearning4j.nn.api.Layer rl = radius.getVertex(name).getLayer();
                        INDArray pc = cl.activate(c, false, mgr).dup();
                        INDArray pr = rl.activate(rho, false, mgr).dup();
                        cl.clear();
                        rl.clear();
                        IActivation act = activations.get(name);
                        l = act.getActivation(pc.sub(pr), false);
                        u = act.getActivation(pc.addi(pr), false);
                    } else if (lc instanceof SubsamplingLayer || lc instanceof GlobalPoolingLayer) {
                        org.deeplearning4j.nn.api.Layer pool = centre.getVertex(name).getLayer();
                        l = pool.activate(l, false, mgr).dup();
                        u = pool.activate(u, false, mgr).dup();
                        pool.clear();
                    } else if (lc instanceof ActivationLayer a) {
                        l = a.getActivationFn().getActivation(l.dup(), false);
                        u = a.getActivationFn().getActivation(u.dup(), false);
                    }
                    // DropoutLayer: identity at inference
                } else if (vc instanceof ElementWiseVertex ew && ew.getOp() == ElementWiseVertex.Op.Subtract) {
                    l = ls[0].sub(us[1]);
                    u = us[0].sub(ls[1]);
                } else {
                    // monotone non-decreasing in every input: each end through the vertex itself
                    l = forward(v, ls, mgr);
                    u = forward(v, us, mgr);
                    if (vc instanceof ScaleVertex s && s.getScaleFactor() < 0) {
                        INDArray t = l;
                        l = u;
                        u = t;
                    }
                }
                IntervalBounds.markNonFinite(l, bad);
                IntervalBounds.markNonFinite(u, bad);
                lower[idx] = l;
                upper[idx] = u;
            }
            IntervalBounds.Margins m = IntervalBounds.outputMargins(outW, outB, outL, outU, predicted);
            for (int i = 0; i < n; i++) {
                if (bad[i]) {
                    m.lower()[i] = Double.NEGATIVE_INFINITY;
                }
            }
            return m;
        }
    }

    private static INDArray forward(GraphVertex v, INDArray[] inputs, LayerWorkspaceMgr mgr) {
        for (int j = 0; j < inputs.length; j++) {
            v.setInput(j, inputs[j], mgr);
        }
        INDArray out = v.doForward(false, mgr).dup();
        v.clear();
        return out;
    }
}
