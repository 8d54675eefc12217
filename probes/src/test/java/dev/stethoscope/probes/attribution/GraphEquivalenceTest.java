package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.TestGraphs;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.stream.Stream;

import static dev.stethoscope.probes.attribution.AttributorFixtures.assertSame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A ComputationGraph equivalent to a MultiLayerNetwork (the same layers in a chain, the same parameters) gives the
 * same attributions as the MultiLayerNetwork, for every name in {@link Attributors#NAMES} on an MLP and a CNN: the
 * graph code paths (DL4J's vertex backward passes for gradients, {@link GraphPropagation} for the propagation
 * rules) are checked against the MultiLayerNetwork ones, which have their own tests against the papers' figures.
 */
class GraphEquivalenceTest {
    private static final int N = 4;
    private static final int CLASSES = 3;
    private static final int[] TARGETS = {0, 1, 2, 0};

    enum Net { MLP, CNN }

    private static MultiLayerNetwork mlp;
    private static MultiLayerNetwork cnn;

    private static synchronized MultiLayerNetwork network(Net kind) {
        if (kind == Net.MLP) {
            if (mlp == null) {
                mlp = Nets.trainedMlp(6, CLASSES, true, DataType.DOUBLE, 20);
            }
            return mlp;
        }
        if (cnn == null) {
            cnn = Nets.cnn(8, 8, CLASSES, DataType.DOUBLE, PoolingType.MAX);
        }
        return cnn;
    }

    private static INDArray inputs(Net kind) {
        return kind == Net.MLP ? GraphNets.uniform(N, 6, -2, 2, 41) : GraphNets.uniform(N, 64, 0, 1, 42);
    }

    static Stream<Arguments> table() {
        return AttributorFixtures.everyMethodOn(Net.class);
    }

    private static Attributor create(String name, Model model) {
        // few IG steps and SmoothGrad samples keep the table fast; internal batches of 3 rows split the 4 examples
        return Attributors.create(name, new LogitNetwork(NetworkCopy.of(model)), new Attributors.Options(3, 8,
                IntegratedGradients.Rule.RIEMANN_RIGHT, 1e-6, null, null, 3, 1, 0.0, 0.15, 3, 42L));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("table")
    void theEquivalentGraphGivesTheSameAttributions(String name, Net kind) {
        MultiLayerNetwork mln = network(kind);
        ComputationGraph graph = TestGraphs.asGraph(mln);
        INDArray x = inputs(kind);
        assertSame(new LogitNetwork(NetworkCopy.of(graph)).logits(x, N),
                new LogitNetwork(NetworkCopy.of(mln)).logits(x, N), "logits");
        if (name.equals("gradcam") && kind == Net.MLP) {
            assertThatThrownBy(() -> create(name, mln)).hasMessageStartingWith("Grad-CAM needs a convolution layer");
            assertThatThrownBy(() -> create(name, graph)).hasMessageStartingWith("Grad-CAM needs a convolution layer");
            return;
        }
        Attributor onGraph = name.equals("gradcam")
                ? new GradCam(new LogitNetwork(NetworkCopy.of(graph)), 3, "L" + Attributors.lastConvLayer(mln))
                : create(name, graph);
        Attribution a = create(name, mln).attribute(x, TARGETS);
        Attribution b = onGraph.attribute(x, TARGETS);
        assertThat(b.method()).isEqualTo(name);
        assertSame(b.maps(), a.maps(), name + " maps");
        assertThat(b.targetScores()).usingComparatorWithPrecision(1e-9).containsExactly(a.targetScores());
        assertThat(b.hasCompletenessGap()).isEqualTo(a.hasCompletenessGap());
        if (a.hasCompletenessGap()) {
            assertThat(b.completenessGap()).usingComparatorWithPrecision(1e-9).containsExactly(a.completenessGap());
        }
        // the single-input graph's multi-input form gives the same maps
        InputAttributions m = onGraph.attributeInputs(new INDArray[]{x}, TARGETS);
        assertSame(m.maps().get(0), a.maps(), name + " attributeInputs");
        double maxAbs = a.maps().amaxNumber().doubleValue();
        assertThat(maxAbs).as("%s gives some relevance (the comparison is not between zeros)", name).isGreaterThan(0);
    }
}
