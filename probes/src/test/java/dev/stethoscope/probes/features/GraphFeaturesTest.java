package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Receptive fields and deconvnet projections over ComputationGraph vertices: the computed field equals the pixels a
 * unit's activation actually depends on (found by perturbing the input), for units of every vertex kind of a
 * residual graph (after skip additions, a merge, a subset, scale and shift); the crop-based projection equals the
 * whole-input one on that graph; a chain graph gives the MultiLayerNetwork's fields and projections.
 */
class GraphFeaturesTest {
    static final int SIDE = 32;
    static final int W = 3;

    /**
     * A residual graph on flat 1x32x32 inputs, every vertex kind the receptive field has a rule for: stem conv 3x3
     * stride 2 (Same) - 2x2 pool - [conv 3x3 - conv 3x3] + skip - activation - merge(pool, that) - activation -
     * subset of the merge's second half - scale - shift - conv 1x1 - [conv 3x3] + skip - activation - global pooling - output.
     * {@code linear}: identity activations and average pooling (every pixel in a field changes the unit), else ReLU
     * and max pooling (as the sample's resnet).
     */
    static ComputationGraph residual(boolean linear, long seed) {
        Activation act = linear ? Activation.IDENTITY : Activation.RELU;
        PoolingType pool = linear ? PoolingType.AVG : PoolingType.MAX;
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.DOUBLE)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("input")
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).stride(2, 2).nIn(1).nOut(W).activation(act).build(),
                        new FeedForwardToCnnPreProcessor(SIDE, SIDE, 1), "input")
                .addLayer("stem-pool", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Truncate).build(), "stem")
                .addLayer("b1-conv1", new ConvolutionLayer.Builder(3, 3).nIn(W).nOut(W).activation(act).build(), "stem-pool")
                .addLayer("b1-conv2", new ConvolutionLayer.Builder(3, 3).nIn(W).nOut(W).activation(Activation.IDENTITY).build(), "b1-conv1")
                .addVertex("b1-add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "stem-pool", "b1-conv2")
                .addLayer("b1-relu", new ActivationLayer.Builder().activation(act).build(), "b1-add")
                .addVertex("cat", new MergeVertex(), "stem-pool", "b1-relu")
                .addLayer("cat-act", new ActivationLayer.Builder().activation(act).build(), "cat")
                .addVertex("half", new SubsetVertex(W, 2 * W - 1), "cat-act")
                .addVertex("scaled", new ScaleVertex(0.5), "half")
                .addVertex("shifted", new ShiftVertex(0.25), "scaled")
                .addLayer("proj", new ConvolutionLayer.Builder(1, 1).nIn(W).nOut(W).activation(Activation.IDENTITY).build(), "shifted")
                .addLayer("b2-conv", new ConvolutionLayer.Builder(3, 3).nIn(W).nOut(W).activation(Activation.IDENTITY).build(), "proj")
                .addVertex("b2-add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "proj", "b2-conv")
                .addLayer("b2-relu", new ActivationLayer.Builder().activation(act).build(), "b2-add")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "b2-relu")
                .addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(W).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("output").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * Perturbs each input pixel of a copy of {@code x} (one example) in turn, all in one batched forward pass, and
     * returns per vertex the activations of the perturbed inputs minus the base: row p is pixel p's effect.
     */
    static Map<String, INDArray> effects(ComputationGraph g, INDArray x) {
        int n = SIDE * SIDE;
        INDArray batch = Nd4j.repeat(x, n).reshape(n, n).dup();
        for (int p = 0; p < n; p++) {
            batch.putScalar(p, p, batch.getDouble(p, p) + 1.0);
        }
        Map<String, INDArray> base = g.feedForward(x, false);
        Map<String, INDArray> pert = g.feedForward(batch, false);
        Map<String, INDArray> out = new java.util.HashMap<>();
        for (String v : pert.keySet()) {
            INDArray b = base.get(v);
            long[] shape = b.shape();
            long[] rep = shape.clone();
            rep[0] = n;
            out.put(v, pert.get(v).sub(b.broadcast(rep)));
        }
        return out;
    }

    /** The bounding box of the pixels whose perturbation changed the unit, or null when none did. */
    static ReceptiveField.Window empirical(INDArray effect, int c, int y, int x) {
        int y0 = Integer.MAX_VALUE, y1 = -1, x0 = Integer.MAX_VALUE, x1 = -1;
        for (int p = 0; p < SIDE * SIDE; p++) {
            double d = effect.rank() == 4 ? effect.getDouble(p, c, y, x) : effect.getDouble(p, c);
            if (Math.abs(d) > 1e-12) {
                int py = p / SIDE;
                int px = p % SIDE;
                y0 = Math.min(y0, py);
                y1 = Math.max(y1, py);
                x0 = Math.min(x0, px);
                x1 = Math.max(x1, px);
            }
        }
        return y1 < 0 ? null : new ReceptiveField.Window(y0, y1, x0, x1);
    }

    static ReceptiveField.Window clip(ReceptiveField.Window w) {
        return new ReceptiveField.Window(Math.max(0, w.y0()), Math.min(SIDE - 1, w.y1()), Math.max(0, w.x0()),
                Math.min(SIDE - 1, w.x1()));
    }

    static final List<String> VERTICES = List.of("stem", "stem-pool", "b1-conv1", "b1-conv2", "b1-add", "b1-relu",
            "cat", "cat-act", "half", "scaled", "shifted", "proj", "b2-conv", "b2-add", "b2-relu", "gap");

    @Test
    void fieldEqualsThePixelsAUnitDependsOn_everyVertexKind() {
        ComputationGraph g = residual(true, 11);
        ReceptiveField rf = ReceptiveField.of(g);
        assertArrayEquals(new int[]{1, SIDE, SIDE}, rf.inputShape());
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, SIDE * SIDE);
        Map<String, INDArray> eff = effects(g, x);
        int checked = 0;
        int smaller = 0;
        for (String v : VERTICES) {
            INDArray e = eff.get(v);
            int channels = (int) e.size(1);
            int h = e.rank() == 4 ? (int) e.size(2) : 1;
            int w = e.rank() == 4 ? (int) e.size(3) : 1;
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        ReceptiveField.Window computed = clip(rf.window(v, c, y, xx));
                        assertEquals(empirical(e, c, y, xx), computed, v + " channel " + c + " at (" + y + ", " + xx + ")");
                        checked++;
                        if (computed.height() < SIDE || computed.width() < SIDE) {
                            smaller++;
                        }
                    }
                }
            }
        }
        assertTrue(checked > 1000, "units checked: " + checked);
        assertTrue(smaller > 500, "units whose field is smaller than the image: " + smaller);
        // after the skip addition: the union of the skip's (pool) and the convolutions' fields = the convolutions'
        assertEquals(rf.window("b1-conv2", 0, 1, 2), rf.window("b1-add", 0, 1, 2));
        assertEquals(new ReceptiveField.Window(4, 8, 8, 12), rf.window("stem-pool", 0, 1, 2));
        // merge: its first channels come from the pool, the others from b1-relu (a larger field)
        assertEquals(rf.window("stem-pool", 0, 1, 2), rf.window("cat-act", 1, 1, 2));
        assertEquals(rf.window("b1-relu", 0, 1, 2), rf.window("cat-act", W + 1, 1, 2));
        assertEquals(rf.window("b1-relu", 0, 1, 2), rf.window("half", 0, 1, 2));
        // layer indices address layer vertices
        int pool = rf.layerIndex("stem-pool");
        assertEquals(rf.window("stem-pool", -1, 2, 3), rf.window(pool, 2, 3));
        assertArrayEquals(new int[]{8, 8}, rf.outputSize(pool));
        assertArrayEquals(new int[]{5, 5}, rf.fieldSize(pool));
        assertTrue(rf.seesWholeInput(rf.layerIndex("gap")));
        assertFalse(rf.seesWholeInput(rf.layerIndex("b2-relu")));
    }

    /** With ReLU and max pooling a unit depends on a subset of its field (dead paths, pooling switches), never more. */
    @Test
    void reluResidual_dependsOnlyOnItsField() {
        ComputationGraph g = residual(false, 12);
        ReceptiveField rf = ReceptiveField.of(g);
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, SIDE * SIDE);
        Map<String, INDArray> eff = effects(g, x);
        int nonEmpty = 0;
        for (String v : VERTICES) {
            INDArray e = eff.get(v);
            if (e.rank() != 4) {
                continue;
            }
            for (int c = 0; c < e.size(1); c++) {
                for (int y = 0; y < e.size(2); y++) {
                    for (int xx = 0; xx < e.size(3); xx++) {
                        ReceptiveField.Window emp = empirical(e, c, y, xx);
                        if (emp == null) {
                            continue;
                        }
                        nonEmpty++;
                        ReceptiveField.Window f = clip(rf.window(v, c, y, xx));
                        assertTrue(emp.y0() >= f.y0() && emp.y1() <= f.y1() && emp.x0() >= f.x0() && emp.x1() <= f.x1(),
                                v + " " + c + " (" + y + ", " + xx + "): depends on " + emp + " outside " + f);
                    }
                }
            }
        }
        assertTrue(nonEmpty > 500, "units with a non-empty dependence: " + nonEmpty);
    }

    @Test
    void aVertexWithoutARuleIsNamed() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).graphBuilder()
                .addInputs("in")
                .addLayer("d", new DenseLayer.Builder().nIn(4).nOut(4).build(), "in")
                .addVertex("odd", new org.deeplearning4j.nn.conf.graph.L2NormalizeVertex(), "d")
                .addLayer("out", new OutputLayer.Builder().nIn(4).nOut(2).activation(Activation.SOFTMAX).build(), "odd")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReceptiveField.of(g, 1, 2, 2));
        assertTrue(e.getMessage().contains("'odd'") && e.getMessage().contains("L2NormalizeVertex")
                && e.getMessage().contains("MergeVertex"), e.getMessage());
    }

    @Test
    void chainGraphHasTheNetworksFieldsAndProjections() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        ComputationGraph g = dev.stethoscope.probes.TestGraphs.asGraph(net);
        ReceptiveField a = ReceptiveField.of(net);
        ReceptiveField b = ReceptiveField.of(g);
        assertArrayEquals(a.inputShape(), b.inputShape());
        DeconvProjection pa = new DeconvProjection(net);
        DeconvProjection pb = new DeconvProjection(g);
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 4, 784).subi(0.3);
        List<INDArray> acts = net.feedForward(x, false);
        for (int l = 0; l < 5; l++) {
            assertArrayEquals(a.outputSize(l), b.outputSize(l));
            assertArrayEquals(a.fieldSize(l), b.fieldSize(l));
            assertEquals(a.seesWholeInput(l), b.seesWholeInput(l));
            int[] o = a.outputSize(l);
            for (int y = 0; y < o[0]; y++) {
                for (int xx = 0; xx < o[1]; xx++) {
                    assertEquals(a.window(l, y, xx), b.window(l, y, xx));
                }
            }
            INDArray al = acts.get(l + 1);
            int[] units = new int[4];
            int[] ys = new int[4];
            int[] xs = new int[4];
            for (int i = 0; i < 4; i++) {
                units[i] = (int) ((i * 3 + l) % al.size(1));
                ys[i] = al.rank() == 4 ? (int) ((i * 5) % al.size(2)) : 0;
                xs[i] = al.rank() == 4 ? (int) ((i * 7 + 1) % al.size(3)) : 0;
            }
            INDArray ma = pa.project(x, l, units, ys, xs);
            INDArray mb = pb.project(x, "L" + l, units, ys, xs);
            assertArrayEquals(ma.shape(), mb.shape());
            assertTrue(ma.norm2Number().doubleValue() > 0, "layer " + l + " projection is not zero");
            assertEquals(0.0, ma.sub(mb).amaxNumber().doubleValue(), 1e-9, "layer " + l);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> pb.project(x, "nope", new int[4], new int[4], new int[4]));
        assertTrue(e.getMessage().contains("L0") && e.getMessage().contains("L4"), e.getMessage());
    }

    /** #13's crop-based projection on a residual graph: a crop on a zero canvas == the whole input's, in the field. */
    @Test
    void cropProjectionEqualsWholeInputProjection_residualGraph() {
        for (boolean linear : new boolean[]{false, true}) {
            ComputationGraph g = residual(linear, 13);
            ReceptiveField rf = ReceptiveField.of(g);
            DeconvProjection d = new DeconvProjection(g);
            Nd4j.getRandom().setSeed(6);
            INDArray x = Nd4j.rand(DataType.DOUBLE, 2, SIDE * SIDE).subi(0.4);
            Map<String, INDArray> acts = g.feedForward(x, false);
            int nonZero = 0;
            int border = 0;
            int inner = 0;
            List<String> checked = List.of("stem", "stem-pool", "b1-conv2", "b1-relu", "cat-act", "b2-relu");
            for (String v : checked) {
                int layer = rf.layerIndex(v);
                INDArray a = acts.get(v);
                int h = (int) a.size(2);
                int w = (int) a.size(3);
                int[] py = {0, 1, h / 2, h - 2, h - 1}; // both borders, next to them and the middle
                int[] px = {0, 1, w / 2, w - 2, w - 1};
                for (int unit : new int[]{checked.indexOf(v) % 2 == 0 ? 0 : (int) a.size(1) - 1}) {
                    int m = 2 * py.length * px.length;
                    int[] u = new int[m];
                    int[] ys = new int[m];
                    int[] xs = new int[m];
                    List<ReceptiveField.Crop> crops = new ArrayList<>();
                    INDArray rows = Nd4j.create(DataType.DOUBLE, m, SIDE * SIDE);
                    for (int j = 0; j < m; j++) {
                        int pos = j / 2;
                        u[j] = unit;
                        ys[j] = py[pos / px.length];
                        xs[j] = px[pos % px.length];
                        rows.getRow(j).assign(x.getRow(j % 2));
                        crops.add(rf.crop(x.getRow(j % 2), layer, ys[j], xs[j]));
                    }
                    INDArray whole = d.project(rows, layer, u, ys, xs);
                    assertArrayEquals(new long[]{m, 1, SIDE, SIDE}, whole.shape());
                    List<INDArray> fromCrops = d.projectCrops(rf, new long[]{SIDE * SIDE}, layer, unit, crops, ys, xs);
                    for (int j = 0; j < m; j++) {
                        ReceptiveField.Window win = crops.get(j).clipped();
                        INDArray wj = whole.get(NDArrayIndex.point(j));
                        INDArray cut = wj.get(NDArrayIndex.all(), NDArrayIndex.interval(win.y0(), win.y1() + 1),
                                NDArrayIndex.interval(win.x0(), win.x1() + 1));
                        assertEquals(0.0, fromCrops.get(j).sub(cut).amaxNumber().doubleValue(), 1e-9,
                                v + " unit " + unit + " at (" + ys[j] + ", " + xs[j] + ")");
                        double all = wj.norm2Number().doubleValue();
                        assertEquals(all, cut.norm2Number().doubleValue(), 1e-9 * (1 + all), "nothing outside the field");
                        if (all > 0) {
                            nonZero++;
                        }
                        if (win.equals(crops.get(j).field())) {
                            inner++;
                        } else {
                            border++;
                        }
                    }
                }
            }
            assertTrue(nonZero > 100, "non-zero projections: " + nonZero);
            assertTrue(inner > 20 && border > 20, "inner " + inner + ", border " + border);
        }
    }
}
