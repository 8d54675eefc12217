package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class PerturbationAndLayerMethodsTest {
    static final int H = 10;
    static final int W = 10;
    static final int R0 = 1;
    static final int C0 = 6;
    static MultiLayerNetwork cnn;
    static DataSet test;

    @BeforeAll
    static void trainPlanted() {
        cnn = Nets.cnn(H, W, 2, DataType.FLOAT, PoolingType.MAX);
        DataSet train = Nets.planted(80, H, W, R0, C0, 1);
        for (int i = 0; i < 25; i++) {
            cnn.fit(train);
        }
        test = Nets.planted(20, H, W, R0, C0, 2);
        int[] pred = Nets.predicted(cnn, test.getFeatures());
        int correct = 0;
        for (int i = 0; i < pred.length; i++) {
            correct += pred[i] == i % 2 ? 1 : 0;
        }
        assertThat(correct).as("planted-region CNN must learn the task").isGreaterThanOrEqualTo(19);
    }

    private static boolean inPatch(int idx, int margin) {
        int r = idx / W;
        int c = idx % W;
        return r >= R0 - margin && r < R0 + 3 + margin && c >= C0 - margin && c < C0 + 3 + margin;
    }

    private static INDArray positives() {
        INDArray x = test.getFeatures();
        int[] rows = {1, 3, 5, 7, 9};
        return x.getRows(rows);
    }

    @Test
    void occlusionFindsThePlantedRegion() {
        INDArray x = positives();
        int[] t = {1, 1, 1, 1, 1};
        Attribution a = new Occlusion(new LogitNetwork(NetworkCopy.of(cnn)), 64, 3, 3, 1, 1, 0.0, null).attribute(x, t);
        assertThat(a.maps().shape()).isEqualTo(x.shape());
        for (int i = 0; i < t.length; i++) {
            INDArray m = a.maps().getRow(i);
            int arg = m.argMax().getInt(0);
            assertThat(inPatch(arg, 0)).as("argmax %d of example %d", arg, i).isTrue();
            double in = 0;
            double out = 0;
            for (int j = 0; j < H * W; j++) {
                if (inPatch(j, 0)) {
                    in += m.getDouble(j) / 9;
                } else {
                    out += m.getDouble(j) / (H * W - 9);
                }
            }
            assertThat(in).isGreaterThan(3 * Math.abs(out));
        }
    }

    @Test
    void gradCamFindsThePlantedRegion() {
        // a network whose decisive region is planted in its weights: conv channel 0 fires only where a 3x3
        // window is mostly bright (the patch), channel 1 is dead; class 1's logit sums channel 0 after pooling
        MultiLayerNetwork det = Nets.brightPatchDetector(H, W);
        INDArray x = positives();
        int[] t = {1, 1, 1, 1, 1};
        assertThat(Nets.predicted(det, x)).containsOnly(1);
        Attribution a = new GradCam(NetworkCopy.of(det), "0").attribute(x, t);
        assertThat(a.maps().shape()).isEqualTo(x.shape());
        assertThat(a.extras().get("cam").shape()).isEqualTo(new long[]{5, 8, 8});
        for (int i = 0; i < t.length; i++) {
            INDArray m = a.maps().getRow(i);
            int arg = m.argMax().getInt(0);
            assertThat(inPatch(arg, 1)).as("argmax %d of example %d", arg, i).isTrue();
            assertThat(m.maxNumber().doubleValue()).isPositive();
        }
        // and occlusion agrees on this network
        Attribution o = new Occlusion(NetworkCopy.of(det)).attribute(x, t);
        for (int i = 0; i < t.length; i++) {
            assertThat(inPatch(o.maps().getRow(i).argMax().getInt(0), 1)).isTrue();
        }
    }

    @Test
    void representationErasureEqualsDirectRecomputation() {
        MultiLayerNetwork mlp = Nets.trainedMlp(6, 3, true, DataType.DOUBLE, 20);
        DataSet ds = Nets.blobs(9, 6, 3, 21);
        INDArray x = ds.getFeatures().castTo(DataType.DOUBLE);
        int[] labels = ds.getLabels().argMax(1).toIntVector();
        RepresentationErasure.Result r = new RepresentationErasure(NetworkCopy.of(mlp), "0",
                RepresentationErasure.Unit.DIMENSION).importance(x, labels);
        assertThat(r.importance()).hasSize(16);
        double[] s = score(mlp.output(x), labels);
        for (int d = 0; d < 16; d++) {
            // zeroing unit d of layer 0 = zeroing row d of layer 1's weights, computed by DL4J itself
            MultiLayerNetwork m = mlp.clone();
            m.getLayer(1).getParam("W").getRow(d).assign(0);
            double[] sd = score(m.output(x), labels);
            double expect = 0;
            for (int i = 0; i < labels.length; i++) {
                expect += (s[i] - sd[i]) / s[i] / labels.length;
            }
            assertThat(r.importance()[d]).as("unit %d", d).isCloseTo(expect, within(1e-9 + 1e-6 * Math.abs(expect)));
        }
    }

    @Test
    void channelErasureOnConvLayer() {
        MultiLayerNetwork net = Nets.cnn(H, W, 3, DataType.DOUBLE, PoolingType.MAX);
        INDArray x = test.getFeatures().castTo(DataType.DOUBLE);
        int[] labels = new int[(int) x.size(0)];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 3;
        }
        RepresentationErasure.Result r = new RepresentationErasure(NetworkCopy.of(net), "0",
                RepresentationErasure.Unit.CHANNEL).importance(x, labels);
        assertThat(r.importance()).hasSize(4);
        double[] s = score(net.output(x), labels);
        for (int c = 0; c < 4; c++) {
            // erasing channel c of layer 0 = zeroing that filter's weights and bias (ReLU(0) = 0), in DL4J itself
            MultiLayerNetwork m = net.clone();
            m.getLayer(0).getParam("W").get(org.nd4j.linalg.indexing.NDArrayIndex.point(c),
                    org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.all()).assign(0);
            m.getLayer(0).getParam("b").putScalar(0, c, 0);
            double[] sd = score(m.output(x), labels);
            double expect = 0;
            for (int i = 0; i < labels.length; i++) {
                expect += (s[i] - sd[i]) / s[i] / labels.length;
            }
            assertThat(r.importance()[c]).as("channel %d", c).isCloseTo(expect, within(1e-9 + 1e-6 * Math.abs(expect)));
        }
    }

    /**
     * A hand-set network whose target logit leads by 60 (and by 50 or 10 after erasing a unit): the
     * textbook S = m + log(sum exp) - z_c rounds to 0 there (the old code gave NaN / -infinity). Expected
     * values from the closed form S(L) = log1p(2 exp(-L)) for logits (L, 0, 0).
     */
    @Test
    void representationErasureIsFiniteAndExactForAConfidentExampleLeadingBy50() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(1).list()
                .layer(new DenseLayer.Builder().nIn(2).nOut(2).activation(Activation.IDENTITY).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(2).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.getLayer(0).setParam("W", Nd4j.createFromArray(new double[][]{{1, 0}, {0, 1}}));
        net.getLayer(0).setParam("b", Nd4j.createFromArray(new double[][]{{0, 0}}));
        // z = (50 h0 + 10 h1, 0, 0): with h = (1, 1) the lead is 60; erasing h0 leaves 10, erasing h1 leaves 50
        net.getLayer(1).setParam("W", Nd4j.createFromArray(new double[][]{{50, 0, 0}, {10, 0, 0}}));
        net.getLayer(1).setParam("b", Nd4j.createFromArray(new double[][]{{0, 0, 0}}));
        // a second example with moderate leads (6 -> 1 and 5), where the direct formula is finite
        INDArray x = Nd4j.createFromArray(new double[][]{{1, 1}, {0.1, 0.1}});
        RepresentationErasure.Result r = new RepresentationErasure(NetworkCopy.of(net), "0",
                RepresentationErasure.Unit.DIMENSION).importance(x, new int[]{0, 0});

        java.util.function.DoubleUnaryOperator s = lead -> Math.log1p(2 * Math.exp(-lead));
        double[] expect = {
                ((1 - s.applyAsDouble(10) / s.applyAsDouble(60)) + (1 - s.applyAsDouble(1) / s.applyAsDouble(6))) / 2,
                ((1 - s.applyAsDouble(50) / s.applyAsDouble(60)) + (1 - s.applyAsDouble(5) / s.applyAsDouble(6))) / 2};
        for (int d = 0; d < 2; d++) {
            assertThat(Double.isFinite(r.importance()[d])).as("unit %d finite", d).isTrue();
            assertThat(r.importance()[d]).as("unit %d", d).isCloseTo(expect[d], within(1e-9 * Math.abs(expect[d])));
        }
        // the score itself: positive and exact at a lead of 50 (the direct form gives 0)
        double direct = 50 + Math.log(1 + 2 * Math.exp(-50)) - 50;
        assertThat(direct).isZero();
        double[] logS = RepresentationErasure.logScores(Nd4j.createFromArray(new double[][]{{50, 0, 0}}), new int[]{0});
        assertThat(logS[0]).isCloseTo(Math.log(2) - 50, within(1e-12));
        // where the direct formula is finite, the stable form equals it (leads -3 .. 30, either class leading)
        java.util.Random rnd = new java.util.Random(3);
        for (int t = 0; t < 200; t++) {
            double[] z = {rnd.nextGaussian() * 10, rnd.nextGaussian() * 10, rnd.nextGaussian() * 10, rnd.nextGaussian()};
            int c = rnd.nextInt(4);
            double m = Math.max(Math.max(z[0], z[1]), Math.max(z[2], z[3]));
            double se = 0;
            for (double v : z) {
                se += Math.exp(v - m);
            }
            double sDirect = m + Math.log(se) - z[c];
            if (sDirect > 1e-10) {
                assertThat(Math.exp(RepresentationErasure.logScore(z, c))).isCloseTo(sDirect, within(1e-6 * sDirect));
            }
        }
    }

    private static double[] score(INDArray probs, int[] labels) {
        double[] s = new double[labels.length];
        for (int i = 0; i < labels.length; i++) {
            s[i] = -Math.log(probs.getDouble(i, labels[i]));
        }
        return s;
    }

    @Test
    void activationMaximisationIncreasesTheUnit() {
        double norm = ActivationMaximisation.averageNorm(test.getFeatures());
        ActivationMaximisation am = new ActivationMaximisation(NetworkCopy.of(cnn), "4", 1);
        ActivationMaximisation.Result r = am.run(new long[]{H * W}, norm, 2, 8, 0.1, 7);
        for (int i = 0; i < 2; i++) {
            assertThat(r.finalActivations()[i]).isGreaterThan(r.initialActivations()[i]);
            for (int k = 1; k < r.trace()[i].length; k++) {
                assertThat(r.trace()[i][k]).isGreaterThanOrEqualTo(r.trace()[i][k - 1]);
            }
            assertThat(r.inputs().getRow(i).norm2Number().doubleValue()).isCloseTo(norm, within(1e-3 * norm));
        }
        // a hidden unit too
        ActivationMaximisation.Result h = new ActivationMaximisation(NetworkCopy.of(cnn), "3", 2)
                .run(new long[]{H * W}, norm, 2, 6, 0.1, 8);
        assertThat(h.finalActivations()[0]).isGreaterThan(h.initialActivations()[0]);
    }

    @Test
    void deletionCurveOfExactContributionsBeatsRandom() {
        // for a linear model, removing features by decreasing w_i x_i is the greedy-optimal order, so its
        // curve lies below any other ordering's and its AOPC is at least the random ordering's
        org.deeplearning4j.nn.conf.MultiLayerConfiguration conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).seed(3).list()
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder(
                        org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction.MCXENT).nIn(20).nOut(2)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork lin = new MultiLayerNetwork(conf);
        lin.init();
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(lin));
        INDArray x = Nd4j.rand(DataType.DOUBLE, 4, 20);
        int[] t = {0, 1, 0, 1};
        INDArray maps = new InputXGradient(ln, 32).attribute(x, t).maps();
        DeletionCurve dc = new DeletionCurve(ln, 16, 10, 0.0);
        DeletionCurve.Result best = dc.evaluate(x, maps, t);
        DeletionCurve.Result rnd = dc.random(x, t, 5, 1);
        INDArray z = ln.logits(x, 8);
        INDArray b = lin.getLayer(0).getParam("b");
        for (int i = 0; i < 4; i++) {
            assertThat(best.curves()[i][0]).isCloseTo(z.getDouble(i, t[i]), within(1e-12));
            assertThat(best.curves()[i][10]).isCloseTo(b.getDouble(0, t[i]), within(1e-12)); // all removed
            assertThat(best.aopc()[i]).isGreaterThan(rnd.aopc()[i]);
        }
        // reversed relevance gives a worse (smaller) AOPC than the exact one
        assertThat(dc.evaluate(x, maps.neg(), t).meanAopc()).isLessThan(best.meanAopc());
    }
}
