package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.TestGraphs;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Per-example loss input gradients and loss sensitivity of a ComputationGraph: a graph equivalent to an MLP (the
 * same layers in a chain, the same parameters) gives the MLP's values, and the training graph is not touched.
 */
class GraphInputGradientsTest {

    @Test
    void aGraphEquivalentToAnMlpHasTheMlpsLossGradientsAndSensitivities() {
        MultiLayerNetwork mlp = TinyNets.mlp(4, 5, 3, 11);
        ComputationGraph graph = TestGraphs.asGraph(mlp);
        INDArray x = Nd4j.rand(mlp.params().dataType(), 6, 4).subi(0.5).muli(4);
        INDArray y = InputGradients.oneHot(new int[]{0, 1, 2, 2, 1, 0}, 3, x);
        INDArray before = graph.params().dup();

        MultiLayerNetwork mc = InputGradients.analysisCopy(mlp).multiLayer();
        ComputationGraph gc = (ComputationGraph) InputGradients.graphAnalysisCopy(graph).model();
        INDArray expected = InputGradients.perExample(mc, x, y);
        INDArray actual = InputGradients.perExample(gc, new INDArray[]{x}, y)[0];
        assertThat(actual.shape()).containsExactly(expected.shape());
        double scale = expected.amaxNumber().doubleValue();
        assertThat(scale).isGreaterThan(0);
        assertThat(actual.sub(expected).amaxNumber().doubleValue()).isLessThan(1e-5 * scale);

        double[] l1m = LossSensitivity.perExampleL1(mc, x, y);
        double[] l1g = LossSensitivity.perExampleL1(gc, new INDArray[]{x}, y);
        for (int i = 0; i < l1m.length; i++) {
            assertThat(l1g[i]).isCloseTo(l1m[i], org.assertj.core.data.Offset.offset(1e-5 * Math.max(1, l1m[i])));
        }
        // the copy's analysis left the training graph as it was
        assertThat(graph.params()).isEqualTo(before);
        assertThat(NetworkCopy.of(graph).model().params()).isEqualTo(before);
    }
}
