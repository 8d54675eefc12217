package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A single-output {@link ComputationGraph} unrolled into a directed acyclic graph of elementary nodes over the
 * copy's own parameter views, so that backward passes with rules other than the chain rule (LRP, DeepLIFT,
 * guided backprop, deconvnet, Grad-CAM's partial backward pass) run vertex by vertex, as {@link Propagation}
 * does for a MultiLayerNetwork. Forward passes are in inference mode (dropout is skipped); the output node's
 * value is the pre-softmax logits.
 *
 * <p>Nodes, in topological order: one input node per network input (in the order of
 * {@code getNetworkInputs()}), then for each vertex either the chain of {@link Propagation.Step}s of a layer
 * vertex (its preprocessor, its linear map, its activation; the same layer types as {@link Propagation}), a
 * single step for a {@link SubsetVertex}, {@link ScaleVertex}, {@link ShiftVertex} or {@link PreprocessorVertex},
 * or a {@link Combine} node of several inputs for an {@link ElementWiseVertex} (Add, Subtract, Average, Product,
 * Max) or a {@link MergeVertex}. Anything else fails at construction naming the vertex.
 *
 * <p>A node used by several others (a residual skip, for example) receives the sum of the signals sent back by
 * its consumers; that is the chain rule for gradients and DeepLIFT multipliers, and relevance conservation for
 * LRP.
 */
public final class GraphPropagation {

    /** Vertex types this engine unrolls (for error messages). */
    public static final List<String> SUPPORTED_VERTICES = List.of("LayerVertex (layers: " + Propagation.SUPPORTED + ")",
            "ElementWiseVertex(Add|Subtract|Average|Product|Max)", "MergeVertex", "SubsetVertex", "ScaleVertex",
            "ShiftVertex", "PreprocessorVertex(CnnToFeedForward|FeedForwardToCnn)");

    /** A node of several inputs. */
    public abstract static class Combine {
        final String vertex;

        Combine(String vertex) {
            this.vertex = vertex;
        }

        /** The vertex's name. */
        public String vertex() {
            return vertex;
        }

        /** Forward map. */
        public abstract INDArray forward(INDArray[] in);

        /** Chain rule: the gradient at each input given {@code g} at the output. */
        public abstract INDArray[] gradient(INDArray[] in, INDArray out, INDArray g);
    }

    /**
     * A weighted sum out = sum_i c_i in_i (ElementWiseVertex Add: all c_i = 1; Subtract: 1, -1; Average: 1/k).
     * Each input's contribution to the output is c_i in_i.
     */
    public static final class Sum extends Combine {
        private final double[] coef;

        Sum(String vertex, double[] coef) {
            super(vertex);
            this.coef = coef;
        }

        /** The coefficient of input {@code i}. */
        public double coefficient(int i) {
            return coef[i];
        }

        /** c_i in_i. */
        public INDArray contribution(INDArray[] in, int i) {
            return in[i].mul(coef[i]);
        }

        @Override
        public INDArray forward(INDArray[] in) {
            INDArray out = in[0].mul(coef[0]);
            for (int i = 1; i < in.length; i++) {
                out.addi(in[i].mul(coef[i]));
            }
            return out;
        }

        @Override
        public INDArray[] gradient(INDArray[] in, INDArray out, INDArray g) {
            INDArray[] r = new INDArray[in.length];
            for (int i = 0; i < in.length; i++) {
                r[i] = g.mul(coef[i]);
            }
            return r;
        }
    }

    /** Element-wise product of the inputs. */
    public static final class Product extends Combine {
        Product(String vertex) {
            super(vertex);
        }

        @Override
        public INDArray forward(INDArray[] in) {
            INDArray out = in[0].dup();
            for (int i = 1; i < in.length; i++) {
                out.muli(in[i]);
            }
            return out;
        }

        @Override
        public INDArray[] gradient(INDArray[] in, INDArray out, INDArray g) {
            INDArray[] r = new INDArray[in.length];
            for (int i = 0; i < in.length; i++) {
                INDArray others = g.dup();
                for (int j = 0; j < in.length; j++) {
                    if (j != i) {
                        others.muli(in[j]);
                    }
                }
                r[i] = others;
            }
            return r;
        }
    }

