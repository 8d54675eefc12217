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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeconvProjectionTest {

    private static int[] argmax2d(INDArray m) {
        int by = 0, bx = 0;
        for (int y = 0; y < m.size(0); y++) {
            for (int x = 0; x < m.size(1); x++) {
                if (m.getDouble(y, x) > m.getDouble(by, bx)) {
                    by = y;
                    bx = x;
                }
            }
        }
        return new int[]{by, bx};
    }

    /** First conv layer: the projection is the unit's filter times its rectified activation, at its receptive field. */
    @Test
    void firstLayerUnitIsTheWeightedFilterAtItsField() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        int n = 6;
        INDArray x = Nd4j.rand(DataType.DOUBLE, n, 28 * 28).subi(0.5);
        INDArray conv1 = net.feedForward(x, false).get(1);
        int[] units = new int[n], ys = new int[n], xs = new int[n];
        for (int i = 0; i < n; i++) {
            units[i] = i % 4;
            int[] p = argmax2d(conv1.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i])));
            ys[i] = p[0];
            xs[i] = p[1];
        }
        INDArray got = new DeconvProjection(net).project(x, 0, units, ys, xs);
        assertArrayEquals(new long[]{n, 1, 28, 28}, got.shape());
        INDArray w = net.getLayer(0).getParam("W");
        ReceptiveField rf = ReceptiveField.of(net);
        for (int i = 0; i < n; i++) {
            double a = conv1.getDouble(i, units[i], ys[i], xs[i]);
            assertTrue(a > 0, "the top position of a ReLU unit is positive");
            INDArray want = Nd4j.zeros(DataType.DOUBLE, 1, 28, 28);
            ReceptiveField.Window f = rf.window(0, ys[i], xs[i]);
            want.get(NDArrayIndex.all(), NDArrayIndex.interval(f.y0(), f.y1() + 1), NDArrayIndex.interval(f.x0(), f.x1() + 1))
                    .assign(w.get(NDArrayIndex.point(units[i])).mul(a));
            INDArray g = got.get(NDArrayIndex.point(i));
            assertEquals(0.0, g.sub(want).norm2Number().doubleValue(), 1e-10 * (1 + want.norm2Number().doubleValue()),
                    "example " + i);
        }
    }

    /**
     * A unit of the first max-pooling layer: the projection goes through the pooling switch, so it is the filter
     * times the pooled value at the receptive field of the winning conv position (first winner in row-major order).
     */
    @Test
    void poolingUnitGoesThroughTheSwitch() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, 28 * 28).subi(0.5);
        List<INDArray> acts = net.feedForward(x, false);
        INDArray conv1 = acts.get(1);
        INDArray pool1 = acts.get(2);
        int[] units = {1, 3, 0}, ys = new int[3], xs = new int[3];
        for (int i = 0; i < 3; i++) {
            int[] p = argmax2d(pool1.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i])));
            ys[i] = p[0];
            xs[i] = p[1];
        }
        INDArray got = new DeconvProjection(net).project(x, 1, units, ys, xs);
        INDArray w = net.getLayer(0).getParam("W");
        for (int i = 0; i < 3; i++) {
            INDArray win = conv1.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i]),
                    NDArrayIndex.interval(2 * ys[i], 2 * ys[i] + 2), NDArrayIndex.interval(2 * xs[i], 2 * xs[i] + 2));
            int[] s = argmax2d(win);
            int cy = 2 * ys[i] + s[0], cx = 2 * xs[i] + s[1];
            double a = pool1.getDouble(i, units[i], ys[i], xs[i]);
            assertEquals(conv1.getDouble(i, units[i], cy, cx), a, 0.0);
            INDArray want = Nd4j.zeros(DataType.DOUBLE, 1, 28, 28);
            want.get(NDArrayIndex.all(), NDArrayIndex.interval(cy, cy + 5), NDArrayIndex.interval(cx, cx + 5))
                    .assign(w.get(NDArrayIndex.point(units[i])).mul(a));
            assertEquals(0.0, got.get(NDArrayIndex.point(i)).sub(want).norm2Number().doubleValue(), 1e-10, "example " + i);
        }
    }

    /**
     * A second-layer conv unit against a loop-by-loop reference of the paper's recipe: transposed conv2 filter,
     * unpool to the switches, rectify (whatever the forward activation: deconvnet, not the gradient), transposed
     * conv1 filters.
     */
    @Test
    void secondConvLayerFollowsThePapersRecipe() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, 28 * 28).subi(0.5);
        List<INDArray> acts = net.feedForward(x, false);
        INDArray conv1 = acts.get(1).get(NDArrayIndex.point(0));
        INDArray conv2 = acts.get(3).get(NDArrayIndex.point(0));
        INDArray w1 = net.getLayer(0).getParam("W");
        INDArray w2 = net.getLayer(2).getParam("W");
        DeconvProjection d = new DeconvProjection(net);
        int checked = 0;
        for (int c = 0; c < 6; c++) {
            int[] p = argmax2d(conv2.get(NDArrayIndex.point(c)));
            double a = conv2.getDouble(c, p[0], p[1]);
            if (a <= 0) {
                continue;
            }
            // 1. transposed conv2: signal on pool1 [4, 12, 12]
            double[][][] s2 = new double[4][12][12];
            for (int ic = 0; ic < 4; ic++) {
                for (int i = 0; i < 5; i++) {
                    for (int j = 0; j < 5; j++) {
                        s2[ic][p[0] + i][p[1] + j] += a * w2.getDouble(c, ic, i, j);
                    }
                }
            }
            // 2. unpool to the first winner of each 2x2 window; 3. rectify
            double[][][] s1 = new double[4][24][24];
            for (int ic = 0; ic < 4; ic++) {
                for (int py = 0; py < 12; py++) {
                    for (int px = 0; px < 12; px++) {
                        int[] win = argmax2d(conv1.get(NDArrayIndex.point(ic), NDArrayIndex.interval(2 * py, 2 * py + 2),
                                NDArrayIndex.interval(2 * px, 2 * px + 2)));
                        s1[ic][2 * py + win[0]][2 * px + win[1]] = Math.max(0, s2[ic][py][px]);
                    }
                }
            }
            // 4. transposed conv1
            double[][] want = new double[28][28];
            for (int oc = 0; oc < 4; oc++) {
                for (int y = 0; y < 24; y++) {
                    for (int xx = 0; xx < 24; xx++) {
                        if (s1[oc][y][xx] != 0) {
                            for (int i = 0; i < 5; i++) {
                                for (int j = 0; j < 5; j++) {
                                    want[y + i][xx + j] += s1[oc][y][xx] * w1.getDouble(oc, 0, i, j);
                                }
                            }
                        }
                    }
                }
            }
            INDArray got = d.project(x, 2, new int[]{c}, new int[]{p[0]}, new int[]{p[1]});
            INDArray wantArr = Nd4j.createFromArray(want).reshape(1, 1, 28, 28);
            assertEquals(0.0, got.sub(wantArr).amaxNumber().doubleValue(), 1e-10 * (1 + wantArr.amaxNumber().doubleValue()),
                    "unit " + c);
            checked++;
        }
        assertTrue(checked >= 2, "at least two active units checked");
    }

    /** A deeper unit's projection lies inside its receptive field (zero elsewhere) and is not all zero. */
    @Test
    void deeperProjectionStaysInsideTheReceptiveField() {
        MultiLayerNetwork net = FeatureNets.lenet(Activation.RELU);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, 28 * 28).subi(0.5);
        INDArray pool2 = net.feedForward(x, false).get(4);
        int unit = 0;
        int best = 0;
        for (int c = 0; c < pool2.size(1); c++) {
            if (pool2.get(NDArrayIndex.point(0), NDArrayIndex.point(c)).maxNumber().doubleValue()
                    > pool2.get(NDArrayIndex.point(0), NDArrayIndex.point(unit)).maxNumber().doubleValue()) {
                unit = c;
            }
        }
        int[] p = argmax2d(pool2.get(NDArrayIndex.point(0), NDArrayIndex.point(unit)));
        INDArray got = new DeconvProjection(net).project(x, 3, new int[]{unit}, new int[]{p[0]}, new int[]{p[1]});
        ReceptiveField.Window f = ReceptiveField.of(net).window(3, p[0], p[1]);
        INDArray inside = got.get(NDArrayIndex.point(0), NDArrayIndex.point(0), NDArrayIndex.interval(f.y0(), f.y1() + 1),
                NDArrayIndex.interval(f.x0(), f.x1() + 1));
        double total = got.norm2Number().doubleValue();
        assertTrue(total > 0, "non-zero projection");
        assertEquals(total, inside.norm2Number().doubleValue(), 1e-12 * total, "all energy inside " + f);
    }

    @Test
    void refusesOtherActivationsAndBadUnits() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DeconvProjection(FeatureNets.lenet(Activation.TANH)));
        assertTrue(e.getMessage().contains("ReLU"), e.getMessage());
        DeconvProjection d = new DeconvProjection(FeatureNets.lenet(Activation.RELU));
        INDArray x = Nd4j.rand(DataType.DOUBLE, 1, 28 * 28).subi(0.5);
        assertThrows(IllegalArgumentException.class, () -> d.project(x, 0, new int[]{9}, new int[]{0}, new int[]{0}));
        assertThrows(IllegalArgumentException.class, () -> d.project(x, 0, new int[]{0}, new int[]{30}, new int[]{0}));
        assertThrows(IllegalArgumentException.class, () -> d.project(x, 5, new int[]{0}, new int[]{0}, new int[]{0}));
    }
}
