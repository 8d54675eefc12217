package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class GradientMethodsTest {

    @Test
    void igPaperExample() {
        MultiLayerNetwork net = Nets.igPaperNet();
        NetworkCopy copy = NetworkCopy.of(net);
        INDArray x = Nd4j.createFromArray(new double[][]{{3, 1}});
        IntegratedGradients ig = new IntegratedGradients(new LogitNetwork(copy), 64, 300,
                IntegratedGradients.Rule.RIEMANN_RIGHT, null);
        Attribution a = ig.attribute(x, new int[]{0});
        assertThat(a.maps().getDouble(0, 0)).isCloseTo(1.5, within(0.01));
        assertThat(a.maps().getDouble(0, 1)).isCloseTo(-0.5, within(0.01));
        assertThat(a.maps().sumNumber().doubleValue()).isCloseTo(1.0, within(0.01));
        assertThat(a.targetScores()[0]).isCloseTo(1.0, within(1e-12)); // F(x) = ReLU(3 - 1 - 1)
        assertThat(Math.abs(a.completenessGap()[0])).isLessThan(0.01);
        // the paper: at x = (3, 1) the plain gradient w.r.t. x1 is 1 only while x1 - 1 - x2 > 0; at (1.5, 1)
        // (x1 - 1 - x2 < 0) the output is flat and the gradient gives x1 nothing although x1 matters
        Saliency sal = new Saliency(copy);
        INDArray g = sal.gradient(Nd4j.createFromArray(new double[][]{{1.5, 1}, {3, 1}}), new int[]{0, 0});
        assertThat(g.getDouble(0, 0)).isEqualTo(0.0);
        assertThat(g.getDouble(1, 0)).isCloseTo(1.0, within(1e-12));
        assertThat(g.getDouble(1, 1)).isCloseTo(-1.0, within(1e-12));
    }

    @Test
    void igRulesAgreeOnPaperExample() {
        NetworkCopy copy = NetworkCopy.of(Nets.igPaperNet());
        INDArray x = Nd4j.createFromArray(new double[][]{{3, 1}});
        for (IntegratedGradients.Rule r : IntegratedGradients.Rule.values()) {
            Attribution a = new IntegratedGradients(new LogitNetwork(copy), 64, 400, r, null).attribute(x, new int[]{0});
            assertThat(a.maps().getDouble(0, 0)).as(r.name()).isCloseTo(1.5, within(0.02));
        }
        double[][] gl = IntegratedGradients.nodes(IntegratedGradients.Rule.GAUSS_LEGENDRE, 5);
        double s = 0;
        double m2 = 0;
        for (int i = 0; i < 5; i++) {
            s += gl[1][i];
            m2 += gl[1][i] * Math.pow(gl[0][i], 8);
        }
        assertThat(s).isCloseTo(1.0, within(1e-12));
        assertThat(m2).isCloseTo(1.0 / 9, within(1e-12)); // exact for polynomials of degree <= 9
    }

    @Test
    void saliencyEqualsFiniteDifferences() {
        MultiLayerNetwork net = Nets.trainedMlp(6, 3, true, DataType.DOUBLE, 20);
        NetworkCopy copy = NetworkCopy.of(net);
        INDArray x = Nets.blobs(5, 6, 3, 99).getFeatures().castTo(DataType.DOUBLE);
        int[] t = {0, 1, 2, 0, 1};
        Saliency sal = new Saliency(new LogitNetwork(copy), 2); // batch 2: exercises internal batching
        INDArray g = sal.gradient(x, t);
        Attribution a = sal.attribute(x, t);
        LogitNetwork ln = new LogitNetwork(copy);
        double h = 1e-6;
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 6; j++) {
                INDArray xp = x.dup();
                INDArray xm = x.dup();
                xp.putScalar(i, j, x.getDouble(i, j) + h);
                xm.putScalar(i, j, x.getDouble(i, j) - h);
                double fd = (ln.logits(xp, 10).getDouble(i, t[i]) - ln.logits(xm, 10).getDouble(i, t[i])) / (2 * h);
                assertThat(g.getDouble(i, j)).isCloseTo(fd, within(1e-6));
                assertThat(a.maps().getDouble(i, j)).isCloseTo(Math.abs(fd), within(1e-6));
            }
        }
        // the training network is untouched by analyses on the copy
        assertThat(copy.multiLayer().params()).isNotSameAs(net.params());
    }

    @Test
    void gradientTimesInputOfLinearModelIsWTimesX() {
        org.deeplearning4j.nn.conf.MultiLayerConfiguration conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).seed(3).list()
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder(
                        org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction.MCXENT).nIn(4).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray w = net.getLayer(0).getParam("W");
        INDArray x = Nd4j.createFromArray(new double[][]{{1, -2, 0.5, 3}, {0.2, 0.1, -1, 4}});
        Attribution a = new InputXGradient(NetworkCopy.of(net)).attribute(x, new int[]{2, 1});
        for (int j = 0; j < 4; j++) {
            assertThat(a.maps().getDouble(0, j)).isCloseTo(w.getDouble(j, 2) * x.getDouble(0, j), within(1e-12));
            assertThat(a.maps().getDouble(1, j)).isCloseTo(w.getDouble(j, 1) * x.getDouble(1, j), within(1e-12));
        }
    }

    @Test
    void igCompletenessOnTrainedMlpShrinksWithSteps() {
        MultiLayerNetwork net = Nets.trainedMlp(10, 3, true, DataType.FLOAT, 40);
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(net));
        INDArray x = Nets.blobs(4, 10, 3, 5).getFeatures();
        int[] t = Nets.predicted(net, x);
        double[] prevMean = {Double.MAX_VALUE};
        double[] gaps = new double[3];
        int[] steps = {5, 30, 300};
        for (int s = 0; s < steps.length; s++) {
            Attribution a = new IntegratedGradients(ln, 128, steps[s], IntegratedGradients.Rule.RIEMANN_RIGHT, null)
                    .attribute(x, t);
            double rel = 0;
            for (int i = 0; i < t.length; i++) {
                double delta = Math.abs(a.targetScores()[i] - a.extras().get("baselineScore").getDouble(i));
                rel = Math.max(rel, Math.abs(a.completenessGap()[i]) / delta);
            }
            gaps[s] = rel;
        }
        assertThat(gaps[2]).isLessThan(0.01);
        assertThat(gaps[1]).isLessThan(gaps[0]);
        assertThat(gaps[2]).isLessThan(gaps[1]);
    }

    @Test
    void smoothGradWithoutNoiseIsTheGradient() {
        MultiLayerNetwork net = Nets.trainedMlp(6, 3, true, DataType.DOUBLE, 10);
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(net));
        INDArray x = Nets.blobs(3, 6, 3, 4).getFeatures().castTo(DataType.DOUBLE);
        int[] t = {0, 1, 2};
        INDArray g = new Saliency(ln, 8).gradient(x, t);
        INDArray sg0 = new SmoothGrad(ln, 8, 0.0, 4, 1).attribute(x, t).maps();
        assertThat(sg0.sub(g).amaxNumber().doubleValue()).isLessThan(1e-12);
        INDArray sg = new SmoothGrad(ln, 8, 0.2, 16, 1).attribute(x, t).maps();
        INDArray sgAgain = new SmoothGrad(ln, 5, 0.2, 16, 1).attribute(x, t).maps();
        assertThat(sg.sub(g).amaxNumber().doubleValue()).isGreaterThan(0.0);
        assertThat(sg.sub(sgAgain).amaxNumber().doubleValue()).isLessThan(1e-12); // reproducible, batch-independent
    }

    @Test
    void badTargetsListValidRange() {
        NetworkCopy copy = NetworkCopy.of(Nets.igPaperNet());
        assertThatThrownBy(() -> new Saliency(copy).attribute(Nd4j.zeros(1, 2), new int[]{3}))
                .hasMessageContaining("valid 0..0");
    }
}