    /** Element-wise maximum of the inputs; backward passes route to the (first) winner. */
    public static final class Max extends Combine {
        Max(String vertex) {
            super(vertex);
        }

        @Override
        public INDArray forward(INDArray[] in) {
            INDArray out = in[0].dup();
            for (int i = 1; i < in.length; i++) {
                out = org.nd4j.linalg.ops.transforms.Transforms.max(out, in[i], false);
            }
            return out;
        }

        @Override
        public INDArray[] gradient(INDArray[] in, INDArray out, INDArray g) {
            INDArray[] r = new INDArray[in.length];
            INDArray taken = Nd4j.zeros(g.dataType(), g.shape());
            for (int i = 0; i < in.length; i++) {
                INDArray win = in[i].eq(out).castTo(g.dataType()).muli(taken.rsub(1.0));
                taken.addi(win);
                r[i] = g.mul(win);
            }
            return r;
        }
    }

    /** Concatenation along dimension 1 (features or channels): DL4J's MergeVertex. */
    public static final class Merge extends Combine {
        Merge(String vertex) {
            super(vertex);
        }

        @Override
        public INDArray forward(INDArray[] in) {
            return Nd4j.concat(1, in);
        }

        @Override
        public INDArray[] gradient(INDArray[] in, INDArray out, INDArray g) {
            INDArray[] r = new INDArray[in.length];
            long from = 0;
            for (int i = 0; i < in.length; i++) {
                long w = in[i].size(1);
                INDArrayIndex[] idx = new INDArrayIndex[g.rank()];
                Arrays.fill(idx, NDArrayIndex.all());
                idx[1] = NDArrayIndex.interval(from, from + w);
                r[i] = g.get(idx).dup('c');
                from += w;
            }
            return r;
        }
    }

    /** One node: an input, a single-input step or a combine of several inputs. */
    public static final class Node {
        final String vertex;
        final Propagation.Step step;
        final Combine combine;
        final int[] inputs;

        Node(String vertex, Propagation.Step step, Combine combine, int[] inputs) {
            this.vertex = vertex;
            this.step = step;
            this.combine = combine;
            this.inputs = inputs;
        }

        /** The DL4J vertex this node belongs to. */
        public String vertex() {
            return vertex;
        }

        /** The step, or null for an input or combine node. */
        public Propagation.Step step() {
            return step;
        }

        /** The combine, or null. */
        public Combine combine() {
            return combine;
        }

        /** Indices of the nodes this one reads (empty for an input node). */
        public int[] inputs() {
            return inputs.clone();
        }

        /** True for a network input. */
        public boolean isInput() {
            return step == null && combine == null;
        }
    }

    /** A backward rule at a combine node: the signals at its inputs from the signal at its output. */
    @FunctionalInterface
    public interface CombineRule {
        /**
         * @param node   the node's index
         * @param c      the combine
         * @param in     its inputs' values
         * @param out    its value
         * @param signal the signal at its output
         * @return the signal at each input
         */
        INDArray[] apply(int node, Combine c, INDArray[] in, INDArray out, INDArray signal);
    }

    /** The chain rule at combine nodes. */
    public static final CombineRule GRADIENT = (k, c, in, out, g) -> c.gradient(in, out, g);

    private final List<Node> nodes;
    private final List<String> inputNames;
    private final Map<String, Integer> layerEnd;
    private final List<String> layerNames;
    private final IActivation outputActivation;
    private final DataType dataType;
    private final String outputName;

    private GraphPropagation(List<Node> nodes, List<String> inputNames, Map<String, Integer> layerEnd,
                             IActivation outAct, DataType dt, String outputName) {
        this.nodes = nodes;
        this.inputNames = inputNames;
        this.layerEnd = layerEnd;
        this.layerNames = List.copyOf(layerEnd.keySet());
        this.outputActivation = outAct;
        this.dataType = dt;
        this.outputName = outputName;
    }

