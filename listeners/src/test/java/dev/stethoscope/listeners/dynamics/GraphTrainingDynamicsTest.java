package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.TestNets;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The suspects monitor on a ComputationGraph: logits from the graph's training forward pass (the activation of the
 * vertex feeding the output layer), labels from the graph or the tracked DataSet.
 */
class GraphTrainingDynamicsTest {

    /**
     * A graph equivalent to the MLP (same layers in a chain, same initial parameters) trained on the same batches
     * gives the MLP's per-example scores and suspects: tracked (indices) and untracked (content hashes, labels read
     * from the graph).
     */
    @Test
    void aGraphEquivalentToAnMlpGivesTheMlpsSuspectScores() {
        Blobs data = new Blobs(200, 10, 3, 8, 7);
        for (boolean tracked : new boolean[]{true, false}) {
            MultiLayerNetwork mlp = data.mlp(12, 1.0, new Adam(0.02), 4);
            ComputationGraph graph = TestNets.asGraph(data.mlp(12, 1.0, new Adam(0.02), 4));
            TrainingDynamicsListener lm = TrainingDynamicsListener.builder(mlp, new InMemoryStatsStorage())
                    .numExamples(data.n).topK(10).flippedIndices(data.flipped).failFast(true).attach();
            TrainingDynamicsListener lg = TrainingDynamicsListener.builder(graph, new InMemoryStatsStorage())
                    .numExamples(data.n).topK(10).flippedIndices(data.flipped).failFast(true).attach();
            mlp.fit(tracked ? lm.track(data.iterator(16, true)) : data.iterator(16, false), 4);
            graph.fit(tracked ? lg.track(data.iterator(16, true)) : data.iterator(16, false), 4);
            lm.close();
            lg.close();
            assertThat(lg.identitySource()).isEqualTo(tracked ? ExampleIdentity.Source.TRACKED_INDEX
                    : ExampleIdentity.Source.CONTENT_HASH);
            assertThat(lg.dynamics().observations()).isEqualTo(4L * data.n);
            SuspectTable tm = lm.table();
            SuspectTable tg = lg.table();
            for (String c : SuspectTable.FLOAT_COLUMNS) {
                float[] a = tm.column(c);
                float[] b = tg.column(c);
                for (int i = 0; i < a.length; i++) {
                    assertThat(b[i]).as("%s of example %d (tracked %s)", c, i, tracked)
                            .isCloseTo(a[i], within(1e-4f * Math.max(1f, Math.abs(a[i]))));
                }
            }
            assertThat(tg.forgetting()).containsExactly(tm.forgetting());
            assertThat(lg.lastRecord().indices()).containsExactly(lm.lastRecord().indices());
            assertThat(lg.lastRecord().metric("combined").auroc())
                    .isCloseTo(lm.lastRecord().metric("combined").auroc(), within(1e-9));
        }
    }

    /** Two dense branches added, merged with the input, then a dense layer and the output: a non-chain graph. */
    static ComputationGraph branchy(int d, int classes, double lr, long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT)
                .updater(lr == 0 ? new Sgd(0.0) : new Adam(lr)).graphBuilder()
                .addInputs("x")
                .addLayer("a", new DenseLayer.Builder().nIn(d).nOut(12).activation(Activation.RELU).build(), "x")
                .addLayer("b", new DenseLayer.Builder().nIn(d).nOut(12).activation(Activation.TANH).build(), "x")
                .addVertex("sum", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addVertex("cat", new MergeVertex(), "sum", "x")
                .addLayer("h", new DenseLayer.Builder().nIn(12 + d).nOut(12).activation(Activation.RELU).build(), "cat")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(12).nOut(classes)
                        .activation(Activation.SOFTMAX).build(), "h")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /** With addListeners alone (content hashes, labels from the graph), planted mislabels rank first. */
    @Test
    void plantedMislabelsRankFirstOnABranchedGraph() {
        Blobs data = new Blobs(300, 12, 3, 6, 11);
        ComputationGraph g = branchy(12, 3, 0.02, 5);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(g, new InMemoryStatsStorage())
                .numExamples(data.n).topK(6).flippedIndices(data.flipped).failFast(true).build();
        g.addListeners(l);
        g.fit(data.iterator(30, false), 10);
        l.close();
        assertThat(l.errorCount()).isZero();
        Suspects r = l.lastRecord();
        assertThat(java.util.Arrays.stream(r.indices()).boxed().toList())
                .containsExactlyInAnyOrderElementsOf(java.util.Arrays.stream(data.flipped).boxed().toList());
        assertThat(r.metric("combined").precisionAtK()).isEqualTo(1.0);
        assertThat(r.metric("combined").auroc()).isGreaterThan(0.99);
        assertThat(r.featureShape()).containsExactly(12L);
    }

