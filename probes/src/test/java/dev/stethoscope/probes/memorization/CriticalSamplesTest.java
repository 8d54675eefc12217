package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LASS on a linear two-class softmax model, where the L-infinity distance of x to
 * the decision boundary is known: with logits z_c = w_c.x + b_c the boundary is
 * d(x) = (w_1 - w_0).x + (b_1 - b_0) = 0, and the L-inf distance of x to it is
 * |d(x)| / ||w_1 - w_0||_1 (Hoelder: |d(x') - d(x)| &lt;= ||w_1 - w_0||_1 ||x' - x||_inf,
 * with equality at x' = x - t sign(d(x)) sign(w_1 - w_0)).
 * So: a point farther than r can never be critical (every x' in the box keeps the
 * sign of d), whatever LASS does; a point closer than r is critical if the search
 * reaches the box corner that points at the boundary (inside the input range).
 */
class CriticalSamplesTest {
    static final int D = 20;
    static final double R = 0.02;
    static MultiLayerNetwork net;
    static double[] wd = new double[D];
    static double bd;
    static double wdL1;

    @BeforeAll
    static void linearModel() {
        wdL1 = 0;
        MultiLayerNetwork source = TinyNets.linear(D, 2);
        Random rnd = new Random(42);
        INDArray w = Nd4j.zeros(DataType.DOUBLE, D, 2);
        double s = 0;
        for (int i = 0; i < D; i++) {
            double w0 = rnd.nextDouble() * 2 - 1;
            double w1 = rnd.nextDouble() * 2 - 1;
            w.putScalar(i, 0, w0);
            w.putScalar(i, 1, w1);
            wd[i] = w1 - w0;
            s += wd[i];
            wdL1 += Math.abs(wd[i]);
        }
        // boundary through the centre of the cube
        INDArray b = Nd4j.create(new double[][]{{0.0, -0.5 * s}});
        bd = -0.5 * s;
        source.getLayer(0).setParam("W", w);
        source.getLayer(0).setParam("b", b);
        net = InputGradients.analysisCopy(source).multiLayer();
    }

    static double decision(double[] x) {
        double d = bd;
        for (int i = 0; i < D; i++) {
            d += wd[i] * x[i];
        }
        return d;
    }

    /** Points at signed L-inf distances (multiples of R) from the boundary, all with their box inside [0.2, 0.8]. */
    static double[][] pointsAt(double[] distancesInR, long seed) {
        Random rnd = new Random(seed);
        double wd2 = 0;
        for (double v : wd) {
            wd2 += v * v;
        }
        List<double[]> out = new ArrayList<>();
        for (double dist : distancesInR) {
            double[] x = new double[D];
            for (int i = 0; i < D; i++) {
                x[i] = 0.4 + 0.2 * rnd.nextDouble();
            }
            double target = dist * R * wdL1;
            double shift = (target - decision(x)) / wd2;
            for (int i = 0; i < D; i++) {
                x[i] += shift * wd[i];
                assertThat(x[i]).isBetween(0.2, 0.8);
            }
            assertThat(Math.abs(decision(x)) / wdL1).isCloseTo(Math.abs(dist) * R,
                    org.assertj.core.api.Assertions.within(1e-12));
            out.add(x);
        }
        return out.toArray(new double[0][]);
    }

    static final double[] DISTANCES = {0.1, -0.1, 0.3, -0.5, 0.7, -0.9, 0.95, 1.05, -1.1, 1.5, -2, 3, -5};

    @Test
    void deterministicSignStepsFindExactlyThePointsCloserThanR() {
        double[][] pts = pointsAt(DISTANCES, 1);
        INDArray x = Nd4j.create(pts);
        // alpha = R/10: after 10 steps every coordinate sits at the box corner facing the boundary
        LassParameters p = LassParameters.defaults().withRadius(R).withAlpha(R / 10).withBeta(0).withMaxIterations(20);
        CsrResult res = CriticalSamples.search(net, x, p, 0, true);
        for (int i = 0; i < DISTANCES.length; i++) {
            boolean closer = Math.abs(DISTANCES[i]) < 1;
            assertThat(res.critical()[i]).as("point at distance %s r", DISTANCES[i]).isEqualTo(closer);
            if (closer) {
                assertThat(res.iterationsUsed()[i]).isBetween(1, 10);
            } else {
                assertThat(res.iterationsUsed()[i]).isEqualTo(20);
            }
        }
        assertThat(res.criticalSampleRatio()).isEqualTo(7.0 / DISTANCES.length);
        assertBoxAndRange(x, res.perturbed(), p);
        // critical examples really changed class at their x~, the others did not
        int[] before = InputGradients.argmax(net.output(x));
        int[] after = InputGradients.argmax(net.output(res.perturbed()));
        for (int i = 0; i < DISTANCES.length; i++) {
            assertThat(before[i] != after[i]).isEqualTo(res.critical()[i]);
            assertThat(res.originalClass()[i]).isEqualTo(before[i]);
        }
    }

    @Test
    void langevinNoiseStillFindsClosePointsAndNeverFarOnes() {
        double[][] pts = pointsAt(DISTANCES, 2);
        INDArray x = Nd4j.create(pts);
        // the default beta/alpha ratio (0.2/0.25), scaled to this radius
        LassParameters p = LassParameters.defaults().withRadius(R).withAlpha(R / 10).withBeta(0.8 * R / 10)
                .withMaxIterations(60).withSeed(9);
        CsrResult res = CriticalSamples.search(net, x, p, 7, true);
        for (int i = 0; i < DISTANCES.length; i++) {
            if (Math.abs(DISTANCES[i]) <= 0.7) {
                assertThat(res.critical()[i]).as("close point %s r", DISTANCES[i]).isTrue();
            }
            if (Math.abs(DISTANCES[i]) > 1) {
                assertThat(res.critical()[i]).as("far point %s r", DISTANCES[i]).isFalse();
            }
        }
        assertBoxAndRange(x, res.perturbed(), p);
        // deterministic under the seed, independent of the global ND4J random stream
        Nd4j.getRandom().setSeed(777);
        CsrResult again = CriticalSamples.search(net, x, p, 7, true);
        assertThat(again.critical()).isEqualTo(res.critical());
        assertThat(again.iterationsUsed()).isEqualTo(res.iterationsUsed());
        assertThat(again.perturbed()).isEqualTo(res.perturbed());
    }

    @Test
    void clippingToTheInputRangeIsNeverViolated() {
        // points on the faces of [0,1]: the box pokes out of the range, the noise pushes out of it too
        Random rnd = new Random(5);
        double[][] pts = new double[30][D];
        for (double[] row : pts) {
            for (int i = 0; i < D; i++) {
                row[i] = rnd.nextBoolean() ? (rnd.nextBoolean() ? 0.0 : 1.0) : rnd.nextDouble();
            }
        }
        INDArray x = Nd4j.create(pts);
        LassParameters p = LassParameters.defaults().withRadius(0.1).withAlpha(0.03).withBeta(0.05)
                .withMaxIterations(30);
        CsrResult res = CriticalSamples.search(net, x, p, 16, true);
        assertBoxAndRange(x, res.perturbed(), p);
        assertThat(res.numExamples()).isEqualTo(30);
        assertThat(res.criticalSampleRatio()).isEqualTo(res.numCritical() / 30.0);
    }

    @Test
    void inputsOutsideTheRangeAreRefused() {
        INDArray x = Nd4j.create(new double[][]{new double[D]}).addi(2.0);
        assertThatThrownBy(() -> CriticalSamples.search(net, x, LassParameters.defaults(), 0, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input range");
        assertThatThrownBy(() -> LassParameters.defaults().withRadius(-1)).isInstanceOf(IllegalArgumentException.class);
        // presets: the calibrated default and the paper's radius, by name; unknown names list the valid ones
        assertThat(LassParameters.preset("default")).isEqualTo(LassParameters.defaults());
        assertThat(LassParameters.preset("paper").radius()).isEqualTo(0.3 / 255);
        assertThat(LassParameters.defaults().radius()).isEqualTo(4.0 / 255);
        assertThat(LassParameters.defaults().maxIterations()).isEqualTo(10);
        assertThat(LassParameters.PAPER.maxIterations()).isEqualTo(100);
        assertThat(LassParameters.defaults().presetName()).isEqualTo("default");
        assertThat(LassParameters.PAPER.presetName()).isEqualTo("paper");
        assertThat(LassParameters.defaults().withRadius(0.05).presetName()).isEqualTo("custom");
        assertThat(LassParameters.PAPER.asMap()).containsEntry("preset", "paper");
        assertThatThrownBy(() -> LassParameters.preset("huge")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("default").hasMessageContaining("paper");
    }

    @Test
    void networkCopyEntryPointLeavesTheSourceUntouched() {
        MultiLayerNetwork source = TinyNets.mlp(D, 8, 3, 3);
        INDArray before = source.params().dup();
        NetworkCopy copy = InputGradients.analysisCopy(source);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 10, D);
        CsrResult res = CriticalSamples.search(copy, x, LassParameters.defaults().withRadius(0.2).withAlpha(0.05)
                .withMaxIterations(10), 0, false);
        assertThat(res.perturbed()).isNull();
        assertThat(source.params()).isEqualTo(before);
        assertThat(res.parameters().asMap()).containsKeys("radius", "alpha", "beta", "maxIterations", "seed");
    }

    @Test
    void convolutionalNetworkWithRank4InputsKeepsShapesAndTheBox() {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .seed(4).dataType(DataType.DOUBLE).list()
                .layer(new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.RELU).build())
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build())
                .setInputType(org.deeplearning4j.nn.conf.inputs.InputType.convolutional(6, 6, 1))
                .build();
        MultiLayerNetwork cnn = new MultiLayerNetwork(conf);
        cnn.init();
        Nd4j.getRandom().setSeed(8);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 9, 1, 6, 6);
        // certification off: this test is about the search's mechanics on every example
        LassParameters p = LassParameters.defaults().withRadius(0.3).withAlpha(0.1).withBeta(0.05).withMaxIterations(6)
                .withCertification(false);
        CsrResult res = CriticalSamples.search(InputGradients.analysisCopy(cnn), x, p, 4, true);
        assertThat(res.numCertified()).isZero();
        assertThat(res.perturbed().shape()).isEqualTo(x.shape());
        assertBoxAndRange(x.reshape(9, 36), res.perturbed().reshape(9, 36), p);
        int[] before = InputGradients.argmax(cnn.output(x));
        int[] after = InputGradients.argmax(cnn.output(res.perturbed()));
        for (int i = 0; i < 9; i++) {
            assertThat(before[i] != after[i]).isEqualTo(res.critical()[i]);
        }
        // examples in batch 2 really were searched (their x~ moved)
        assertThat(res.perturbed().reshape(9, 36).getRow(8).equals(x.reshape(9, 36).getRow(8))).isFalse();
    }

    static void assertBoxAndRange(INDArray x, INDArray xt, LassParameters p) {
        double[][] a = x.toDoubleMatrix();
        double[][] b = xt.toDoubleMatrix();
        for (int n = 0; n < a.length; n++) {
            for (int i = 0; i < a[n].length; i++) {
                assertThat(Math.abs(b[n][i] - a[n][i])).isLessThanOrEqualTo(p.radius() + 1e-12);
                assertThat(b[n][i]).isBetween(p.inputMin(), p.inputMax());
            }
        }
    }
}