    /**
     * Unrolls {@code graph} (a private copy).
     *
     * @param method the method asking (for the error message)
     * @throws IllegalArgumentException naming the first unsupported vertex, layer or preprocessor and listing the
     *                                  supported ones, or for a graph with more than one output
     */
    public static GraphPropagation of(ComputationGraph graph, String method) {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<String> outs = conf.getNetworkOutputs();
        if (outs.size() != 1) {
            throw new IllegalArgumentException(method + " supports single-output graphs; this graph has outputs " + outs);
        }
        String outName = outs.get(0);
        Map<String, GraphVertex> vconf = conf.getVertices();
        Map<String, List<String>> vin = conf.getVertexInputs();
        List<Node> nodes = new ArrayList<>();
        Map<String, Integer> nodeOf = new HashMap<>();
        Map<String, Integer> layerEnd = new LinkedHashMap<>();
        List<String> inputs = conf.getNetworkInputs();
        for (String in : inputs) {
            nodeOf.put(in, nodes.size());
            nodes.add(new Node(in, null, null, new int[0]));
        }
        IActivation outAct = null;
        for (int idx : graph.topologicalSortOrder()) {
            String name = graph.getVertices()[idx].getVertexName();
            if (nodeOf.containsKey(name)) {
                continue; // a network input
            }
            GraphVertex v = vconf.get(name);
            String where = "vertex '" + name + "'";
            List<String> srcNames = vin.get(name);
            int[] src = new int[srcNames.size()];
            for (int i = 0; i < src.length; i++) {
                src[i] = nodeOf.get(srcNames.get(i));
            }
            boolean isOut = name.equals(outName);
            if (v instanceof LayerVertex lv) {
                if (src.length != 1) {
                    throw Propagation.unsupported(method, where, "a layer vertex with " + src.length + " inputs");
                }
                List<Propagation.Step> steps = new ArrayList<>();
                IActivation a = Propagation.layerSteps(nodes.size(), where, lv.getLayerConf().getLayer(),
                        graph.getLayer(name), lv.getPreProcessor(), isOut, method, steps);
                if (isOut) {
                    outAct = a;
                } else if (lv.getLayerConf().getLayer() instanceof OutputLayer) {
                    throw Propagation.unsupported(method, where, "an OutputLayer that is not the network output");
                }
                int prev = src[0];
                for (Propagation.Step s : steps) {
                    nodes.add(new Node(name, s, null, new int[]{prev}));
                    prev = nodes.size() - 1;
                }
                nodeOf.put(name, prev);
                layerEnd.put(name, prev);
                continue;
            }
            if (isOut) {
                throw Propagation.unsupported(method, where, v.getClass().getSimpleName()
                        + " as the network output (need an OutputLayer)");
            }
            Propagation.Step step = null;
            Combine combine = null;
            if (v instanceof ElementWiseVertex ew) {
                combine = switch (ew.getOp()) {
                    case Add -> new Sum(name, filled(src.length, 1.0));
                    case Subtract -> new Sum(name, new double[]{1.0, -1.0});
                    case Average -> new Sum(name, filled(src.length, 1.0 / src.length));
                    case Product -> new Product(name);
                    case Max -> new Max(name);
                };
            } else if (v instanceof MergeVertex mv) {
                if (mv.getMergeAxis() != 1) {
                    throw Propagation.unsupported(method, where, "MergeVertex along axis " + mv.getMergeAxis());
                }
                combine = new Merge(name);
            } else if (v instanceof SubsetVertex sv) {
                step = new Propagation.Subset(nodes.size(), sv.getFrom(), sv.getTo());
            } else if (v instanceof ScaleVertex sc) {
                step = new Propagation.ScaleShift(nodes.size(), sc.getScaleFactor(), 0.0);
            } else if (v instanceof ShiftVertex sh) {
                step = new Propagation.ScaleShift(nodes.size(), 1.0, sh.getShiftFactor());
            } else if (v instanceof PreprocessorVertex pv) {
                step = Propagation.preprocessorStep(nodes.size(), where, pv.getPreProcessor(), method);
            } else {
                throw new IllegalArgumentException(method + " does not support " + where + ": "
                        + v.getClass().getSimpleName() + ". Supported vertices: " + SUPPORTED_VERTICES);
            }
            if (step != null) {
                step.where = where;
                if (src.length != 1) {
                    throw Propagation.unsupported(method, where, "a single-input vertex with " + src.length + " inputs");
                }
            }
            nodes.add(new Node(name, step, combine, src));
            nodeOf.put(name, nodes.size() - 1);
        }
        if (nodeOf.get(outName) != nodes.size() - 1) {
            throw new IllegalStateException("the output vertex '" + outName + "' is not last in topological order");
        }
        return new GraphPropagation(Collections.unmodifiableList(nodes), List.copyOf(inputs), layerEnd, outAct,
                graph.params().dataType(), outName);
    }

