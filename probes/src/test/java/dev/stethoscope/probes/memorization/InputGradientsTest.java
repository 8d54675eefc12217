package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class InputGradientsTest {

    /** Loss of one example alone (batch of 1: DL4J's averaged score is that example's loss). */
    private static double lossOf(MultiLayerNetwork net, INDArray x, INDArray y) {
        return net.score(new DataSet(x, y), false);
    }

    @Test
    void perExampleGradientAndLossSensitivityMatchFiniteDifferences() {
        MultiLayerNetwork source = TinyNets.mlp(5, 6, 3, 7);
        NetworkCopy copy = InputGradients.analysisCopy(source);
        MultiLayerNetwork net = copy.multiLayer();
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 4, 5);
        INDArray y = InputGradients.oneHot(new int[]{0, 2, 1, 2}, 3, x);

        INDArray g = InputGradients.perExample(net, x, y);
        double[] l1 = LossSensitivity.perExampleL1(net, x, y);
        double h = 1e-6;
        for (int n = 0; n < 4; n++) {
            double fdL1 = 0;
            for (int j = 0; j < 5; j++) {
                INDArray xp = x.getRow(n, true).dup();
                INDArray xm = x.getRow(n, true).dup();
                xp.putScalar(0, j, xp.getDouble(0, j) + h);
                xm.putScalar(0, j, xm.getDouble(0, j) - h);
                double fd = (lossOf(net, xp, y.getRow(n, true)) - lossOf(net, xm, y.getRow(n, true))) / (2 * h);
                assertThat(g.getDouble(n, j)).as("dL_%d/dx_%d", n, j).isCloseTo(fd, within(1e-7 + 1e-5 * Math.abs(fd)));
                fdL1 += Math.abs(fd);
            }
            assertThat(l1[n]).isCloseTo(fdL1, within(1e-6));
            assertThat(l1[n]).isGreaterThan(0);
        }
        // the training network's input gradient is not involved: its parameters are unchanged
        assertThat(source.params()).isEqualTo(copy.multiLayer().params());
    }

    @Test
    void gradientsAndPredictionsFromOnePassEqualSeparatePasses() {
        MultiLayerNetwork source = TinyNets.mlp(5, 6, 3, 17);
        Nd4j.getRandom().setSeed(8);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 40, 5).subi(0.5).muli(6);
        INDArray y = InputGradients.oneHot(new int[40], 3, x);
        int[] expected = InputGradients.argmax(source.output(x, false));
        // the analysis copy (no training workspaces): predictions from the output layer of the gradient pass
        MultiLayerNetwork fused = InputGradients.analysisCopy(source).multiLayer();
        InputGradients.GradientsAndPredictions gp = InputGradients.gradientsAndPredictions(fused, x, y);
        assertThat(gp.predictions()).containsExactly(expected);
        assertThat(java.util.Arrays.stream(expected).distinct().count()).as("classes predicted").isGreaterThan(1);
        assertThat(gp.gradients()).isEqualTo(InputGradients.perExample(fused, x, y));
        // a copy with training workspaces: falls back to a separate inference pass, same answer
        MultiLayerNetwork plainCopy = NetworkCopy.of(source).multiLayer();
        assertThat(InputGradients.gradientsAndPredictions(plainCopy, x, y).predictions()).containsExactly(expected);
    }

    @Test
    void perClassMatrixUsesTheLossOfEachClass() {
        MultiLayerNetwork net = InputGradients.analysisCopy(TinyNets.mlp(4, 5, 3, 11)).multiLayer();
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 6, 4);
        int[] cls = {0, 0, 1, 1, 1, 2};
        INDArray y = InputGradients.oneHot(cls, 3, x);
        double[][] m = LossSensitivity.perClassMatrix(net, x, y);
        for (int i = 0; i < 3; i++) {
            int[] all = {i, i, i, i, i, i};
            double[] g = LossSensitivity.perExampleL1(net, x, InputGradients.oneHot(all, 3, x));
            assertThat(m[i][0]).isCloseTo((g[0] + g[1]) / 2, within(1e-12));
            assertThat(m[i][1]).isCloseTo((g[2] + g[3] + g[4]) / 3, within(1e-12));
            assertThat(m[i][2]).isCloseTo(g[5], within(1e-12));
        }
        // classes with no examples give NaN columns
        double[][] m2 = LossSensitivity.perClassMatrix(net, x.getRows(0, 1), y.getRows(0, 1));
        assertThat(m2[0][1]).isNaN();
        assertThat(m2[0][0]).isGreaterThan(0);
    }

    @Test
    void dropoutIsRemovedFromTheCopyOnly() {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.DOUBLE).dropOut(0.5)
                .list()
                .layer(new org.deeplearning4j.nn.conf.layers.DenseLayer.Builder().nIn(4).nOut(8).build())
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(8).nOut(2)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork source = new MultiLayerNetwork(conf);
        source.init();
        MultiLayerNetwork net = InputGradients.analysisCopy(source).multiLayer();
        assertThat(source.getLayer(0).conf().getLayer().getIDropout()).isNotNull();
        assertThat(net.getLayer(0).conf().getLayer().getIDropout()).isNull();
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, 4);
        INDArray y = InputGradients.oneHot(new int[]{0, 1, 0}, 2, x);
        // deterministic: two calls give the same gradient
        assertThat(InputGradients.perExample(net, x, y)).isEqualTo(InputGradients.perExample(net, x, y));
    }

    @Test
    void aComputationGraphGetsAGraphCopyAndMultiLayerOnlyAnalysesRefuseIt() {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("out", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(3).nOut(2)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "in")
                .setOutputs("out").build();
        var cg = new org.deeplearning4j.nn.graph.ComputationGraph(conf);
        cg.init();
        cg.getLayer("out").conf().getLayer().setIDropout(new org.deeplearning4j.nn.conf.dropout.Dropout(0.5));
        var copy = (org.deeplearning4j.nn.graph.ComputationGraph) InputGradients.analysisCopy(cg).model();
        assertThat(copy).isNotSameAs(cg);
        assertThat(copy.getLayer("out").conf().getLayer().getIDropout()).isNull();
        assertThat(cg.getLayer("out").conf().getLayer().getIDropout()).isNotNull();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> InputGradients.requireMultiLayer(cg))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("MultiLayerNetwork");
    }
}
