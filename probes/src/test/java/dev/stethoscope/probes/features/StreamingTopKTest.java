package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StreamingTopKTest {

    /** Brute force: per unit and example the best (value desc, first row-major position), then sort and cut. */
    private static TopKSnapshot bruteForce(List<double[][][][]> batches, List<long[]> indices, int[] units, int k) {
        int nu = units.length;
        double[][] v = new double[nu][];
        long[][] e = new long[nu][];
        int[][] ys = new int[nu][];
        int[][] xs = new int[nu][];
        for (int ui = 0; ui < nu; ui++) {
            int u = units[ui];
            Map<Long, double[]> best = new HashMap<>(); // example -> {value, y, x}
            for (int b = 0; b < batches.size(); b++) {
                double[][][][] a = batches.get(b);
                for (int i = 0; i < a.length; i++) {
                    double[][] m = a[i][u];
                    for (int y = 0; y < m.length; y++) {
                        for (int x = 0; x < m[0].length; x++) {
                            long ex = indices.get(b)[i];
                            double[] cur = best.get(ex);
                            // the larger value; on equal values the earlier row-major position (whatever the pass)
                            if (cur == null || m[y][x] > cur[0]
                                    || (m[y][x] == cur[0] && y * m[0].length + x < cur[1] * m[0].length + cur[2])) {
                                best.put(ex, new double[]{m[y][x], y, x});
                            }
                        }
                    }
                }
            }
            List<Map.Entry<Long, double[]>> all = new ArrayList<>(best.entrySet());
            all.sort(Comparator.<Map.Entry<Long, double[]>>comparingDouble(en -> -en.getValue()[0])
                    .thenComparingLong(Map.Entry::getKey));
            int s = Math.min(k, all.size());
            v[ui] = new double[s];
            e[ui] = new long[s];
            ys[ui] = new int[s];
            xs[ui] = new int[s];
            for (int j = 0; j < s; j++) {
                v[ui][j] = all.get(j).getValue()[0];
                e[ui][j] = all.get(j).getKey();
                ys[ui][j] = (int) all.get(j).getValue()[1];
                xs[ui][j] = (int) all.get(j).getValue()[2];
            }
        }
        return new TopKSnapshot(units, k, v, e, ys, xs);
    }

    private static void assertSame(TopKSnapshot want, TopKSnapshot got) {
        assertArrayEquals(want.units(), got.units());
        for (int i = 0; i < want.numUnits(); i++) {
            assertArrayEquals(want.examples()[i], got.examples()[i], "examples of unit " + want.units()[i] + "\nwant " + want + "\ngot " + got);
            assertArrayEquals(want.values()[i], got.values()[i], 0.0, "values of unit " + want.units()[i]);
            assertArrayEquals(want.ys()[i], got.ys()[i], "rows of unit " + want.units()[i]);
            assertArrayEquals(want.xs()[i], got.xs()[i], "columns of unit " + want.units()[i]);
        }
    }

    /** Conv activations with many ties (values from {0..4}), batches of 7 over 40 examples (last batch 5), shuffled indices. */
    @Test
    void convEqualsBruteForceWithTiesAndPartialLastBatch() {
        Random r = new Random(3);
        int n = 40, c = 5, h = 3, w = 4, batch = 7, k = 9;
        List<Long> perm = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            perm.add(i * 3 + 11);
        }
        java.util.Collections.shuffle(perm, r);
        List<double[][][][]> batches = new ArrayList<>();
        List<long[]> idx = new ArrayList<>();
        int[] units = {0, 2, 3, 4};
        StreamingTopK topK = new StreamingTopK(units, k);
        // two passes over the same examples (a second epoch without reset): each example must appear once
        for (int pass = 0; pass < 2; pass++) {
            for (int s = 0; s < n; s += batch) {
                int m = Math.min(batch, n - s);
                double[][][][] a = new double[m][c][h][w];
                long[] ex = new long[m];
                for (int i = 0; i < m; i++) {
                    ex[i] = perm.get(s + i);
                    for (int ch = 0; ch < c; ch++) {
                        for (int y = 0; y < h; y++) {
                            for (int x = 0; x < w; x++) {
                                a[i][ch][y][x] = r.nextInt(5);
                            }
                        }
                    }
                }
                batches.add(a);
                idx.add(ex);
                topK.offer(Nd4j.createFromArray(a).castTo(DataType.FLOAT), ex);
            }
        }
        assertEquals(5, batches.get(5).length, "the last batch is partial");
        TopKSnapshot got = topK.snapshot();
        assertSame(bruteForce(batches, idx, units, k), got);
        for (int i = 0; i < got.numUnits(); i++) {
            assertEquals(k, new HashSet<>(Arrays.stream(got.examples()[i]).boxed().toList()).size(), "distinct examples");
        }
    }

    /** Dense activations: one unit per column, k larger than a batch, ties among negative values. */
    @Test
    void denseEqualsBruteForce() {
        Random r = new Random(5);
        int units = 6, k = 4;
        StreamingTopK topK = new StreamingTopK(StreamingTopK.range(units), k);
        List<double[][][][]> batches = new ArrayList<>();
        List<long[]> idx = new ArrayList<>();
        long next = 0;
        for (int b = 0; b < 5; b++) {
            int m = b == 4 ? 1 : 3;
            double[][] a = new double[m][units];
            double[][][][] as4 = new double[m][units][1][1];
            long[] ex = new long[m];
            for (int i = 0; i < m; i++) {
                ex[i] = next++;
                for (int u = 0; u < units; u++) {
                    a[i][u] = r.nextInt(3) - 2.0;
                    as4[i][u][0][0] = a[i][u];
                }
            }
            batches.add(as4);
            idx.add(ex);
            topK.offer(Nd4j.createFromArray(a), ex);
        }
        assertSame(bruteForce(batches, idx, StreamingTopK.range(units), k), topK.snapshot());
    }

    @Test
    void batchOrderDoesNotMatter() {
        Random r = new Random(9);
        INDArray a = Nd4j.createFromArray(new double[20][3][2][2]);
        for (int i = 0; i < 20; i++) {
            for (int ch = 0; ch < 3; ch++) {
                a.get(NDArrayIndex.point(i), NDArrayIndex.point(ch)).assign(r.nextInt(4));
            }
        }
        long[] ex = new long[20];
        for (int i = 0; i < 20; i++) {
            ex[i] = i;
        }
        StreamingTopK one = new StreamingTopK(StreamingTopK.range(3), 5);
        one.offer(a, ex);
        StreamingTopK rev = new StreamingTopK(StreamingTopK.range(3), 5);
        for (int s = 16; s >= 0; s -= 4) {
            rev.offer(a.get(NDArrayIndex.interval(s, s + 4)), Arrays.copyOfRange(ex, s, s + 4));
        }
        assertSame(one.snapshot(), rev.snapshot());
    }

    /**
     * A real first-layer conv unit whose filter is a planted 3x3 pattern: the 9 examples carrying the pattern
     * (at known positions) are its top 9, at the planted positions.
     */
    @Test
    void plantedPatternExamplesAreTheTop9() {
        double[][] pattern = {{1, -1, 1}, {-1, 1, -1}, {1, -1, 1}};
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(1).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(10, 10, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray wt = net.getLayer(0).getParam("W");
        wt.get(NDArrayIndex.point(1)).assign(Nd4j.createFromArray(new double[][][]{pattern}));
        net.getLayer(0).getParam("b").assign(0);
        Random r = new Random(4);
        int n = 60;
        INDArray x = Nd4j.rand(DataType.DOUBLE, n, 1, 10, 10).subi(0.5).muli(0.3);
        Set<Long> planted = new HashSet<>();
        Map<Long, int[]> where = new HashMap<>();
        while (planted.size() < 9) {
            planted.add((long) r.nextInt(n));
        }
        for (long e : planted) {
            int y = r.nextInt(8), xx = r.nextInt(8);
            where.put(e, new int[]{y, xx});
            x.get(NDArrayIndex.point(e), NDArrayIndex.point(0), NDArrayIndex.interval(y, y + 3), NDArrayIndex.interval(xx, xx + 3))
                    .addi(Nd4j.createFromArray(pattern).muli(2));
        }
        StreamingTopK topK = new StreamingTopK(new int[]{1}, 9);
        for (int s = 0; s < n; s += 16) {
            int e = Math.min(n, s + 16);
            INDArray act = net.feedForward(x.get(NDArrayIndex.interval(s, e)), false).get(1);
            long[] ex = new long[e - s];
            for (int i = 0; i < ex.length; i++) {
                ex[i] = s + i;
            }
            topK.offer(act, ex);
        }
        TopKSnapshot snap = topK.snapshot();
        Set<Long> got = new HashSet<>();
        for (int j = 0; j < 9; j++) {
            long e = snap.examples()[0][j];
            got.add(e);
            if (where.containsKey(e)) {
                assertEquals(where.get(e)[0], snap.ys()[0][j], "row of example " + e);
                assertEquals(where.get(e)[1], snap.xs()[0][j], "column of example " + e);
            }
        }
        assertEquals(planted, got);
    }

    /**
     * Fed from DL4J's own onForwardPass during fit (activations in a workspace, read during the call): with a zero
     * learning rate (DL4J's NoOp updater would apply the raw gradient) and no dropout the training forward pass equals inference, so the streamed top-k of every layer must
     * equal the top-k of one inference pass over all examples.
     */
    @Test
    void fedFromOnForwardPassDuringFit() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(2)
                .updater(new org.nd4j.linalg.learning.config.Sgd(0.0)).list()
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(4).activation(Activation.RELU).build())
                .layer(new org.deeplearning4j.nn.conf.layers.SubsamplingLayer.Builder(
                        org.deeplearning4j.nn.conf.layers.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new org.deeplearning4j.nn.conf.layers.DenseLayer.Builder().nOut(7).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(12, 12, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        int n = 50;
        INDArray x = Nd4j.rand(DataType.DOUBLE, n, 144).subi(0.5);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, n, 3);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, i % 3, 1.0);
        }
        int[] sizes = {4, 4, 7};
        List<StreamingTopK> streamed = new ArrayList<>();
        for (int c : sizes) {
            streamed.add(new StreamingTopK(StreamingTopK.range(c), 5));
        }
        long[][] current = {null};
        INDArray pInit = net.params().dup();
        net.setListeners(new org.deeplearning4j.optimize.api.BaseTrainingListener() {
            @Override
            public void onForwardPass(org.deeplearning4j.nn.api.Model model, List<INDArray> activations) {
                for (int l = 0; l < sizes.length; l++) {
                    streamed.get(l).offer(activations.get(l + 1), current[0]);
                }
            }
        });
        for (int s = 0; s < n; s += 16) {
            int e = Math.min(n, s + 16);
            long[] ex = new long[e - s];
            for (int i = 0; i < ex.length; i++) {
                ex[i] = s + i;
            }
            current[0] = ex;
            net.fit(new org.nd4j.linalg.dataset.DataSet(x.get(NDArrayIndex.interval(s, e)), y.get(NDArrayIndex.interval(s, e))));
        }
        assertEquals(0.0, net.params().sub(pInit).amaxNumber().doubleValue(), "fit did not move the parameters");
        List<INDArray> acts = net.feedForward(x, false);
        long[] all = new long[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        for (int l = 0; l < sizes.length; l++) {
            StreamingTopK once = new StreamingTopK(StreamingTopK.range(sizes[l]), 5);
            once.offer(acts.get(l + 1), all);
            TopKSnapshot want = once.snapshot();
            TopKSnapshot got = streamed.get(l).snapshot();
            for (int u = 0; u < sizes[l]; u++) {
                assertArrayEquals(want.examples()[u], got.examples()[u], "layer " + l + " unit " + u);
                assertArrayEquals(want.values()[u], got.values()[u], 1e-12, "layer " + l + " unit " + u);
                assertArrayEquals(want.ys()[u], got.ys()[u]);
                assertArrayEquals(want.xs()[u], got.xs()[u]);
            }
        }
    }

    @Test
    void clearErrors() {
        StreamingTopK t = new StreamingTopK(new int[]{4}, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.offer(Nd4j.zeros(2, 3), new long[]{0, 1}));
        assertEquals(true, e.getMessage().contains("unit 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.offer(Nd4j.zeros(2, 5), new long[]{0}));
        assertThrows(IllegalArgumentException.class, () -> new StreamingTopK(new int[]{1, 1}, 3));
        assertThrows(IllegalArgumentException.class, () -> new StreamingTopK(new int[]{1}, 0));
    }
}