    private static double[] filled(int n, double v) {
        double[] d = new double[n];
        Arrays.fill(d, v);
        return d;
    }

    /** The nodes in topological order (inputs first, logits last). */
    public List<Node> nodes() {
        return nodes;
    }

    /** Names of the network inputs; node i is input i. */
    public List<String> inputNames() {
        return inputNames;
    }

    /** Layer vertex names in topological order. */
    public List<String> layerNames() {
        return layerNames;
    }

    /** The output vertex's name. */
    public String outputName() {
        return outputName;
    }

    /** The output layer's activation (e.g. softmax), applied to the logits for probabilities. */
    public IActivation outputActivation() {
        return outputActivation;
    }

    /** The parameters' data type. */
    public DataType dataType() {
        return dataType;
    }

    /**
     * Index of the node holding layer vertex {@code name}'s output (after its activation).
     *
     * @throws IllegalArgumentException naming the unknown vertex and listing the layer vertices
     */
    public int layerEnd(String name) {
        Integer i = name == null ? null : layerEnd.get(name);
        if (i == null) {
            throw new IllegalArgumentException("Unknown layer vertex '" + name + "'. Valid layer vertices: " + layerNames);
        }
        return i;
    }

    /** The value of every node: inputs first, the logits last. */
    public List<INDArray> forward(INDArray... xs) {
        return forwardTo(nodes.size() - 1, xs);
    }

    /**
     * The values of nodes 0..{@code last} (the same values as {@link #forward}); the nodes after it are null. Enough for
     * {@link #propagate propagating} from any node at or below {@code last}, which reads no node above its top.
     *
     * @throws IllegalArgumentException when {@code last} is not a node index
     */
    public List<INDArray> forwardTo(int last, INDArray... xs) {
        if (xs.length != inputNames.size()) {
            throw new IllegalArgumentException("The graph takes " + inputNames.size() + " inputs " + inputNames
                    + "; got " + xs.length);
        }
        if (last < 0 || last >= nodes.size()) {
            throw new IllegalArgumentException("node " + last + " not in 0.." + (nodes.size() - 1));
        }
        INDArray[] acts = new INDArray[nodes.size()];
        for (int i = 0; i <= last; i++) {
            Node nd = nodes.get(i);
            if (nd.isInput()) {
                acts[i] = xs[i].castTo(dataType);
            } else if (nd.step != null) {
                acts[i] = nd.step.forward(acts[nd.inputs[0]]);
            } else {
                acts[i] = nd.combine.forward(gather(acts, nd.inputs));
            }
        }
        return Arrays.asList(acts);
    }

    /**
     * The value of every node when node {@code node}'s value is replaced by {@code value}: the nodes that depend on it
     * are recomputed from {@code acts} (a {@link #forward} result), the others keep their values.
     */
    public List<INDArray> forwardWith(List<INDArray> acts, int node, INDArray value) {
        INDArray[] out = acts.toArray(new INDArray[0]);
        boolean[] changed = new boolean[nodes.size()];
        out[node] = value;
        changed[node] = true;
        for (int k = node + 1; k < nodes.size(); k++) {
            Node nd = nodes.get(k);
            boolean dirty = false;
            for (int i : nd.inputs) {
                dirty |= changed[i];
            }
            if (!dirty) {
                continue;
            }
            changed[k] = true;
            out[k] = nd.step != null ? nd.step.forward(out[nd.inputs[0]]) : nd.combine.forward(gather(out, nd.inputs));
        }
        return Arrays.asList(out);
    }

