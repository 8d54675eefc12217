package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LocalResponseNormalization;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The input window a unit sees (its receptive field) in a MultiLayerNetwork's conv/pooling stack or over the
 * vertices of a single-input ComputationGraph, and the crop of an input inside that window (Zeiler &amp; Fergus,
 * Fig. 2: "the corresponding image patches").
 *
 * <p>Going down one window layer with kernel k, stride s, top/left padding p and dilation d, output rows
 * {@code [a, b]} see input rows {@code [a*s - p, b*s - p + (k-1)*d]} (columns alike). Padding is the configured
 * one in Truncate/Strict mode and DL4J's {@code floor(total/2)} top/left padding in Same mode. Element-wise
 * layers (activation, dropout, batch normalisation, local response normalisation) keep the window. A unit of a
 * dense layer (or anything after the first dense layer) sees the whole input.
 *
 * <p>In a graph ({@link #of(ComputationGraph, int, int, int)}) the requested unit's window goes down the vertices in
 * reverse topological order: an element-wise vertex (add, subtract, average, product, max) passes it to every input,
 * so a unit after a skip addition sees the bounding box of the union of its inputs' fields; a merge passes a
 * channel's window to the input that channel came from (every input when the channel is not known, e.g. below a
 * convolution, which mixes channels); a subset to its source channels; scale and shift keep it; global pooling,
 * dense layers and a CnnToFeedForward preprocessor see the whole input. A vertex without a rule fails at
 * construction, naming it.
 *
 * <p>Windows are in input coordinates and may extend past the borders (padding); {@link #crop} clips them to
 * the image, so crops at the border are smaller than the window and {@link Crop} says where they lie.
 */
public final class ReceptiveField {

    /** Names of the layers this class understands (for error messages). */
    public static final List<String> SUPPORTED = List.of("ConvolutionLayer (2-d, NCHW)", "SubsamplingLayer",
            "ActivationLayer", "DropoutLayer", "BatchNormalization", "LocalResponseNormalization",
            "DenseLayer/OutputLayer (whole input)");

    /**
     * An inclusive window of input rows {@code y0..y1} and columns {@code x0..x1}.
     *
     * @param y0 first row
     * @param y1 last row (inclusive)
     * @param x0 first column
     * @param x1 last column (inclusive)
     */
    public record Window(int y0, int y1, int x0, int x1) {
        /** Number of rows. */
        public int height() {
            return y1 - y0 + 1;
        }

        /** Number of columns. */
        public int width() {
            return x1 - x0 + 1;
        }
    }

    /**
     * A crop of one input.
     *
     * @param pixels  {@code [channels, rows, columns]}, a copy
     * @param clipped the window actually cut out (the receptive field clipped to the image)
     * @param field   the full receptive field (may extend past the image)
     */
    public record Crop(INDArray pixels, Window clipped, Window field) {
    }

    // node kinds
    private static final int INPUT = 0;
    private static final int WINDOW = 1;
    private static final int SAME = 2;
    private static final int FULL = 3;
    private static final int UNION = 4;
    private static final int MERGE = 5;
    private static final int SUBSET = 6;

    /**
     * One node of the geometry graph, in topological order (inputs before the nodes that read them).
     *
     * @param geo      WINDOW: kernel, stride, top/left padding, dilation per axis, and 1 for a per-channel
     *                 window (pooling), 0 for one that mixes channels (convolution)
     * @param chan     MERGE: the first channel of each input, then the total; SUBSET: the first channel taken
     * @param h        output rows (1 for FULL)
     * @param w        output columns (1 for FULL)
     * @param channels output channels (or neurons), -1 when unknown
     */
    private record Node(String name, int kind, int[] geo, int[] inputs, int[] chan, int h, int w, int channels) {
    }

    private final int channels;
    private final int inH;
    private final int inW;
    /** Per network input {channels, rows, columns} (graphs with several inputs; one entry otherwise). */
    private final int[][] inShapes;
    /** Names of the network inputs (graphs), in the graph's order; node i is input i. */
    private final List<String> inputNames;
    private final List<Node> nodes;
    private final boolean[] fullNode;
    /** Per node, the bit set of the inputs that reach it. */
    private final long[] reach;
    /** Per node, the bit set of the inputs whose whole image it sees (a dense layer, global pooling... between). */
    private final long[] full;
    /** Per DL4J layer index, the node holding that layer's output. */
    private final int[] layerNode;
    /** Layer names by index (graphs: the vertex names), for messages. */
    private final List<String> layerNames;
    /** Node index by vertex name (graphs only; empty for a MultiLayerNetwork). */
    private final Map<String, Integer> byName;
    private final int[][] fieldCache;

    private ReceptiveField(int channels, int inH, int inW, List<Node> nodes, int[] layerNode, List<String> layerNames,
                           Map<String, Integer> byName) {
        this(new int[][]{{channels, inH, inW}}, List.of("input"), nodes, layerNode, layerNames, byName);
    }

    private ReceptiveField(int[][] inShapes, List<String> inputNames, List<Node> nodes, int[] layerNode,
                           List<String> layerNames, Map<String, Integer> byName) {
        this.channels = inShapes[0][0];
        this.inH = inShapes[0][1];
        this.inW = inShapes[0][2];
        this.inShapes = inShapes;
        this.inputNames = List.copyOf(inputNames);
        this.nodes = List.copyOf(nodes);
        this.layerNode = layerNode;
        this.layerNames = List.copyOf(layerNames);
        this.byName = Map.copyOf(byName);
        this.fullNode = new boolean[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            Node nd = nodes.get(i);
            boolean f = nd.kind() == FULL;
            for (int in : nd.inputs()) {
                f |= fullNode[in];
            }
            fullNode[i] = f;
        }
        this.reach = new long[nodes.size()];
        this.full = new long[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            Node nd = nodes.get(i);
            if (nd.kind() == INPUT) {
                reach[i] = 1L << i;
            }
            for (int in : nd.inputs()) {
                reach[i] |= reach[in];
                full[i] |= full[in];
            }
            if (nd.kind() == FULL) {
                full[i] = reach[i];
            }
        }
        this.fieldCache = new int[layerNode.length * inShapes.length][];
    }

    /**
     * Geometry of a network whose input geometry is known from its first layer's FeedForwardToCnn preprocessor
     * (as {@code InputType.convolutionalFlat} sets up).
     *
     * @throws IllegalArgumentException when there is no such preprocessor (use {@link #of(MultiLayerNetwork, int, int, int)})
     */
    public static ReceptiveField of(MultiLayerNetwork net) {
        InputPreProcessor pp = net.getLayerWiseConfigurations().getInputPreProcess(0);
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return of(net, (int) f.getNumChannels(), (int) f.getInputHeight(), (int) f.getInputWidth());
        }
        throw new IllegalArgumentException("The input geometry is not in the configuration (no FeedForwardToCnn "
                + "preprocessor at layer 0); pass channels, height and width to ReceptiveField.of(net, c, h, w)");
    }

    /**
     * Geometry of a network fed images of {@code channels x height x width}.
     *
     * @throws IllegalArgumentException naming the first layer not in {@link #SUPPORTED}
     */
    public static ReceptiveField of(MultiLayerNetwork net, int channels, int height, int width) {
        Objects.requireNonNull(net, "net");
        checkShape(channels, height, width);
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        int nl = net.getnLayers();
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("input", INPUT, null, new int[0], null, height, width, channels));
        int[] layerNode = new int[nl];
        List<String> names = new ArrayList<>();
        boolean flat = false;
        for (int i = 0; i < nl; i++) {
            Layer l = conf.getConf(i).getLayer();
            InputPreProcessor pp = conf.getInputPreProcess(i);
            names.add(l.getLayerName() == null ? "layer" + i : l.getLayerName());
            if (pp instanceof CnnToFeedForwardPreProcessor) {
                flat = true;
            }
            String where = "layer " + i + " ('" + (l.getLayerName() == null ? i : l.getLayerName()) + "')";
            if (l instanceof DenseLayer || l instanceof OutputLayer) {
                flat = true;
            }
            Node prev = nodes.get(nodes.size() - 1);
            int[] in = {nodes.size() - 1};
            if (flat) {
                nodes.add(new Node(names.get(i), FULL, null, in, null, 1, 1, -1));
            } else {
                nodes.add(layerNode(names.get(i), where, l, in, prev.h(), prev.w(), -1, SUPPORTED));
            }
            layerNode[i] = nodes.size() - 1;
        }
        return new ReceptiveField(channels, height, width, nodes, layerNode, names, Map.of());
    }

    /** Names of the graph vertices this class understands (for error messages). */
    public static final List<String> SUPPORTED_VERTICES = List.of("LayerVertex (ConvolutionLayer (2-d, NCHW), "
                    + "SubsamplingLayer, ActivationLayer, DropoutLayer, BatchNormalization, LocalResponseNormalization, "
                    + "DenseLayer/OutputLayer/GlobalPoolingLayer (whole input))",
            "ElementWiseVertex (union of the inputs' fields)", "MergeVertex (axis 1: the field of the channels' source)",
            "SubsetVertex", "ScaleVertex", "ShiftVertex",
            "PreprocessorVertex or layer preprocessor (FeedForwardToCnn, CnnToFeedForward: whole input)");

    /**
     * Geometry of a single-input ComputationGraph whose input geometry is in its configuration: a FeedForwardToCnn
     * preprocessor on the vertex reading the input (as {@code setInputTypes(InputType.convolutionalFlat(..))} sets
     * up; DL4J 1.0.0-M2.1 keeps no input types in a built configuration).
     *
     * @throws IllegalArgumentException when the geometry is not in the configuration (use
     *                                  {@link #of(ComputationGraph, int, int, int)}) or for a vertex without a rule
     */
    public static ReceptiveField of(ComputationGraph graph) {
        Objects.requireNonNull(graph, "graph");
        int[] shape = inputShapeOf(graph);
        if (shape == null) {
            throw new IllegalArgumentException("The input geometry is not in the graph's configuration (no "
                    + "FeedForwardToCnn preprocessor reading the input); pass channels, "
                    + "height and width to ReceptiveField.of(graph, c, h, w)");
        }
        return of(graph, shape[0], shape[1], shape[2]);
    }

    /**
     * The input geometry {channels, rows, columns} a single-input graph's configuration states (see
     * {@link #of(ComputationGraph)}), or null.
     */
    public static int[] inputShapeOf(ComputationGraph graph) {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        if (conf.getNetworkInputs().size() != 1) {
            return null;
        }
        return inputShapeOf(graph, conf.getNetworkInputs().get(0));
    }

    /**
     * The image geometry {channels, rows, columns} of the graph input {@code in} as the configuration states it (a
     * FeedForwardToCnn preprocessor on a vertex reading it), or null.
     */
    public static int[] inputShapeOf(ComputationGraph graph, String in) {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            if (!e.getValue().contains(in)) {
                continue;
            }
            GraphVertex v = conf.getVertices().get(e.getKey());
            InputPreProcessor pp = v instanceof LayerVertex lv ? lv.getPreProcessor()
                    : v instanceof PreprocessorVertex pv ? pv.getPreProcessor() : null;
            if (pp instanceof FeedForwardToCnnPreProcessor f) {
                return new int[]{(int) f.getNumChannels(), (int) f.getInputHeight(), (int) f.getInputWidth()};
            }
        }
        return null;
    }

    /**
     * Geometry of a single-input ComputationGraph fed images of {@code channels x height x width} (flat inputs of
     * that many values included). Layer indices are the graph's DL4J layer indices ({@code graph.getLayers()});
     * {@link #layerIndex(String)} maps a layer vertex's name to its index, and {@link #window(String, int, int, int)}
     * addresses any vertex by name.
     *
     * @throws IllegalArgumentException naming the first vertex (or layer, or preprocessor) without a rule, listing
     *                                  {@link #SUPPORTED_VERTICES}, or for a graph with more than one input
     */
    public static ReceptiveField of(ComputationGraph graph, int channels, int height, int width) {
        Objects.requireNonNull(graph, "graph");
        checkShape(channels, height, width);
        List<String> inputs = graph.getConfiguration().getNetworkInputs();
        if (inputs.size() != 1) {
            throw new IllegalArgumentException("This graph has inputs " + inputs + "; pass one geometry per input to "
                    + "ReceptiveField.of(graph, shapes)");
        }
        return of(graph, new int[][]{{channels, height, width}});
    }

    /**
     * Geometry of a ComputationGraph with one or more inputs: {@code shapes[i]} is {channels, rows, columns} of
     * input i (in the order of {@code getNetworkInputs()}; flat inputs of that many values included). A unit's field
     * is then one window per input that reaches it ({@link #windows(int, int, int, int)}): behind a merge of two
     * branches a unit sees a window of each branch's input; a unit with a dense layer (or global pooling) between it
     * and an input sees that whole input. With one input this is {@link #of(ComputationGraph, int, int, int)}.
     *
     * @throws IllegalArgumentException naming the first vertex (or layer, or preprocessor) without a rule, listing
     *                                  {@link #SUPPORTED_VERTICES}, or when the shapes do not match the inputs
     */
    public static ReceptiveField of(ComputationGraph graph, int[][] shapes) {
        Objects.requireNonNull(graph, "graph");
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<String> inputs = conf.getNetworkInputs();
        if (shapes == null || shapes.length != inputs.size()) {
            throw new IllegalArgumentException("The graph has inputs " + inputs + "; got "
                    + (shapes == null ? 0 : shapes.length) + " input geometries");
        }
        if (inputs.size() > 63) {
            throw new IllegalArgumentException("Receptive fields support up to 63 inputs; this graph has " + inputs.size());
        }
        List<Node> nodes = new ArrayList<>();
        Map<String, Integer> nodeOf = new LinkedHashMap<>();
        int[][] sh = new int[shapes.length][];
        for (int i = 0; i < inputs.size(); i++) {
            if (shapes[i] == null || shapes[i].length != 3) {
                throw new IllegalArgumentException("input '" + inputs.get(i) + "' needs {channels, rows, columns}");
            }
            checkShape(shapes[i][0], shapes[i][1], shapes[i][2]);
            sh[i] = shapes[i].clone();
            nodes.add(new Node(inputs.get(i), INPUT, null, new int[0], null, sh[i][1], sh[i][2], sh[i][0]));
            nodeOf.put(inputs.get(i), i);
        }
        Map<String, GraphVertex> vconf = conf.getVertices();
        Map<String, List<String>> vin = conf.getVertexInputs();
        org.deeplearning4j.nn.api.Layer[] layers = graph.getLayers();
        Map<String, Integer> layerIdx = new HashMap<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < layers.length; i++) {
            String nm = layers[i].conf().getLayer().getLayerName();
            layerIdx.put(nm, i);
            names.add(nm);
        }
        int[] layerNode = new int[layers.length];
        Arrays.fill(layerNode, -1);
        Map<Integer, Boolean> fullMemo = new HashMap<>();
        for (int idx : graph.topologicalSortOrder()) {
            String name = graph.getVertices()[idx].getVertexName();
            if (nodeOf.containsKey(name)) {
                continue;
            }
            GraphVertex v = vconf.get(name);
            String where = "vertex '" + name + "'";
            List<String> srcNames = vin.get(name);
            int[] src = new int[srcNames.size()];
            for (int i = 0; i < src.length; i++) {
                src[i] = nodeOf.get(srcNames.get(i));
            }
            Node first = nodes.get(src[0]);
            if (v instanceof LayerVertex lv) {
                int in = src[0];
                if (lv.getPreProcessor() != null) {
                    nodes.add(preprocessorNode(name, where, lv.getPreProcessor(), in, first));
                    in = nodes.size() - 1;
                }
                Node prev = nodes.get(in);
                Layer l = lv.getLayerConf().getLayer();
                if (l instanceof DenseLayer || l instanceof org.deeplearning4j.nn.conf.layers.BaseOutputLayer
                        || l instanceof GlobalPoolingLayer) {
                    long n = l instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer f ? f.getNOut() : prev.channels();
                    nodes.add(new Node(name, FULL, null, new int[]{in}, null, 1, 1, (int) n));
                } else if (fullNode(nodes, in, fullMemo)) {
                    nodes.add(new Node(name, SAME, null, new int[]{in}, null, 1, 1, prev.channels()));
                } else {
                    nodes.add(layerNode(name, where, l, new int[]{in}, prev.h(), prev.w(), prev.channels(),
                            SUPPORTED_VERTICES));
                }
                nodeOf.put(name, nodes.size() - 1);
                Integer li = layerIdx.get(name);
                if (li != null) {
                    layerNode[li] = nodes.size() - 1;
                }
                continue;
            }
            Node nd;
            if (v instanceof ElementWiseVertex) {
                nd = new Node(name, UNION, null, src, null, first.h(), first.w(), first.channels());
            } else if (v instanceof MergeVertex mv) {
                if (mv.getMergeAxis() != 1) {
                    throw unsupported(where, "MergeVertex along axis " + mv.getMergeAxis());
                }
                int[] chan = new int[src.length + 1];
                boolean known = true;
                for (int i = 0; i < src.length; i++) {
                    int c = nodes.get(src[i]).channels();
                    known &= c >= 0;
                    chan[i + 1] = chan[i] + Math.max(0, c);
                }
                nd = new Node(name, MERGE, null, src, known ? chan : null, first.h(), first.w(),
                        known ? chan[src.length] : -1);
            } else if (v instanceof SubsetVertex sv) {
                nd = new Node(name, SUBSET, null, src, new int[]{sv.getFrom()}, first.h(), first.w(),
                        sv.getTo() - sv.getFrom() + 1);
            } else if (v instanceof ScaleVertex || v instanceof ShiftVertex) {
                nd = new Node(name, SAME, null, src, null, first.h(), first.w(), first.channels());
            } else if (v instanceof PreprocessorVertex pv) {
                nd = preprocessorNode(name, where, pv.getPreProcessor(), src[0], first);
            } else {
                throw unsupported(where, v.getClass().getSimpleName());
            }
            if (nd.kind() != UNION && nd.kind() != MERGE && src.length != 1) {
                throw unsupported(where, "a single-input vertex with " + src.length + " inputs");
            }
            nodes.add(nd);
            nodeOf.put(name, nodes.size() - 1);
        }
        return new ReceptiveField(sh, inputs, nodes, layerNode, names, nodeOf);
    }

    private static boolean fullNode(List<Node> nodes, int i, Map<Integer, Boolean> memo) {
        Boolean known = memo.get(i);
        if (known != null) {
            return known;
        }
        Node nd = nodes.get(i);
        boolean f = nd.kind() == FULL;
        for (int in : nd.inputs()) {
            f = f || fullNode(nodes, in, memo);
        }
        memo.put(i, f);
        return f;
    }

    private static IllegalArgumentException unsupported(String where, String what) {
        return new IllegalArgumentException("No receptive-field rule for " + where + ": " + what
                + ". Supported vertices: " + SUPPORTED_VERTICES);
    }

    private static Node preprocessorNode(String name, String where, InputPreProcessor pp, int in, Node prev) {
        if (pp instanceof CnnToFeedForwardPreProcessor) {
            return new Node(name, FULL, null, new int[]{in}, null, 1, 1, prev.channels());
        }
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return new Node(name, SAME, null, new int[]{in}, null, (int) f.getInputHeight(), (int) f.getInputWidth(),
                    (int) f.getNumChannels());
        }
        throw unsupported(where, "preprocessor " + pp.getClass().getSimpleName());
    }

    private static void checkShape(int channels, int height, int width) {
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input geometry must be positive, got " + channels + "x" + height + "x" + width);
        }
    }

    /** The node of a layer (not after the flattening) fed {@code h x w}: a window or an element-wise layer. */
    private static Node layerNode(String name, String where, Layer l, int[] in, int h, int w, int inChannels,
                                  List<String> supported) {
        int[] k;
        int[] s;
        int[] p;
        int[] d;
        ConvolutionMode mode;
        if (l.getClass() == ConvolutionLayer.class || l.getClass() == SubsamplingLayer.class) {
            boolean pool = l instanceof SubsamplingLayer;
            int outChannels = inChannels;
            if (l instanceof ConvolutionLayer c) {
                k = c.getKernelSize();
                s = c.getStride();
                p = c.getPadding();
                d = c.getDilation();
                mode = c.getConvolutionMode();
                outChannels = (int) c.getNOut();
            } else {
                SubsamplingLayer c = (SubsamplingLayer) l;
                k = c.getKernelSize();
                s = c.getStride();
                p = c.getPadding();
                d = c.getDilation();
                mode = c.getConvolutionMode();
            }
            if (mode == ConvolutionMode.Causal) {
                throw new IllegalArgumentException(where + " uses Causal mode; supported: " + supported);
            }
            d = d == null ? new int[]{1, 1} : d;
            p = p == null ? new int[]{0, 0} : p;
            int ekh = (k[0] - 1) * d[0] + 1;
            int ekw = (k[1] - 1) * d[1] + 1;
            int oh;
            int ow;
            int pt;
            int pl;
            if (mode == ConvolutionMode.Same) {
                oh = (h + s[0] - 1) / s[0];
                ow = (w + s[1] - 1) / s[1];
                pt = Math.max(0, (oh - 1) * s[0] + ekh - h) / 2;
                pl = Math.max(0, (ow - 1) * s[1] + ekw - w) / 2;
            } else {
                oh = (h + 2 * p[0] - ekh) / s[0] + 1;
                ow = (w + 2 * p[1] - ekw) / s[1] + 1;
                pt = p[0];
                pl = p[1];
            }
            return new Node(name, WINDOW, new int[]{k[0], k[1], s[0], s[1], pt, pl, d[0], d[1], pool ? 1 : 0}, in, null,
                    oh, ow, outChannels);
        } else if (l instanceof ActivationLayer || l instanceof DropoutLayer || l instanceof BatchNormalization
                || l instanceof LocalResponseNormalization) {
            return new Node(name, SAME, null, in, null, h, w, inChannels);
        }
        throw new IllegalArgumentException(where + " is a " + l.getClass().getSimpleName() + "; supported: " + supported);
    }

    private int nodeOfLayer(int layer) {
        if (layer < 0 || layer >= layerNode.length || layerNode[layer] < 0) {
            throw new IllegalArgumentException("layer " + layer + " not in 0.." + (layerNode.length - 1)
                    + " (layers: " + layerNames + ")");
        }
        return layerNode[layer];
    }

    /**
     * The DL4J layer index of the layer vertex {@code name} (for a MultiLayerNetwork: the layer's name).
     *
     * @throws IllegalArgumentException naming the valid names
     */
    public int layerIndex(String name) {
        int i = layerNames.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("Unknown layer '" + name + "'; layers: " + layerNames);
        }
        return i;
    }

    /** Every vertex with a geometry, by name (graphs; empty for a MultiLayerNetwork). */
    public List<String> vertexNames() {
        return List.copyOf(byName.keySet());
    }

    /** Output size {rows, columns} of layer {@code layer} ({1, 1} for dense layers). */
    public int[] outputSize(int layer) {
        int nd = nodeOfLayer(layer);
        return fullNode[nd] ? new int[]{1, 1} : new int[]{nodes.get(nd).h(), nodes.get(nd).w()};
    }

    /** True when units of {@code layer} see the whole input. */
    public boolean seesWholeInput(int layer) {
        single("seesWholeInput(layer)");
        return fullNode[nodeOfLayer(layer)];
    }

    /**
     * Output channels of layer {@code layer} as the geometry tracked them through a graph (its nOut, or its
     * input's channels for pooling and element-wise layers); -1 when not known (always for a MultiLayerNetwork).
     */
    public int outputChannels(int layer) {
        return nodes.get(nodeOfLayer(layer)).channels();
    }

    /** The input geometry {channels, rows, columns}. */
    public int[] inputShape() {
        single("inputShape()");
        return new int[]{channels, inH, inW};
    }

    /**
     * Size {rows, columns} of the receptive field of any unit of {@code layer} before clipping to the image (in a
     * chain it does not depend on the position; in a graph, the largest over positions and channels); the input's
     * size for a unit that sees the whole input.
     */
    public int[] fieldSize(int layer) {
        single("fieldSize(layer)");
        int nd = nodeOfLayer(layer);
        if (fullNode[nd]) {
            return new int[]{inH, inW};
        }
        int[] c = fieldCache[layer];
        if (c == null) {
            int fh = 0;
            int fw = 0;
            Node n = nodes.get(nd);
            for (int y = 0; y < n.h(); y++) {
                for (int x = 0; x < n.w(); x++) {
                    Window w = trace(nd, -1, y, x);
                    fh = Math.max(fh, w.height());
                    fw = Math.max(fw, w.width());
                }
            }
            c = new int[]{fh, fw};
            fieldCache[layer] = c;
        }
        return c.clone();
    }

    /**
     * The largest crop {@link #crop} cuts for a unit of {@code layer}: {channels, min(field rows, input rows),
     * min(field columns, input columns)} (crops at the border are smaller).
     */
    public int[] maxCropShape(int layer) {
        single("maxCropShape(layer)");
        int[] f = fieldSize(layer);
        return new int[]{channels, Math.min(f[0], inH), Math.min(f[1], inW)};
    }

    /** True when the largest crop of a unit of {@code layer} is smaller than the input (see {@link #maxCropShape}). */
    public boolean cropsSmallerThanInput(int layer) {
        single("cropsSmallerThanInput(layer)");
        int[] c = maxCropShape(layer);
        return (long) c[1] * c[2] < (long) inH * inW;
    }

    /**
     * The input as far as a crop knows it: {@code [channels, rows, columns]} of the crop's data type, the crop's
     * pixels at their place and zeros everywhere else (where the crop did not look).
     *
     * @throws IllegalArgumentException when the crop does not fit this geometry
     */
    public INDArray canvas(Crop crop) {
        single("canvas(crop)");
        Objects.requireNonNull(crop, "crop");
        Window c = crop.clipped();
        long[] sh = crop.pixels().shape();
        if (c.y0() < 0 || c.x0() < 0 || c.y1() >= inH || c.x1() >= inW || sh.length != 3 || sh[0] != channels
                || sh[1] != c.height() || sh[2] != c.width()) {
            throw new IllegalArgumentException("crop of shape " + Arrays.toString(sh) + " at " + c + " does not fit "
                    + channels + "x" + inH + "x" + inW + " inputs");
        }
        INDArray img = Nd4j.zeros(crop.pixels().dataType(), channels, inH, inW);
        img.get(NDArrayIndex.all(), NDArrayIndex.interval(c.y0(), c.y1() + 1), NDArrayIndex.interval(c.x0(), c.x1() + 1))
                .assign(crop.pixels());
        return img;
    }

    /**
     * The receptive field of the unit at position {@code (y, x)} of layer {@code layer}'s output (for dense
     * layers the position is ignored and the whole input is returned), over all the layer's channels.
     */
    public Window window(int layer, int y, int x) {
        return window(layer, -1, y, x);
    }

    /**
     * The receptive field of channel {@code channel} (-1: any channel) at position {@code (y, x)} of layer
     * {@code layer}'s output. The channel matters only behind a merge or subset vertex followed by per-channel
     * layers (pooling, activation): a convolution mixes all channels.
     */
    public Window window(int layer, int channel, int y, int x) {
        single("window(layer, channel, y, x)");
        return at(nodeOfLayer(layer), "layer " + layer, channel, y, x);
    }

    /**
     * The receptive field of channel {@code channel} (-1: any) at position {@code (y, x)} of any vertex of a graph,
     * by name (see {@link #vertexNames()}).
     *
     * @throws IllegalArgumentException naming the valid vertex names
     */
    public Window window(String vertex, int channel, int y, int x) {
        single("window(vertex, channel, y, x)");
        Integer nd = byName.get(vertex);
        if (nd == null) {
            throw new IllegalArgumentException("Unknown vertex '" + vertex + "'; vertices: " + byName.keySet());
        }
        return at(nd, "vertex '" + vertex + "'", channel, y, x);
    }

    private Window at(int nd, String what, int channel, int y, int x) {
        if (fullNode[nd]) {
            return new Window(0, inH - 1, 0, inW - 1);
        }
        Node n = nodes.get(nd);
        if (y < 0 || y >= n.h() || x < 0 || x >= n.w()) {
            throw new IllegalArgumentException("position (" + y + ", " + x + ") outside " + what + "'s output "
                    + n.h() + "x" + n.w());
        }
        return trace(nd, channel, y, x);
    }

    /**
     * The field of one unit of a node that does not see the whole input: the requested box goes down the graph in
     * reverse topological order, each node receiving the bounding box of what its consumers read of it (the union
     * of the inputs' fields at element-wise vertices, the source's channels at a merge or subset).
     */
    private Window trace(int top, int channel, int y, int x) {
        Window[] w = traceAll(top, channel, y, x);
        if (w[0] == null) {
            throw new IllegalStateException("no path from the input");
        }
        return w[0];
    }

    /**
     * The field of one unit in every input: the requested box goes down the graph in reverse topological order,
     * each node receiving the bounding box of what its consumers read of it (the union of the inputs' fields at
     * element-wise vertices, the source's channels at a merge or subset); a node that sees its inputs whole (a dense
     * layer, global pooling) gives every input that reaches it whole. Null where an input does not reach the unit.
     */
    private Window[] traceAll(int top, int channel, int y, int x) {
        int[][] box = new int[top + 1][];
        int[] ch = new int[top + 1];
        box[top] = new int[]{y, y, x, x};
        ch[top] = channel;
        Window[] result = new Window[inShapes.length];
        long whole = 0;
        for (int k = top; k >= 0; k--) {
            int[] b = box[k];
            if (b == null) {
                continue;
            }
            Node nd = nodes.get(k);
            int c = ch[k];
            switch (nd.kind()) {
                case INPUT -> result[k] = new Window(b[0], b[1], b[2], b[3]);
                case WINDOW -> {
                    int[] g = nd.geo();
                    int[] nb = {b[0] * g[2] - g[4], b[1] * g[2] - g[4] + (g[0] - 1) * g[6],
                            b[2] * g[3] - g[5], b[3] * g[3] - g[5] + (g[1] - 1) * g[7]};
                    send(box, ch, nd.inputs()[0], nb, g[8] == 1 ? c : -1);
                }
                case SAME -> send(box, ch, nd.inputs()[0], b, c);
                case UNION -> {
                    for (int in : nd.inputs()) {
                        send(box, ch, in, b, c);
                    }
                }
                case MERGE -> {
                    int[] st = nd.chan();
                    for (int i = 0; i < nd.inputs().length; i++) {
                        if (c < 0 || st == null) {
                            send(box, ch, nd.inputs()[i], b, -1);
                        } else if (c >= st[i] && c < st[i + 1]) {
                            send(box, ch, nd.inputs()[i], b, c - st[i]);
                        }
                    }
                }
                case SUBSET -> send(box, ch, nd.inputs()[0], b, c < 0 ? -1 : c + nd.chan()[0]);
                default -> whole |= reach[k]; // FULL: every input below is seen whole
            }
        }
        for (int i = 0; i < result.length; i++) {
            if ((whole & (1L << i)) != 0) {
                result[i] = new Window(0, inShapes[i][1] - 1, 0, inShapes[i][2] - 1);
            }
        }
        return result;
    }

    private static void send(int[][] box, int[] ch, int to, int[] b, int c) {
        if (box[to] == null) {
            box[to] = b.clone();
            ch[to] = c;
            return;
        }
        int[] o = box[to];
        o[0] = Math.min(o[0], b[0]);
        o[1] = Math.max(o[1], b[1]);
        o[2] = Math.min(o[2], b[2]);
        o[3] = Math.max(o[3], b[3]);
        if (ch[to] != c) {
            ch[to] = -1;
        }
    }

    /**
     * {@link #crop(INDArray, int, int, int)} from one example's values already in Java: {@code image} holds
     * {@code channels x rows x columns} values in NCHW (row-major) order; the crop is made an array of {@code type}.
     * Cheaper when many crops are cut from the same example (one native copy per crop).
     */
    public Crop crop(double[] image, org.nd4j.linalg.api.buffer.DataType type, int layer, int y, int x) {
        single("crop(image, type, layer, y, x)");
        Window f = window(layer, y, x);
        if (image.length != (long) channels * inH * inW) {
            throw new IllegalArgumentException("input of " + image.length + " values is not one example of "
                    + channels + "x" + inH + "x" + inW);
        }
        Window c = new Window(Math.max(0, f.y0()), Math.min(inH - 1, f.y1()), Math.max(0, f.x0()), Math.min(inW - 1, f.x1()));
        int h = c.height();
        int w = c.width();
        double[] px = new double[channels * h * w];
        int o = 0;
        for (int ch = 0; ch < channels; ch++) {
            for (int r = 0; r < h; r++) {
                System.arraycopy(image, (ch * inH + c.y0() + r) * inW + c.x0(), px, o, w);
                o += w;
            }
        }
        return new Crop(Nd4j.create(px, new long[]{channels, h, w}, type), c, f);
    }

    /**
     * Cuts the receptive field of unit {@code (layer, y, x)} out of one input, clipped to the image.
     *
     * @param input one example: {@code [c, h, w]}, {@code [1, c, h, w]}, or flat {@code [c*h*w]} / {@code [1, c*h*w]}
     *              in NCHW order
     */
    public Crop crop(INDArray input, int layer, int y, int x) {
        single("crop(input, layer, y, x)");
        Window f = window(layer, y, x);
        if (input.length() != (long) channels * inH * inW) {
            throw new IllegalArgumentException("input of shape " + Arrays.toString(input.shape()) + " is not one example of "
                    + channels + "x" + inH + "x" + inW);
        }
        INDArray img = input.reshape('c', channels, inH, inW); // a view when possible; only the window is copied
        Window c = new Window(Math.max(0, f.y0()), Math.min(inH - 1, f.y1()), Math.max(0, f.x0()), Math.min(inW - 1, f.x1()));
        INDArray px = img.get(NDArrayIndex.all(), NDArrayIndex.interval(c.y0(), c.y1() + 1),
                NDArrayIndex.interval(c.x0(), c.x1() + 1)).dup('c');
        return new Crop(px, c, f);
    }

    // ---- several inputs -------------------------------------------------------------------------------------

    /** Number of network inputs (1 for a MultiLayerNetwork and a single-input graph). */
    public int numInputs() {
        return inShapes.length;
    }

    /** Names of the network inputs, in the graph's order ({@code "input"} for a MultiLayerNetwork). */
    public List<String> inputNames() {
        return inputNames;
    }

    /** The geometry {channels, rows, columns} of input {@code input}. */
    public int[] inputShape(int input) {
        checkInput(input);
        return inShapes[input].clone();
    }

    /** The inputs that reach layer {@code layer} (whose values it depends on), in the graph's order. */
    public int[] inputsOf(int layer) {
        long r = reach[nodeOfLayer(layer)];
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < inShapes.length; i++) {
            if ((r & (1L << i)) != 0) {
                out.add(i);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** True when input {@code input} reaches layer {@code layer}. */
    public boolean reaches(int layer, int input) {
        checkInput(input);
        return (reach[nodeOfLayer(layer)] & (1L << input)) != 0;
    }

    /** True when units of {@code layer} see the whole of input {@code input} (false when it does not reach them). */
    public boolean seesWholeInput(int layer, int input) {
        checkInput(input);
        return (full[nodeOfLayer(layer)] & (1L << input)) != 0;
    }

    /**
     * The receptive field of channel {@code channel} (-1: any) at position {@code (y, x)} of layer {@code layer}'s
     * output in each input: one window per input that reaches the unit (the whole image of an input seen whole),
     * null for the others.
     */
    public Window[] windows(int layer, int channel, int y, int x) {
        int nd = nodeOfLayer(layer);
        Node n = nodes.get(nd);
        if (full[nd] == reach[nd]) {
            Window[] w = new Window[inShapes.length];
            for (int i = 0; i < w.length; i++) {
                if ((reach[nd] & (1L << i)) != 0) {
                    w[i] = new Window(0, inShapes[i][1] - 1, 0, inShapes[i][2] - 1);
                }
            }
            return w;
        }
        if (y < 0 || y >= n.h() || x < 0 || x >= n.w()) {
            throw new IllegalArgumentException("position (" + y + ", " + x + ") outside layer " + layer + "'s output "
                    + n.h() + "x" + n.w());
        }
        return traceAll(nd, channel, y, x);
    }

    /**
     * The receptive field in input {@code input} of the unit at {@code (y, x)} of {@code layer} (any channel).
     *
     * @throws IllegalArgumentException when that input does not reach the layer
     */
    public Window window(int layer, int input, int channel, int y, int x) {
        Window w = windows(layer, channel, y, x)[inputChecked(layer, input)];
        if (w == null) {
            throw new IllegalStateException("no path from input " + input + " to this unit of layer " + layer);
        }
        return w;
    }

    /**
     * Size {rows, columns} of the largest field of a unit of {@code layer} in input {@code input} before clipping
     * (the input's size when the layer sees it whole).
     */
    public int[] fieldSize(int layer, int input) {
        inputChecked(layer, input);
        int nd = nodeOfLayer(layer);
        if ((full[nd] & (1L << input)) != 0) {
            return new int[]{inShapes[input][1], inShapes[input][2]};
        }
        int slot = layer * inShapes.length + input;
        int[] c = fieldCache[slot];
        if (c == null) {
            int fh = 0;
            int fw = 0;
            Node n = nodes.get(nd);
            for (int y = 0; y < n.h(); y++) {
                for (int x = 0; x < n.w(); x++) {
                    Window w = traceAll(nd, -1, y, x)[input];
                    fh = Math.max(fh, w.height());
                    fw = Math.max(fw, w.width());
                }
            }
            c = new int[]{fh, fw};
            fieldCache[slot] = c;
        }
        return c.clone();
    }

    /** The largest crop of a unit of {@code layer} in input {@code input} (see {@link #maxCropShape(int)}). */
    public int[] maxCropShape(int layer, int input) {
        int[] f = fieldSize(layer, input);
        int[] s = inShapes[input];
        return new int[]{s[0], Math.min(f[0], s[1]), Math.min(f[1], s[2])};
    }

    /** True when the largest crop of a unit of {@code layer} in input {@code input} is smaller than that input. */
    public boolean cropsSmallerThanInput(int layer, int input) {
        int[] c = maxCropShape(layer, input);
        return (long) c[1] * c[2] < (long) inShapes[input][1] * inShapes[input][2];
    }

    /**
     * Cuts the receptive field in input {@code input} of unit {@code (layer, y, x)} out of one example of that input
     * ({@code image}: its values in NCHW row-major order), clipped to the image; an array of {@code type}.
     */
    public Crop crop(double[] image, org.nd4j.linalg.api.buffer.DataType type, int layer, int input, int y, int x) {
        Window f = window(layer, input, -1, y, x);
        int[] s = inShapes[input];
        if (image.length != (long) s[0] * s[1] * s[2]) {
            throw new IllegalArgumentException("input of " + image.length + " values is not one example of input '"
                    + inputNames.get(input) + "' (" + s[0] + "x" + s[1] + "x" + s[2] + ")");
        }
        return cut(image, type, s, f);
    }

    /** {@link #crop(double[], org.nd4j.linalg.api.buffer.DataType, int, int, int, int)} of an array. */
    public Crop crop(INDArray example, int layer, int input, int y, int x) {
        return crop(example.dup('c').data().asDouble(), example.dataType(), layer, input, y, x);
    }

    /** Input {@code input} as far as a crop of it knows it: {@code [c, rows, columns]}, zeros outside the crop. */
    public INDArray canvas(Crop crop, int input) {
        Objects.requireNonNull(crop, "crop");
        checkInput(input);
        int[] s = inShapes[input];
        Window c = crop.clipped();
        long[] sh = crop.pixels().shape();
        if (c.y0() < 0 || c.x0() < 0 || c.y1() >= s[1] || c.x1() >= s[2] || sh.length != 3 || sh[0] != s[0]
                || sh[1] != c.height() || sh[2] != c.width()) {
            throw new IllegalArgumentException("crop of shape " + Arrays.toString(sh) + " at " + c + " does not fit "
                    + "input '" + inputNames.get(input) + "' (" + s[0] + "x" + s[1] + "x" + s[2] + ")");
        }
        INDArray img = Nd4j.zeros(crop.pixels().dataType(), s[0], s[1], s[2]);
        img.get(NDArrayIndex.all(), NDArrayIndex.interval(c.y0(), c.y1() + 1), NDArrayIndex.interval(c.x0(), c.x1() + 1))
                .assign(crop.pixels());
        return img;
    }

    private static Crop cut(double[] image, org.nd4j.linalg.api.buffer.DataType type, int[] s, Window f) {
        int ch = s[0];
        int hh = s[1];
        int ww = s[2];
        Window c = new Window(Math.max(0, f.y0()), Math.min(hh - 1, f.y1()), Math.max(0, f.x0()), Math.min(ww - 1, f.x1()));
        int h = c.height();
        int w = c.width();
        double[] px = new double[ch * h * w];
        int o = 0;
        for (int k = 0; k < ch; k++) {
            for (int r = 0; r < h; r++) {
                System.arraycopy(image, (k * hh + c.y0() + r) * ww + c.x0(), px, o, w);
                o += w;
            }
        }
        return new Crop(Nd4j.create(px, new long[]{ch, h, w}, type), c, f);
    }

    private void checkInput(int input) {
        if (input < 0 || input >= inShapes.length) {
            throw new IllegalArgumentException("input " + input + " not in 0.." + (inShapes.length - 1) + " (inputs: "
                    + inputNames + ")");
        }
    }

    private int inputChecked(int layer, int input) {
        checkInput(input);
        if ((reach[nodeOfLayer(layer)] & (1L << input)) == 0) {
            throw new IllegalArgumentException("input '" + inputNames.get(input) + "' does not reach layer " + layer
                    + " ('" + layerNames.get(layer) + "'); inputs reaching it: " + inputsOf(layer).length);
        }
        return input;
    }

    /** The single-input methods on a graph with several inputs: refused, naming the per-input method. */
    private void single(String method) {
        if (inShapes.length != 1) {
            throw new IllegalStateException(method + " is for networks with one input; this graph has inputs "
                    + inputNames + ": use the per-input form (with an input index)");
        }
    }
}
