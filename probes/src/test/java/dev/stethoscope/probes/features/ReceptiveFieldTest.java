package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReceptiveFieldTest {

    @Test
    void lenetClosedForm() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        ReceptiveField rf = ReceptiveField.of(net);
        assertArrayEquals(new int[]{1, 28, 28}, rf.inputShape());
        assertArrayEquals(new int[]{24, 24}, rf.outputSize(0));
        assertArrayEquals(new int[]{12, 12}, rf.outputSize(1));
        assertArrayEquals(new int[]{8, 8}, rf.outputSize(2));
        assertArrayEquals(new int[]{4, 4}, rf.outputSize(3));
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                // conv1: [y, y+4]; pool1: [2y, 2y+5]; conv2: [2y, 2y+13]; pool2: [4y, 4y+15]
                assertEquals(new ReceptiveField.Window(y, y + 4, x, x + 4), rf.window(0, y, x));
                assertEquals(new ReceptiveField.Window(2 * y, 2 * y + 5, 2 * x, 2 * x + 5), rf.window(1, y, x));
                assertEquals(new ReceptiveField.Window(2 * y, 2 * y + 13, 2 * x, 2 * x + 13), rf.window(2, y, x));
                assertEquals(new ReceptiveField.Window(4 * y, 4 * y + 15, 4 * x, 4 * x + 15), rf.window(3, y, x));
            }
        }
        assertTrue(rf.seesWholeInput(4));
        assertEquals(new ReceptiveField.Window(0, 27, 0, 27), rf.window(4, 0, 0));
    }

    @Test
    void strideDilationPaddingAndSameModeClosedForm() {
        MultiLayerNetwork net = FeatureNets.oddStack();
        ReceptiveField rf = ReceptiveField.of(net, 2, 13, 11);
        // layer 0 (k3 s2 p1 d2): o -> [2o-1, 2o+3]; layer 1 (Same, k4 s1: total pad 3, top floor(3/2) = 1): o -> [o-1, o+2]
        for (int y = 0; y < rf.outputSize(1)[0]; y++) {
            for (int x = 0; x < rf.outputSize(1)[1]; x++) {
                assertEquals(new ReceptiveField.Window(2 * y - 1, 2 * y + 3, 2 * x - 1, 2 * x + 3), rf.window(0, y, x));
                assertEquals(new ReceptiveField.Window(2 * y - 3, 2 * y + 7, 2 * x - 3, 2 * x + 7), rf.window(1, y, x));
            }
        }
    }

    /** The shapes agree with DL4J's own forward pass, and the window is exactly what the unit depends on. */
    @Test
    void windowIsWhatTheUnitDependsOn() {
        MultiLayerNetwork net = FeatureNets.oddStack();
        ReceptiveField rf = ReceptiveField.of(net, 2, 13, 11);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, 2, 13, 11);
        List<INDArray> acts = net.feedForward(x, false);
        for (int l = 0; l < 2; l++) {
            assertEquals(rf.outputSize(l)[0], acts.get(l + 1).size(2));
            assertEquals(rf.outputSize(l)[1], acts.get(l + 1).size(3));
        }
        int layer = 1;
        for (int[] yx : new int[][]{{0, 0}, {2, 3}, {rf.outputSize(1)[0] - 1, rf.outputSize(1)[1] - 1}}) {
            int y = yx[0], xx = yx[1];
            ReceptiveField.Window w = rf.window(layer, y, xx);
            double base = acts.get(layer + 1).getDouble(0, 1, y, xx);
            // outside the window: no effect
            INDArray outside = Nd4j.rand(DataType.DOUBLE, 1, 2, 13, 11).muli(5);
            INDArray inside = x.get(NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.interval(Math.max(0, w.y0()), Math.min(12, w.y1()) + 1),
                    NDArrayIndex.interval(Math.max(0, w.x0()), Math.min(10, w.x1()) + 1));
            outside.get(NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.interval(Math.max(0, w.y0()), Math.min(12, w.y1()) + 1),
                    NDArrayIndex.interval(Math.max(0, w.x0()), Math.min(10, w.x1()) + 1)).assign(inside);
            assertEquals(base, net.feedForward(outside, false).get(layer + 1).getDouble(0, 1, y, xx), 1e-9);
            // the window's edge rows and columns inside the image do matter
            for (int[] px : new int[][]{{w.y0(), w.x0() + 2}, {w.y1(), w.x0() + 2}, {w.y0() + 2, w.x0()}, {w.y0() + 2, w.x1()}}) {
                if (px[0] < 0 || px[0] > 12 || px[1] < 0 || px[1] > 10) {
                    continue;
                }
                INDArray p = x.dup();
                p.putScalar(new long[]{0, 0, px[0], px[1]}, p.getDouble(0, 0, px[0], px[1]) + 3);
                p.putScalar(new long[]{0, 1, px[0], px[1]}, p.getDouble(0, 1, px[0], px[1]) + 3);
                assertNotEquals(base, net.feedForward(p, false).get(layer + 1).getDouble(0, 1, y, xx), 1e-9,
                        "pixel " + px[0] + "," + px[1] + " at the edge of " + w);
            }
        }
    }

    @Test
    void cropIsClippedAtTheBorder() {
        MultiLayerNetwork net = FeatureNets.oddStack();
        ReceptiveField rf = ReceptiveField.of(net, 2, 13, 11);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, 2, 13, 11);
        ReceptiveField.Crop c = rf.crop(x, 1, 0, 0);
        assertEquals(new ReceptiveField.Window(-3, 7, -3, 7), c.field());
        assertEquals(new ReceptiveField.Window(0, 7, 0, 7), c.clipped());
        assertArrayEquals(new long[]{2, 8, 8}, c.pixels().shape());
        assertEquals(x.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.interval(0, 8), NDArrayIndex.interval(0, 8)),
                c.pixels());
        ReceptiveField.Crop mid = rf.crop(x.reshape(2 * 13 * 11), 1, 2, 2);
        assertEquals(new ReceptiveField.Window(1, 11, 1, 11), mid.field());
        assertEquals(new ReceptiveField.Window(1, 11, 1, 10), mid.clipped(), "clipped at the right border");
        assertEquals(x.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.interval(1, 12), NDArrayIndex.interval(1, 11)),
                mid.pixels());
        assertThrows(IllegalArgumentException.class, () -> ReceptiveField.of(net));
        assertThrows(IllegalArgumentException.class, () -> rf.window(1, 99, 0));
    }
}