    /** The input node index of a single-input node (for rules that need the step's input, e.g. DeepLIFT's baseline). */
    public int inputOf(int node) {
        return nodes.get(node).inputs[0];
    }

    private static INDArray[] gather(List<INDArray> acts, int[] idx) {
        INDArray[] r = new INDArray[idx.length];
        for (int i = 0; i < idx.length; i++) {
            r[i] = acts.get(idx[i]);
        }
        return r;
    }

    private static INDArray[] gather(INDArray[] acts, int[] idx) {
        INDArray[] r = new INDArray[idx.length];
        for (int i = 0; i < idx.length; i++) {
            r[i] = acts[idx[i]];
        }
        return r;
    }

    /**
     * Propagates {@code signal} at the output (logits) node down the graph.
     *
     * @param bottom stop once every node with index &gt;= bottom has its complete signal (0: down to the inputs)
     * @return the signal at every node with index &gt;= bottom (null where no signal arrives)
     */
    public INDArray[] propagate(List<INDArray> acts, INDArray signal, int bottom, Propagation.Rule rule,
                                CombineRule combineRule) {
        return propagate(acts, nodes.size() - 1, signal, bottom, rule, combineRule);
    }

    /**
     * Propagates {@code signal} at node {@code top} (any node, e.g. a hidden layer's output) down the graph; nodes
     * above {@code top} contribute nothing.
     *
     * @return the signal at every node with index in [bottom, top] (null where no signal arrives)
     */
    public INDArray[] propagate(List<INDArray> acts, int top, INDArray signal, int bottom, Propagation.Rule rule,
                                CombineRule combineRule) {
        if (top < 0 || top >= nodes.size()) {
            throw new IllegalArgumentException("node " + top + " not in 0.." + (nodes.size() - 1));
        }
        INDArray[] sig = new INDArray[nodes.size()];
        sig[top] = signal;
        for (int k = top; k > bottom; k--) {
            Node nd = nodes.get(k);
            if (sig[k] == null || nd.isInput()) {
                continue;
            }
            if (nd.step != null) {
                int i = nd.inputs[0];
                add(sig, i, rule.apply(k, nd.step, acts.get(i), acts.get(k), sig[k]));
            } else {
                INDArray[] back = combineRule.apply(k, nd.combine, gather(acts, nd.inputs), acts.get(k), sig[k]);
                for (int j = 0; j < nd.inputs.length; j++) {
                    add(sig, nd.inputs[j], back[j]);
                }
            }
        }
        return sig;
    }

    private static void add(INDArray[] sig, int i, INDArray v) {
        if (v == null) {
            return;
        }
        sig[i] = sig[i] == null ? v.dup() : sig[i].addi(v);
    }

    /** The signals at the network inputs (zeros where none arrives), from {@link #propagate}'s result. */
    public INDArray[] atInputs(INDArray[] sig, List<INDArray> acts) {
        INDArray[] r = new INDArray[inputNames.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = sig[i] != null ? sig[i] : Nd4j.zeros(acts.get(i).dataType(), acts.get(i).shape());
        }
        return r;
    }

    /** Image geometry {c, h, w} of input 0: from a rank-4 input, or a FeedForwardToCnn reshape reading it, or null. */
    public long[] inputImageShape(INDArray x) {
        return inputImageShape(0, x);
    }

    /**
     * Image geometry {c, h, w} of input {@code input} (node {@code input}): from a rank-4 array of it, or a
     * FeedForwardToCnn reshape reading it, or null.
     */
    public long[] inputImageShape(int input, INDArray x) {
        if (x.rank() == 4) {
            return new long[]{x.size(1), x.size(2), x.size(3)};
        }
        for (Node nd : nodes) {
            if (nd.step instanceof Propagation.Reshape r && nd.inputs.length == 1 && nd.inputs[0] == input
                    && r.shape().length == 3) {
                return r.shape();
            }
        }
        return null;
    }
}