    /** Both captures on a graph whose parameters do not move: the logits are the graph's own. */
    @Test
    void bothCapturesGiveTheGraphsLogitsWhenParametersDoNotMove() {
        Blobs data = new Blobs(90, 6, 4, 3, 5);
        INDArray x = data.features(0, data.n);
        for (TrainingDynamicsListener.Capture c : TrainingDynamicsListener.Capture.values()) {
            ComputationGraph g = branchy(6, 4, 0, 2);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(g, new InMemoryStatsStorage())
                    .numExamples(data.n).capture(c).failFast(true).attach();
            g.fit(l.track(data.iterator(32, true)), 2);
            INDArray p = g.outputSingle(false, x);
            for (int i = 0; i < data.n; i++) {
                int y = data.givenLabel[i];
                double maxOther = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < data.classes; k++) {
                    if (k != y) {
                        maxOther = Math.max(maxOther, Math.log(p.getDouble(i, k)));
                    }
                }
                assertThat(l.dynamics().aum(i)).as("%s margin of example %d", c, i)
                        .isCloseTo(Math.log(p.getDouble(i, y)) - maxOther, within(1e-4));
            }
        }
    }

    @Test
    void graphTrainingIsBitIdenticalWithAndWithoutTheListener() {
        Blobs data = new Blobs(120, 8, 3, 4, 3);
        ComputationGraph plain = branchy(8, 3, 0.01, 9);
        plain.fit(data.iterator(20, true), 3);
        for (TrainingDynamicsListener.Capture c : TrainingDynamicsListener.Capture.values()) {
            ComputationGraph watched = branchy(8, 3, 0.01, 9);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(watched, new InMemoryStatsStorage())
                    .numExamples(data.n).capture(c).failFast(true).attach();
            watched.fit(data.iterator(20, false), 3);
            l.close();
            assertThat(l.dynamics().observations()).isEqualTo(3L * data.n);
            assertThat(watched.params().sub(plain.params()).amaxNumber().doubleValue())
                    .as("parameters with the listener (%s) equal those without", c).isEqualTo(0.0);
            assertThat(watched.getUpdater().getStateViewArray()).isEqualTo(plain.getUpdater().getStateViewArray());
        }
    }

    @Test
    void multiInputGraphsAreRefusedAtBuildWithTheInferenceCopyOnly() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("a", "b")
                .addVertex("cat", new MergeVertex(), "a", "b")
                .addLayer("out", new OutputLayer.Builder().nIn(6).nOut(2).activation(Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        // the training pass's logits work on several inputs (MultiInputSuspectsTest); the inference copy does not
        TrainingDynamicsListener.builder(g, new InMemoryStatsStorage()).numExamples(10).build();
        assertThatThrownBy(() -> TrainingDynamicsListener.builder(g, new InMemoryStatsStorage()).numExamples(10)
                .capture(TrainingDynamicsListener.Capture.INFERENCE_COPY).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inputs [a, b]")
                .hasMessageContaining("TRAIN_PASS");
    }
}
