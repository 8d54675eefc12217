package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.TestGraphs;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Representation erasure and activation maximisation on ComputationGraphs: a chain graph of an MLP gives the MLP's
 * results; on a residual graph, erasing a channel that feeds both a convolution and a skip addition equals DL4J's
 * own forward pass with that channel's filter zeroed; activation maximisation of a graph unit never decreases.
 */
class GraphLayerMethodsTest {

    private static double[] score(INDArray probs, int[] labels) {
        double[] s = new double[labels.length];
        for (int i = 0; i < labels.length; i++) {
            s[i] = -Math.log(probs.getDouble(i, labels[i]));
        }
        return s;
    }

    @Test
    void erasureAndMaximisationOnAChainGraphEqualTheMlps() {
        MultiLayerNetwork mlp = Nets.trainedMlp(6, 3, true, DataType.DOUBLE, 20);
        ComputationGraph graph = TestGraphs.asGraph(mlp);
        DataSet ds = Nets.blobs(9, 6, 3, 21);
        INDArray x = ds.getFeatures().castTo(DataType.DOUBLE);
        int[] labels = ds.getLabels().argMax(1).toIntVector();
        RepresentationErasure.Result m = new RepresentationErasure(NetworkCopy.of(mlp), "1",
                RepresentationErasure.Unit.DIMENSION).importance(x, labels);
        RepresentationErasure.Result g = new RepresentationErasure(NetworkCopy.of(graph), "L1",
                RepresentationErasure.Unit.DIMENSION).importance(x, labels);
        assertThat(g.layer()).isEqualTo("L1");
        assertThat(g.importance()).hasSize(16);
        for (int d = 0; d < 16; d++) {
            assertThat(g.importance()[d]).as("unit %d", d).isCloseTo(m.importance()[d], within(1e-12));
        }
        assertThat(g.meanScore()).isCloseTo(m.meanScore(), within(1e-12));
        assertThatThrownBy(() -> new RepresentationErasure(NetworkCopy.of(graph), "L2", RepresentationErasure.Unit.DIMENSION))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("output layer");
        assertThatThrownBy(() -> new RepresentationErasure(NetworkCopy.of(graph), "nope", RepresentationErasure.Unit.DIMENSION))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("L0");

        double norm = ActivationMaximisation.averageNorm(x);
        for (String[] layer : new String[][]{{"1", "L1"}, {"2", "L2"}}) {
            ActivationMaximisation.Result am = new ActivationMaximisation(NetworkCopy.of(mlp), layer[0], 2)
                    .run(new long[]{6}, norm, 3, 6, 0.1, 5);
            ActivationMaximisation.Result ag = new ActivationMaximisation(NetworkCopy.of(graph), layer[1], 2)
                    .run(new long[]{6}, norm, 3, 6, 0.1, 5);
            for (int i = 0; i < 3; i++) {
                assertThat(ag.finalActivations()[i]).isCloseTo(am.finalActivations()[i], within(1e-9));
                if (layer[1].equals("L2")) { // a logit always has a gradient (a ReLU unit may start dead)
                    assertThat(ag.finalActivations()[i]).isGreaterThan(ag.initialActivations()[i]);
                }
                assertThat(ag.finalActivations()[i]).isGreaterThanOrEqualTo(ag.initialActivations()[i]);
            }
            assertThat(ag.inputs().sub(am.inputs()).amaxNumber().doubleValue()).isLessThan(1e-9);
        }
    }

    @Test
    void channelErasureThroughASkipConnectionEqualsDl4jWithTheFilterZeroed() {
        ComputationGraph graph = GraphNets.residual(6, 6, 3, true);
        INDArray x = GraphNets.uniform(12, 36, 0, 1, 41);
        int[] labels = new int[12];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 3;
        }
        RepresentationErasure.Result r = new RepresentationErasure(NetworkCopy.of(graph), "stem",
                RepresentationErasure.Unit.CHANNEL).importance(x, labels);
        assertThat(r.importance()).hasSize(4);
        double[] s = score(graph.outputSingle(x), labels);
        double total = 0;
        for (int c = 0; c < 4; c++) {
            // the stem's ReLU output channel c is 0 when its filter and bias are 0; it feeds c1 and the addition
            ComputationGraph z = graph.clone();
            z.getLayer("stem").getParam("W").get(NDArrayIndex.point(c), NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.all()).assign(0);
            z.getLayer("stem").getParam("b").putScalar(0, c, 0);
            double[] sc = score(z.outputSingle(x), labels);
            double expect = 0;
            for (int i = 0; i < labels.length; i++) {
                expect += (s[i] - sc[i]) / s[i] / labels.length;
            }
            total += Math.abs(expect);
            assertThat(r.importance()[c]).as("channel %d", c).isCloseTo(expect, within(1e-9 + 1e-6 * Math.abs(expect)));
        }
        assertThat(total).isGreaterThan(1e-6); // the check is not trivially 0 = 0

        for (String layer : new String[]{"relu", "out"}) {
            ActivationMaximisation.Result am = new ActivationMaximisation(NetworkCopy.of(graph), layer, 1)
                    .run(new long[]{36}, ActivationMaximisation.averageNorm(x), 2, 6, 0.1, 3);
            for (int i = 0; i < 2; i++) {
                for (int k = 1; k < am.trace()[i].length; k++) {
                    assertThat(am.trace()[i][k]).isGreaterThanOrEqualTo(am.trace()[i][k - 1]);
                }
                if (layer.equals("out")) {
                    assertThat(am.finalActivations()[i]).as("logit 1, start %d", i).isGreaterThan(am.initialActivations()[i]);
                }
            }
        }
        assertThatThrownBy(() -> new ActivationMaximisation(NetworkCopy.of(GraphNets.twoInput(
                org.nd4j.linalg.activations.Activation.RELU, true, 1)), "h", 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inputs [a, b]");
    }
}
