package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
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
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Receptive fields and deconvnet projections on a ComputationGraph with two image inputs ("top" and "bottom", 1x6x8
 * each, flat): one convolution-pooling branch per input, a merge, a convolution after the merge, a dense layer. The
 * computed field of every unit in each input equals the pixels of that input the unit's activation depends on
 * (perturbation), a unit after the merge sees a window of both inputs, the dense layer both inputs whole; the
 * projections equal those of the one-input block-form equivalent (both halves as two channels of one input, the
 * branches' convolutions as one convolution with block-diagonal filters, same weights), split by channel; the
 * projections made from kept crops equal the whole inputs' projections in the crops' windows.
 */
class MultiInputFeaturesTest {
    static final int H = 6;
    static final int W = 8;
    static final List<String> INPUTS = List.of("top", "bottom");

    /** {@code linear}: identity activations and average pooling (every pixel in a field changes the unit). */
    static ComputationGraph twoInput(boolean linear, long seed) {
        Activation act = linear ? Activation.IDENTITY : Activation.RELU;
        PoolingType pool = linear ? PoolingType.AVG : PoolingType.MAX;
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.DOUBLE)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Truncate).graphBuilder()
                .addInputs("top", "bottom")
                .setInputTypes(InputType.convolutionalFlat(H, W, 1), InputType.convolutionalFlat(H, W, 1))
                .addLayer("ct", new ConvolutionLayer.Builder(3, 3).nOut(2).activation(act).build(), "top")
                .addLayer("cb", new ConvolutionLayer.Builder(3, 3).nOut(2).activation(act).build(), "bottom")
                .addLayer("pt", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(1, 1).build(), "ct")
                .addLayer("pb", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(1, 1).build(), "cb")
                .addVertex("cat", new MergeVertex(), "pt", "pb")
                .addLayer("mix", new ConvolutionLayer.Builder(2, 2).nOut(3).activation(act).build(), "cat")
                .addLayer("dense", new DenseLayer.Builder().nOut(5).activation(act).build(), "mix")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * The one-input block form of {@link #twoInput}: input [n, 2, 6, 8] (channel 0 the top input, 1 the bottom one);
     * one convolution of 4 filters, filters 0-1 the top branch's on channel 0, 2-3 the bottom branch's on channel 1,
     * zeros across; one pooling (per channel); then the graph's own "mix", "dense" and "out" weights.
     */
    static MultiLayerNetwork blockForm(ComputationGraph g) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(0).dataType(DataType.DOUBLE)
                .convolutionMode(ConvolutionMode.Truncate).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(1, 1).build())
                .layer(new ConvolutionLayer.Builder(2, 2).nOut(3).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nOut(5).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(H, W, 2)).build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        INDArray w = Nd4j.zeros(DataType.DOUBLE, 4, 2, 3, 3);
        w.get(NDArrayIndex.interval(0, 2), NDArrayIndex.interval(0, 1)).assign(g.getParam("ct_W"));
        w.get(NDArrayIndex.interval(2, 4), NDArrayIndex.interval(1, 2)).assign(g.getParam("cb_W"));
        n.setParam("0_W", w);
        n.setParam("0_b", Nd4j.hstack(g.getParam("ct_b"), g.getParam("cb_b")));
        n.setParam("2_W", g.getParam("mix_W"));
        n.setParam("2_b", g.getParam("mix_b"));
        n.setParam("3_W", g.getParam("dense_W"));
        n.setParam("3_b", g.getParam("dense_b"));
        n.setParam("4_W", g.getParam("out_W"));
        n.setParam("4_b", g.getParam("out_b"));
        return n;
    }

    static ReceptiveField rf(ComputationGraph g) {
        return ReceptiveField.of(g, new int[][]{{1, H, W}, {1, H, W}});
    }

    /** Per vertex, the effect of raising each pixel of input {@code which} by one (row p: pixel p). */
    static Map<String, INDArray> effects(ComputationGraph g, INDArray[] x, int which) {
        int n = H * W;
        INDArray[] batch = new INDArray[2];
        for (int i = 0; i < 2; i++) {
            batch[i] = Nd4j.repeat(x[i], n).reshape(n, n).dup();
        }
        for (int p = 0; p < n; p++) {
            batch[which].putScalar(p, p, batch[which].getDouble(p, p) + 1.0);
        }
        Map<String, INDArray> base = g.feedForward(x, false);
        Map<String, INDArray> pert = g.feedForward(batch, false);
        Map<String, INDArray> out = new java.util.HashMap<>();
        for (String v : pert.keySet()) {
            INDArray b = base.get(v);
            long[] rep = b.shape().clone();
            rep[0] = n;
            out.put(v, pert.get(v).sub(b.broadcast(rep)));
        }
        return out;
    }

    static ReceptiveField.Window empirical(INDArray effect, int c, int y, int x) {
        int y0 = Integer.MAX_VALUE, y1 = -1, x0 = Integer.MAX_VALUE, x1 = -1;
        for (int p = 0; p < H * W; p++) {
            double d = effect.rank() == 4 ? effect.getDouble(p, c, y, x) : effect.getDouble(p, c);
            if (Math.abs(d) > 1e-12) {
                y0 = Math.min(y0, p / W);
                y1 = Math.max(y1, p / W);
                x0 = Math.min(x0, p % W);
                x1 = Math.max(x1, p % W);
            }
        }
        return y1 < 0 ? null : new ReceptiveField.Window(y0, y1, x0, x1);
    }

    static ReceptiveField.Window clip(ReceptiveField.Window w) {
        return w == null ? null : new ReceptiveField.Window(Math.max(0, w.y0()), Math.min(H - 1, w.y1()),
                Math.max(0, w.x0()), Math.min(W - 1, w.x1()));
    }

    @Test
    void fieldInEachInputEqualsThePixelsOfThatInputAUnitDependsOn() {
        ComputationGraph g = twoInput(true, 5);
        ReceptiveField rf = rf(g);
        assertThat(rf.numInputs()).isEqualTo(2);
        assertThat(rf.inputNames()).containsExactly("top", "bottom");
        Nd4j.getRandom().setSeed(3);
        INDArray[] x = {Nd4j.rand(DataType.DOUBLE, 1, H * W), Nd4j.rand(DataType.DOUBLE, 1, H * W)};
        int checked = 0;
        int both = 0;
        for (int which = 0; which < 2; which++) {
            Map<String, INDArray> eff = effects(g, x, which);
            for (String v : List.of("ct", "cb", "pt", "pb", "mix", "dense")) {
                int layer = rf.layerIndex(v);
                INDArray e = eff.get(v);
                int h = e.rank() == 4 ? (int) e.size(2) : 1;
                int w = e.rank() == 4 ? (int) e.size(3) : 1;
                for (int c = 0; c < e.size(1); c++) {
                    for (int y = 0; y < h; y++) {
                        for (int xx = 0; xx < w; xx++) {
                            ReceptiveField.Window[] all = rf.windows(layer, c, y, xx);
                            assertEquals(empirical(e, c, y, xx), clip(all[which]),
                                    v + " channel " + c + " at (" + y + ", " + xx + ") in input " + INPUTS.get(which));
                            checked++;
                            if (all[0] != null && all[1] != null) {
                                both++;
                            }
                        }
                    }
                }
            }
        }
        assertThat(checked).isGreaterThan(200);
        assertThat(both).isPositive(); // units after the merge see both inputs
        int mix = rf.layerIndex("mix");
        assertThat(rf.inputsOf(mix)).containsExactly(0, 1);
        assertThat(rf.inputsOf(rf.layerIndex("ct"))).containsExactly(0);
        assertThat(rf.inputsOf(rf.layerIndex("pb"))).containsExactly(1);
        // mix: 2x2 over a 2x2 stride-1 pool over a 3x3 conv: a 5x5 window in each input
        assertThat(rf.fieldSize(mix, 0)).containsExactly(5, 5);
        assertThat(rf.fieldSize(mix, 1)).containsExactly(5, 5);
        assertThat(rf.cropsSmallerThanInput(mix, 1)).isTrue();
        int dense = rf.layerIndex("dense");
        assertThat(rf.seesWholeInput(dense, 0)).isTrue();
        assertThat(rf.seesWholeInput(dense, 1)).isTrue();
        assertThat(rf.seesWholeInput(mix, 0)).isFalse();
        assertThatThrownBy(() -> rf.window(rf.layerIndex("ct"), 1, -1, 0, 0)).hasMessageContaining("'bottom' does not reach");
        assertThatThrownBy(() -> rf.window(mix, 0, 0)).hasMessageContaining("use the per-input form");
    }

    @Test
    void projectionsEqualThoseOfTheOneInputBlockFormSplitByInput() {
        ComputationGraph g = twoInput(false, 7);
        MultiLayerNetwork block = blockForm(g);
        Nd4j.getRandom().setSeed(11);
        int n = 6;
        INDArray top = Nd4j.rand(DataType.DOUBLE, n, H * W);
        INDArray bottom = Nd4j.rand(DataType.DOUBLE, n, H * W);
        INDArray joint = Nd4j.concat(1, top.reshape(n, 1, H, W), bottom.reshape(n, 1, H, W));
        // the same function
        assertThat(block.output(joint).sub(g.outputSingle(top, bottom)).amaxNumber().doubleValue()).isLessThan(1e-12);

        DeconvProjection gp = new DeconvProjection(g);
        DeconvProjection bp = new DeconvProjection(block);
        int[] ys = {0, 1, 0, 1, 0, 1};
        int[] xs = {0, 3, 2, 1, 3, 0};
        int[] units = {0, 1, 2, 0, 1, 2};
        // a unit after the merge: projects into both inputs
        INDArray[] two = gp.project(new INDArray[]{top, bottom}, rf(g).layerIndex("mix"), units, ys, xs);
        INDArray one = bp.project(joint, 2, units, ys, xs);
        assertThat(two[0].shape()).containsExactly(n, 1, H, W);
        assertClose(two[0], one.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 1)));
        assertClose(two[1], one.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 2)));
        assertThat(two[0].amaxNumber().doubleValue()).isPositive();
        assertThat(two[1].amaxNumber().doubleValue()).isPositive();
        // a dense unit after it
        int[] du = {0, 1, 2, 3, 4, 0};
        INDArray[] twoD = gp.project(new INDArray[]{top, bottom}, rf(g).layerIndex("dense"), du, new int[n], new int[n]);
        INDArray oneD = bp.project(joint, 3, du, new int[n], new int[n]);
        assertClose(twoD[0], oneD.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 1)));
        assertClose(twoD[1], oneD.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 2)));
        // a unit of the bottom branch (block filter 2 + its channel): nothing in the top input
        int[] bu = new int[n];
        java.util.Arrays.fill(bu, 1);
        int[] bys = {0, 1, 2, 3, 0, 1};
        INDArray[] twoB = gp.project(new INDArray[]{top, bottom}, rf(g).layerIndex("cb"), bu, bys, xs);
        int[] blockUnit = new int[n];
        java.util.Arrays.fill(blockUnit, 3);
        INDArray oneB = bp.project(joint, 0, blockUnit, bys, xs);
        assertThat(twoB[0].amaxNumber().doubleValue()).isZero();
        assertClose(twoB[1], oneB.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 2)));
        assertThat(oneB.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 1)).amaxNumber().doubleValue()).isZero();
    }

    @Test
    void projectionsFromKeptCropsEqualTheWholeInputsProjectionsInTheirWindows() {
        ComputationGraph g = twoInput(false, 9);
        ReceptiveField rf = rf(g);
        DeconvProjection dp = new DeconvProjection(g);
        Nd4j.getRandom().setSeed(13);
        int m = 4;
        INDArray top = Nd4j.rand(DataType.DOUBLE, m, H * W);
        INDArray bottom = Nd4j.rand(DataType.DOUBLE, m, H * W);
        for (String v : List.of("mix", "pt", "cb", "dense")) {
            int layer = rf.layerIndex(v);
            int[] ys = v.equals("dense") ? new int[m] : new int[]{0, 1, 1, 0};
            int[] xs = v.equals("dense") ? new int[m] : new int[]{0, 3, 1, 2};
            // the unit with the largest activation at these positions (a ReLU unit at zero projects nothing)
            INDArray act = g.feedForward(new INDArray[]{top, bottom}, false).get(v);
            int unit = 0;
            double best = -1;
            for (int c = 0; c < act.size(1); c++) {
                double sum = 0;
                for (int j = 0; j < m; j++) {
                    sum += act.rank() == 4 ? act.getDouble(j, c, ys[j], xs[j]) : act.getDouble(j, c);
                }
                if (sum > best) {
                    best = sum;
                    unit = c;
                }
            }
            List<DeconvProjection.Part[]> parts = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                DeconvProjection.Part[] p = new DeconvProjection.Part[2];
                INDArray[] rows = {top.getRow(j, true), bottom.getRow(j, true)};
                for (int i = 0; i < 2; i++) {
                    if (!rf.reaches(layer, i)) {
                        continue;
                    }
                    p[i] = rf.cropsSmallerThanInput(layer, i)
                            ? new DeconvProjection.Part(rf.crop(rows[i], layer, i, ys[j], xs[j]), null)
                            : new DeconvProjection.Part(null, rows[i]);
                }
                parts.add(p);
            }
            List<INDArray[]> got = dp.projectParts(rf, new long[][]{{H * W}, {H * W}}, layer, unit, parts, ys, xs);
            int[] u = {unit, unit, unit, unit};
            INDArray[] whole = dp.project(new INDArray[]{top, bottom}, layer, u, ys, xs);
            double mass = 0;
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < 2; i++) {
                    if (!rf.reaches(layer, i)) {
                        assertThat(got.get(j)[i]).as(v + " input " + i).isNull();
                        continue;
                    }
                    ReceptiveField.Window w = rf.cropsSmallerThanInput(layer, i) ? parts.get(j)[i].crop().clipped()
                            : new ReceptiveField.Window(0, H - 1, 0, W - 1);
                    INDArray want = whole[i].get(NDArrayIndex.point(j), NDArrayIndex.all(),
                            NDArrayIndex.interval(w.y0(), w.y1() + 1), NDArrayIndex.interval(w.x0(), w.x1() + 1));
                    assertClose(got.get(j)[i], want);
                    mass += want.sumNumber().doubleValue() == 0 ? 0 : abs(want).sumNumber().doubleValue();
                    // nothing of the whole input's projection lies outside the window
                    assertThat(Math.abs(whole[i].get(NDArrayIndex.point(j)).sumNumber().doubleValue()
                            - want.sumNumber().doubleValue())).as(v).isLessThan(1e-9);
                }
            }
            assertThat(mass).as(v).isPositive();
        }
    }

    private static void assertClose(INDArray a, INDArray b) {
        assertThat(a.shape()).containsExactly(b.shape());
        assertThat(a.sub(b).amaxNumber().doubleValue()).isLessThan(1e-10);
    }

    private static INDArray abs(INDArray a) {
        return org.nd4j.linalg.ops.transforms.Transforms.abs(a);
    }
}
