package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The crop-based deconvnet projection ({@link DeconvProjection#projectCrops}) equals the whole-input projection
 * restricted to the receptive field, at every position of the layer (borders included), with and without padding.
 */
class CropProjectionTest {

    /** conv3 (padding 1) - max2 (stride 2) - conv3 (padding 1) - max2 (stride 1), ReLU, on 2x11x12. */
    static MultiLayerNetwork padded() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(5)
                .weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(3).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Truncate).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Truncate).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(1, 1).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(11, 12, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * For every position of {@code layer} and each of a few units: the crop-based projection of each example equals
     * the whole-input projection cut to the crop's window, and the whole-input projection is zero outside it. All
     * positions of one unit go through one batched projection (the examples repeated once per position).
     * Returns {positions checked, of which at a border (field clipped), projections that are not all zero}.
     */
    static int[] check(MultiLayerNetwork net, ReceptiveField rf, INDArray x, long[] exampleShape, int layer, int[] units) {
        DeconvProjection d = new DeconvProjection(net);
        INDArray act = net.feedForward(x, false).get(layer + 1);
        int n = (int) x.size(0);
        int[] in = rf.inputShape();
        INDArray images = x.reshape('c', n, in[0], in[1], in[2]);
        int h = (int) act.size(2);
        int w = (int) act.size(3);
        int m = n * h * w;
        INDArray[] rep = new INDArray[h * w];
        java.util.Arrays.fill(rep, x);
        INDArray xr = Nd4j.concat(0, rep); // row j = example j % n
        int positions = 0;
        int border = 0;
        int nonZero = 0;
        for (int unit : units) {
            int[] u = new int[m];
            int[] ys = new int[m];
            int[] xs = new int[m];
            List<ReceptiveField.Crop> crops = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                int pos = j / n;
                u[j] = unit;
                ys[j] = pos / w;
                xs[j] = pos % w;
                crops.add(rf.crop(images.get(NDArrayIndex.point(j % n)), layer, ys[j], xs[j]));
            }
            INDArray whole = d.project(xr, layer, u, ys, xs).reshape('c', m, in[0], in[1], in[2]);
            List<INDArray> fromCrops = d.projectCrops(rf, exampleShape, layer, unit, crops, ys, xs);
            for (int j = 0; j < m; j++) {
                ReceptiveField.Window win = crops.get(j).clipped();
                if (j % n == 0) {
                    positions++;
                    if (!win.equals(crops.get(j).field())) {
                        border++;
                    }
                }
                INDArray wj = whole.get(NDArrayIndex.point(j));
                INDArray cut = wj.get(NDArrayIndex.all(), NDArrayIndex.interval(win.y0(), win.y1() + 1),
                        NDArrayIndex.interval(win.x0(), win.x1() + 1));
                INDArray got = fromCrops.get(j);
                assertArrayEquals(cut.shape(), got.shape());
                double diff = got.sub(cut).amaxNumber().doubleValue();
                assertEquals(0.0, diff, 1e-5, "layer " + layer + " unit " + unit + " at (" + ys[j] + ", " + xs[j]
                        + ") example " + (j % n));
                double inside = cut.norm2Number().doubleValue();
                double all = wj.norm2Number().doubleValue();
                assertEquals(all, inside, 1e-9 * (1 + all), "nothing outside the receptive field");
                if (inside > 0) {
                    nonZero++;
                }
            }
        }
        return new int[]{positions, border, nonZero};
    }

    @Test
    void conv_pool_conv_withoutPadding_everyPosition() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        Nd4j.getRandom().setSeed(21);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 28 * 28).subi(0.5);
        ReceptiveField rf = ReceptiveField.of(net);
        assertTrue(rf.cropsSmallerThanInput(2));
        assertArrayEquals(new int[]{1, 14, 14}, rf.maxCropShape(2));
        int[] r = check(net, rf, x, new long[]{784}, 2, new int[]{0, 5}); // conv2: 8x8 positions
        assertEquals(2 * 64, r[0]);
        assertTrue(r[2] > 2 * 64 * 2 / 5, "many projections are not zero: " + r[2]);
        int[] p = check(net, rf, x, new long[]{784}, 1, new int[]{1}); // pool1: 12x12 positions
        assertEquals(144, p[0]);
        assertTrue(p[2] > 144 * 2 / 5, "many projections are not zero: " + p[2]);
    }

    @Test
    void paddedStack_borderPositionsIncluded() {
        MultiLayerNetwork net = padded();
        Nd4j.getRandom().setSeed(22);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, 2, 11, 12).subi(0.3);
        ReceptiveField rf = ReceptiveField.of(net, 2, 11, 12);
        // conv2: field 3 + 1 + 2*2 = 8 rows wide; positions at the borders see padding
        assertArrayEquals(new int[]{8, 8}, rf.fieldSize(2));
        int[] r = check(net, rf, x, new long[]{2, 11, 12}, 2, new int[]{0, 3});
        assertEquals(2 * 5 * 6, r[0]);
        assertEquals(2 * (5 * 6 - 2 * 2), r[1], "all but the 2x2 inner positions of conv2 see padding");
        assertTrue(r[2] > 2 * 30 * 3 / 5, "many projections are not zero: " + r[2]);
        // the max-pooling on top (2x2, stride 1): field 8 + 2 = 10 rows, 10 columns
        int[] p = check(net, rf, x, new long[]{2, 11, 12}, 3, new int[]{1, 3});
        assertEquals(2 * 4 * 5, p[0]);
        assertTrue(p[2] > 2 * 20 * 3 / 5, "many projections are not zero: " + p[2]);
    }

    /** Same mode, strided (DL4J pads top/left by floor(total/2), the rest bottom/right), on 2x13x11. */
    @Test
    void sameModeStrided_everyPosition() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(6)
                .weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).stride(2, 2).nOut(3).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Same).build())
                .layer(new ConvolutionLayer.Builder(4, 4).stride(1, 1).nOut(2).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Same).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(13, 11, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(23);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 2, 13, 11).subi(0.3);
        ReceptiveField rf = ReceptiveField.of(net, 2, 13, 11);
        int[] r = check(net, rf, x, new long[]{2, 13, 11}, 1, new int[]{0, 1});
        assertEquals(2 * 7 * 6, r[0]);
        assertTrue(r[1] > 0, "border positions included");
        assertTrue(r[2] > 2 * 42 * 2 / 5, "many projections are not zero: " + r[2]);
    }

    @Test
    void refusesACropOfAnotherPosition() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        ReceptiveField rf = ReceptiveField.of(net);
        INDArray img = Nd4j.rand(DataType.DOUBLE, 1, 28, 28);
        ReceptiveField.Crop c = rf.crop(img, 2, 3, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DeconvProjection(net)
                .projectCrops(rf, new long[]{784}, 2, 0, List.of(c), new int[]{3}, new int[]{4}));
        assertTrue(e.getMessage().contains("was cut for field"), e.getMessage());
    }
}
