package dev.stethoscope.probes.features;

import dev.stethoscope.probes.attribution.GraphPropagation;
import dev.stethoscope.probes.attribution.GuidedBackprop;
import dev.stethoscope.probes.attribution.Propagation;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Deconvnet projection of one activation to pixel space (Zeiler &amp; Fergus 2014, METHODS.md section 1): every
 * other activation of the layer is set to zero, the chosen one keeps its value, and the signal goes down with
 * {@link GuidedBackprop#DECONVNET_RULE}: rectify at each ReLU, transposed filters at each convolution, max-pool
 * switches of this example's forward pass at each pooling layer; no contrast normalisation.
 *
 * <p>For a convolutional unit the projection starts from one position (the one where the unit's top activation
 * occurred, see {@link StreamingTopK}), as the paper does; for a dense unit from that unit. Built on the layer
 * steps of {@link Propagation}, so the same layers are supported (ReLU or identity activations only). Run it on
 * a copy of the training network; the network's parameters are read, not changed.
 */
public final class DeconvProjection {
    private final Propagation prop;
    private final GraphPropagation graph;
    /** Graphs: layer vertex names by DL4J layer index ({@code getLayers()} order). */
    private final List<String> graphLayers;

    /**
     * Unrolls {@code net} (a copy, read only).
     *
     * @throws IllegalArgumentException naming the first layer that is unsupported or has an activation other than
     *                                  ReLU or identity
     */
    public DeconvProjection(MultiLayerNetwork net) {
        Objects.requireNonNull(net, "net");
        this.prop = Propagation.of(net, "Deconvnet projection");
        this.graph = null;
        this.graphLayers = null;
        for (Propagation.Step s : prop.steps()) {
            if (s instanceof Propagation.Activation a && !a.isRelu() && !a.isIdentity()) {
                throw new IllegalArgumentException("Deconvnet projection is defined for ReLU/identity activations; layer "
                        + s.layer() + " uses " + a.fn() + ". Supported layers: " + Propagation.SUPPORTED);
            }
        }
    }

    /**
     * Unrolls a single-output {@code graph} with one or more inputs (a copy, read only; several inputs: see
     * {@link #project(INDArray[], int, int[], int[], int[])}) with {@link GraphPropagation}: the
     * signal goes down every vertex as the deconvnet rule says for layers; a node used by several others (a residual
     * skip) receives the sum of their signals, an element-wise addition passes the signal to each input, a merge
     * splits it by channel, a subset puts it back at its channels (the chain rule at these linear vertices; an
     * element-wise product or max uses the chain rule too). Layers are addressed by DL4J layer index
     * ({@code graph.getLayers()} order, as {@link ReceptiveField#of(ComputationGraph, int, int, int)} does) or by
     * vertex name.
     *
     * @throws IllegalArgumentException naming the first vertex or layer that is unsupported or has an activation
     *                                  other than ReLU or identity
     */
    public DeconvProjection(ComputationGraph graph) {
        Objects.requireNonNull(graph, "graph");
        this.prop = null;
        this.graph = GraphPropagation.of(graph, "Deconvnet projection");
        List<String> names = new ArrayList<>();
        for (org.deeplearning4j.nn.api.Layer l : graph.getLayers()) {
            names.add(l.conf().getLayer().getLayerName());
        }
        this.graphLayers = List.copyOf(names);
        for (GraphPropagation.Node nd : this.graph.nodes()) {
            if (nd.step() instanceof Propagation.Activation a && !a.isRelu() && !a.isIdentity()) {
                throw new IllegalArgumentException("Deconvnet projection is defined for ReLU/identity activations; vertex '"
                        + nd.vertex() + "' uses " + a.fn() + ". Supported vertices: " + GraphPropagation.SUPPORTED_VERTICES);
            }
        }
    }

    /**
     * As {@link #project(INDArray, int, int[], int[], int[])} for the layer vertex {@code vertex} of a graph.
     *
     * @throws IllegalArgumentException naming the valid layer vertices
     */
    public INDArray project(INDArray x, String vertex, int[] units, int[] ys, int[] xs) {
        if (graph == null) {
            throw new IllegalArgumentException("layers of a MultiLayerNetwork are addressed by index");
        }
        int i = graphLayers.indexOf(vertex);
        if (i < 0) {
            throw new IllegalArgumentException("Unknown layer vertex '" + vertex + "'. Valid layer vertices: " + graphLayers);
        }
        return project(x, i, units, ys, xs);
    }

    /**
     * Projects, for each example i, the activation of {@code units[i]} at position {@code (ys[i], xs[i])} of layer
     * {@code layer}'s output (dense layers: positions ignored) down to the input.
     *
     * @param x     the examples, as the network takes them ({@code [n, ...]})
     * @param layer DL4J layer index (not the output layer)
     * @return {@code [n, c, h, w]} when the input is an image (also for a flat input reshaped by a leading
     * FeedForwardToCnn preprocessor), else the input's shape
     */
    public INDArray project(INDArray x, int layer, int[] units, int[] ys, int[] xs) {
        Objects.requireNonNull(x, "x");
        if (graph != null && graph.inputNames().size() != 1) {
            throw new IllegalArgumentException("This graph has inputs " + graph.inputNames()
                    + "; project(INDArray[] xs, ...) takes one array per input");
        }
        int n = (int) x.size(0);
        if (units.length != n || ys.length != n || xs.length != n) {
            throw new IllegalArgumentException(n + " examples but " + units.length + " units, " + ys.length + " rows, "
                    + xs.length + " columns");
        }
        List<INDArray> acts;
        int top;
        if (graph != null) {
            if (layer < 0 || layer >= graphLayers.size() || graphLayers.get(layer).equals(graph.outputName())) {
                throw new IllegalArgumentException("layer " + layer + " is not a layer vertex before the output; layers: "
                        + graphLayers + " (the output layer '" + graph.outputName() + "' has no projection here)");
            }
            top = graph.layerEnd(graphLayers.get(layer));
            acts = graph.forwardTo(top, x); // the nodes above the unit's layer take no part in its projection
        } else {
            if (layer < 0 || layer >= prop.numLayers() - 1) {
                throw new IllegalArgumentException("layer " + layer + " not in 0.." + (prop.numLayers() - 2)
                        + " (the output layer has no projection here)");
            }
            top = prop.layerEnd(layer);
            acts = prop.forwardTo(top, x);
        }
        INDArray a = acts.get(top);
        INDArray signal = Nd4j.zeros(a.dataType(), a.shape());
        for (int i = 0; i < n; i++) {
            if (units[i] < 0 || units[i] >= a.size(1)) {
                throw new IllegalArgumentException("unit " + units[i] + " not in layer " + layer + " with " + a.size(1) + " units");
            }
            long[] idx = a.rank() == 4 ? new long[]{i, units[i], ys[i], xs[i]} : new long[]{i, units[i]};
            if (a.rank() == 4 && (ys[i] < 0 || ys[i] >= a.size(2) || xs[i] < 0 || xs[i] >= a.size(3))) {
                throw new IllegalArgumentException("position (" + ys[i] + ", " + xs[i] + ") outside layer " + layer
                        + "'s output " + a.size(2) + "x" + a.size(3));
            }
            signal.putScalar(idx, a.getDouble(idx));
        }
        INDArray out;
        long[] img;
        if (graph != null) {
            INDArray[] sig = graph.propagate(acts, top, signal, 0, GuidedBackprop.DECONVNET_RULE, GraphPropagation.GRADIENT);
            out = graph.atInputs(sig, acts)[0];
            img = graph.inputImageShape(x);
        } else {
            out = prop.propagate(acts, top, signal, 0, GuidedBackprop.DECONVNET_RULE, null);
            img = prop.inputImageShape(x);
        }
        if (img != null && out.rank() != 4) {
            return out.reshape('c', n, img[0], img[1], img[2]);
        }
        return out;
    }

    /**
     * The deconvnet projection of {@code unit} of {@code layer} at each crop's position, made from the crops alone
     * (no whole input needed): each crop is put at its place on a zero input ({@link ReceptiveField#canvas}) and
     * projected as {@link #project(INDArray, int, int[], int[], int[])} does. The projection of a unit at one
     * position depends only on the input inside that unit's receptive field (the forward values it reads there:
     * max-pool switches; the deconvnet's ReLU rule and transposed convolutions do not read the input), and padding
     * is applied by the layers at the image's borders as in the real forward pass, so the result equals the
     * projection of the whole input restricted to the crop's window.
     *
     * @param rf           the receptive-field geometry of the same network
     * @param exampleShape the shape of one example as the network takes it (e.g. {@code {784}} for a flat input
     *                     behind a FeedForwardToCnn preprocessor, {@code {c, h, w}} otherwise)
     * @param crops        crops cut by {@code rf.crop(input, layer, ys[j], xs[j])}
     * @return per crop, the projection cut to the crop's clipped window: {@code [c, rows, columns]}
     * @throws IllegalArgumentException when a crop's field is not the one of its position
     */
    public List<INDArray> projectCrops(ReceptiveField rf, long[] exampleShape, int layer, int unit,
                                       List<ReceptiveField.Crop> crops, int[] ys, int[] xs) {
        int[] u = new int[crops.size()];
        Arrays.fill(u, unit);
        return projectCrops(rf, exampleShape, layer, u, crops, ys, xs);
    }

    /**
     * As {@link #projectCrops(ReceptiveField, long[], int, int, List, int[], int[])} with a unit per crop: crop j is
     * projected from {@code units[j]} at {@code (ys[j], xs[j])}. Each crop's projection is computed in its own row of
     * one batch (the rows do not mix), so projecting the crops of several units in one call gives each the same
     * values as a call per unit, with one pass through the network instead of one per unit.
     */
    public List<INDArray> projectCrops(ReceptiveField rf, long[] exampleShape, int layer, int[] units,
                                       List<ReceptiveField.Crop> crops, int[] ys, int[] xs) {
        Objects.requireNonNull(rf, "rf");
        int m = crops.size();
        if (ys.length != m || xs.length != m || units.length != m) {
            throw new IllegalArgumentException(m + " crops but " + units.length + " units, " + ys.length + " rows and "
                    + xs.length + " columns");
        }
        if (m == 0) {
            return List.of();
        }
        int[] in = rf.inputShape();
        long per = 1;
        for (long d : exampleShape) {
            per *= d;
        }
        if (per != (long) in[0] * in[1] * in[2]) {
            throw new IllegalArgumentException("example shape " + Arrays.toString(exampleShape) + " is not "
                    + in[0] + "x" + in[1] + "x" + in[2] + " values");
        }
        INDArray canvas = Nd4j.zeros(crops.get(0).pixels().dataType(), m, in[0], in[1], in[2]);
        for (int j = 0; j < m; j++) {
            ReceptiveField.Crop c = crops.get(j);
            ReceptiveField.Window f = rf.window(layer, ys[j], xs[j]);
            if (!f.equals(c.field())) {
                throw new IllegalArgumentException("crop " + j + " was cut for field " + c.field() + ", but unit ("
                        + layer + ", " + ys[j] + ", " + xs[j] + ") sees " + f);
            }
            canvas.get(NDArrayIndex.point(j)).assign(rf.canvas(c));
        }
        long[] shape = new long[exampleShape.length + 1];
        shape[0] = m;
        System.arraycopy(exampleShape, 0, shape, 1, exampleShape.length);
        INDArray p = project(canvas.reshape('c', shape), layer, units, ys, xs);
        if (p.rank() != 4) {
            p = p.reshape('c', m, in[0], in[1], in[2]);
        }
        List<INDArray> out = new ArrayList<>(m);
        for (int j = 0; j < m; j++) {
            ReceptiveField.Window w = crops.get(j).clipped();
            out.add(p.get(NDArrayIndex.point(j), NDArrayIndex.all(), NDArrayIndex.interval(w.y0(), w.y1() + 1),
                    NDArrayIndex.interval(w.x0(), w.x1() + 1)).dup('c'));
        }
        return out;
    }

    /** Projects the top entries {@code from..to-1} of one unit in a snapshot; {@code inputs} holds their examples in that order. */
    public INDArray project(INDArray inputs, int layer, TopKSnapshot snap, int row, int from, int to) {
        int m = to - from;
        if (from < 0 || to > snap.examples()[row].length || m < 0 || inputs.size(0) != m) {
            throw new IllegalArgumentException("entries " + from + ".." + to + " of unit " + snap.units()[row] + " (has "
                    + snap.examples()[row].length + ") with " + inputs.size(0) + " inputs");
        }
        int[] u = new int[m];
        Arrays.fill(u, snap.units()[row]);
        return project(inputs, layer, u, Arrays.copyOfRange(snap.ys()[row], from, to), Arrays.copyOfRange(snap.xs()[row], from, to));
    }

    /**
     * The deconvnet projection of a graph with several inputs: as {@link #project(INDArray, int, int[], int[], int[])},
     * the signal of each example's chosen activation going down every path to every input; a unit behind a merge of
     * two branches projects into both branches' inputs.
     *
     * @param xs    one array per network input (in the graph's order), each {@code [n, ...]} as the graph takes it
     * @param layer DL4J layer index (not the output layer)
     * @return per input, {@code [n, c, h, w]} when that input is an image (also a flat input reshaped by a
     * FeedForwardToCnn preprocessor reading it), else that input's shape; zeros for an input that does not reach
     * the layer
     */
    public INDArray[] project(INDArray[] xs, int layer, int[] units, int[] ys, int[] xs2) {
        Objects.requireNonNull(xs, "xs");
        if (graph == null) {
            return new INDArray[]{project(xs[0], layer, units, ys, xs2)};
        }
        if (xs.length != graph.inputNames().size()) {
            throw new IllegalArgumentException("The graph takes " + graph.inputNames().size() + " inputs "
                    + graph.inputNames() + "; got " + xs.length);
        }
        int n = (int) xs[0].size(0);
        if (units.length != n || ys.length != n || xs2.length != n) {
            throw new IllegalArgumentException(n + " examples but " + units.length + " units, " + ys.length + " rows, "
                    + xs2.length + " columns");
        }
        if (layer < 0 || layer >= graphLayers.size() || graphLayers.get(layer).equals(graph.outputName())) {
            throw new IllegalArgumentException("layer " + layer + " is not a layer vertex before the output; layers: "
                    + graphLayers + " (the output layer '" + graph.outputName() + "' has no projection here)");
        }
        List<INDArray> acts = graph.forward(xs);
        int top = graph.layerEnd(graphLayers.get(layer));
        INDArray signal = chosen(acts.get(top), layer, units, ys, xs2);
        INDArray[] sig = graph.propagate(acts, top, signal, 0, GuidedBackprop.DECONVNET_RULE, GraphPropagation.GRADIENT);
        INDArray[] out = graph.atInputs(sig, acts);
        for (int i = 0; i < out.length; i++) {
            long[] img = graph.inputImageShape(i, xs[i]);
            if (img != null && out[i].rank() != 4) {
                out[i] = out[i].reshape('c', n, img[0], img[1], img[2]);
            }
        }
        return out;
    }

    /** The layer's activations with every value but each example's chosen one set to zero. */
    private static INDArray chosen(INDArray a, int layer, int[] units, int[] ys, int[] xs) {
        INDArray signal = Nd4j.zeros(a.dataType(), a.shape());
        for (int i = 0; i < units.length; i++) {
            if (units[i] < 0 || units[i] >= a.size(1)) {
                throw new IllegalArgumentException("unit " + units[i] + " not in layer " + layer + " with " + a.size(1) + " units");
            }
            long[] idx = a.rank() == 4 ? new long[]{i, units[i], ys[i], xs[i]} : new long[]{i, units[i]};
            if (a.rank() == 4 && (ys[i] < 0 || ys[i] >= a.size(2) || xs[i] < 0 || xs[i] >= a.size(3))) {
                throw new IllegalArgumentException("position (" + ys[i] + ", " + xs[i] + ") outside layer " + layer
                        + "'s output " + a.size(2) + "x" + a.size(3));
            }
            signal.putScalar(idx, a.getDouble(idx));
        }
        return signal;
    }

    /**
     * What is kept of one example in one input for a projection: the receptive-field crop (the unit sees part of
     * that input) or the whole example of that input as the graph takes it (the unit sees all of it); both null
     * when the input does not reach the unit.
     *
     * @param crop  a crop cut by {@link ReceptiveField#crop(double[], org.nd4j.linalg.api.buffer.DataType, int, int,
     *              int, int)}, or null
     * @param whole the whole example ({@code [1, ...]} or without the leading 1), or null
     */
    public record Part(ReceptiveField.Crop crop, INDArray whole) {
    }

    /**
     * The deconvnet projection of {@code unit} of {@code layer} of a graph with several inputs at each entry's
     * position, made from what is kept of each entry's inputs ({@link Part}: crops where the unit sees a window of an
     * input, whole examples where it sees all of it): each crop is put at its place on a zero input, each whole
     * example as it is, zeros for inputs that do not reach the unit, then projected by
     * {@link #project(INDArray[], int, int[], int[], int[])}. As for {@link #projectCrops}, a unit's projection
     * depends only on the input inside its receptive field in every input (the max-pool switches read there), so
     * this equals the projection of the whole inputs, restricted to each crop's window.
     *
     * @param rf           the receptive-field geometry of the same graph ({@link ReceptiveField#of(ComputationGraph,
     *                     int[][])})
     * @param exampleShapes per input, the shape of one example as the graph takes it
     * @param parts        per entry, one {@link Part} per input
     * @return per entry, per input: the projection cut to the crop's clipped window ({@code [c, rows, columns]}), the
     * whole input's projection ({@code [c, h, w]}) for a whole part, null for an input that does not reach the unit
     */
    public List<INDArray[]> projectParts(ReceptiveField rf, long[][] exampleShapes, int layer, int unit,
                                         List<Part[]> parts, int[] ys, int[] xs) {
        Objects.requireNonNull(rf, "rf");
        int m = parts.size();
        if (ys.length != m || xs.length != m) {
            throw new IllegalArgumentException(m + " entries but " + ys.length + " rows and " + xs.length + " columns");
        }
        if (m == 0) {
            return List.of();
        }
        int ni = rf.numInputs();
        if (exampleShapes.length != ni) {
            throw new IllegalArgumentException(ni + " inputs but " + exampleShapes.length + " example shapes");
        }
        org.nd4j.linalg.api.buffer.DataType type = null;
        for (Part[] p : parts) {
            for (Part q : p) {
                if (q != null && type == null) {
                    type = q.crop() != null ? q.crop().pixels().dataType() : q.whole() != null ? q.whole().dataType() : null;
                }
            }
        }
        if (type == null) {
            throw new IllegalArgumentException("no input reaches layer " + layer);
        }
        INDArray[] in = new INDArray[ni];
        for (int i = 0; i < ni; i++) {
            int[] s = rf.inputShape(i);
            INDArray canvas = Nd4j.zeros(type, m, s[0], s[1], s[2]);
            for (int j = 0; j < m; j++) {
                Part q = parts.get(j)[i];
                if (q == null) {
                    continue;
                }
                if (q.crop() != null) {
                    ReceptiveField.Window f = rf.window(layer, i, -1, ys[j], xs[j]);
                    if (!f.equals(q.crop().field())) {
                        throw new IllegalArgumentException("crop " + j + " of input " + i + " was cut for field "
                                + q.crop().field() + ", but unit (" + layer + ", " + ys[j] + ", " + xs[j] + ") sees " + f);
                    }
                    canvas.get(NDArrayIndex.point(j)).assign(rf.canvas(q.crop(), i));
                } else if (q.whole() != null) {
                    canvas.get(NDArrayIndex.point(j)).assign(q.whole().reshape('c', s[0], s[1], s[2]).castTo(type));
                }
            }
            long[] shape = new long[exampleShapes[i].length + 1];
            shape[0] = m;
            System.arraycopy(exampleShapes[i], 0, shape, 1, exampleShapes[i].length);
            in[i] = canvas.reshape('c', shape);
        }
        int[] u = new int[m];
        Arrays.fill(u, unit);
        INDArray[] p = project(in, layer, u, ys, xs);
        List<INDArray[]> out = new ArrayList<>(m);
        for (int j = 0; j < m; j++) {
            INDArray[] e = new INDArray[ni];
            for (int i = 0; i < ni; i++) {
                Part q = parts.get(j)[i];
                if (q == null || (q.crop() == null && q.whole() == null)) {
                    continue;
                }
                int[] s = rf.inputShape(i);
                INDArray pi = p[i].rank() == 4 ? p[i] : p[i].reshape('c', m, s[0], s[1], s[2]);
                if (q.crop() != null) {
                    ReceptiveField.Window w = q.crop().clipped();
                    e[i] = pi.get(NDArrayIndex.point(j), NDArrayIndex.all(), NDArrayIndex.interval(w.y0(), w.y1() + 1),
                            NDArrayIndex.interval(w.x0(), w.x1() + 1)).dup('c');
                } else {
                    e[i] = pi.get(NDArrayIndex.point(j)).dup('c');
                }
            }
            out.add(e);
        }
        return out;
    }
}
