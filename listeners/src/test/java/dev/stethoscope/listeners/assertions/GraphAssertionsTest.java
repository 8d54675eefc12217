package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.probes.assertions.DyingReluDetector;
import dev.stethoscope.probes.assertions.NonFiniteDetector;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.probes.assertions.Signals;
import dev.stethoscope.probes.assertions.StepSignals;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static dev.stethoscope.listeners.assertions.AssertionListenerTest.BATCH;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.BATCHES;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.CLASSES;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.FEATURES;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.data;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.findings;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.heldOut;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.iterator;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link AssertionListener} on a small residual {@link ComputationGraph} (two ReLU dense vertices,
 * the second's output added to the first's, a softmax output layer), trained on the blobs of
 * {@link AssertionListenerTest}: the detectors fire on injected faults (dead ReLU bias, NaN batch,
 * softmax with MSE) and stay silent on a healthy run; the sampled signals are the graph's own
 * (layer vertices by name, predicted classes = the output's arg-max, labels of the current batch);
 * a user window assertion stops training; per-example assertions on the training batches name the
 * planted examples by content hash with their labels, held-out and flicker assertions and the
 * checkpoint and send-to-suspects actions run; training is bit-identical with and without it all.
 */
class GraphAssertionsTest {

    /** in -> d1 (ReLU) -> d2 (ReLU); sum = d1 + d2 -> out (softmax, MCXENT unless {@code mse}). */
    static ComputationGraph graph(IUpdater updater, double hiddenBias, boolean mse) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .updater(updater).weightInit(WeightInit.RELU).graphBuilder()
                .addInputs("in").setInputTypes(InputType.feedForward(FEATURES))
                .addLayer("d1", new DenseLayer.Builder().nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build(), "in")
                .addLayer("d2", new DenseLayer.Builder().nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build(), "d1")
                .addVertex("sum", new ElementWiseVertex(ElementWiseVertex.Op.Add), "d1", "d2")
                .addLayer("out", new OutputLayer.Builder(mse ? LossFunctions.LossFunction.MSE : LossFunctions.LossFunction.MCXENT)
                        .nOut(CLASSES).activation(Activation.SOFTMAX).build(), "sum")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    @Test
    void deadReluBiasOnAGraphIsDyingReluAndTrainingGoesOn() {
        ComputationGraph g = graph(new Sgd(0.01), -10.0, false);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage).attach()) {
            g.fit(iterator(data(1)), 6);
            assertThat(g.getIterationCount()).isEqualTo(6 * BATCHES);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).filteredOn(x -> x.detector().equals(DyingReluDetector.ID)).singleElement().satisfies(x -> {
                assertThat(x.severity()).isEqualTo("ERROR");
                assertThat(x.from()).isEqualTo(0);
                // named by vertex, not by position among the layer vertices ("Layer 0")
                assertThat(x.message()).matches("Layer d[12] \\(rectified\\) outputs zero .*");
            });
            assertThat(l.window().latestSampled().activationLayers()).containsExactly("d1", "d2", "out");
            assertThat(f).noneMatch(x -> x.detector().equals(NonFiniteDetector.ID));
        }
    }

    @Test
    void aNaNBatchOnAGraphIsNonFiniteAtItsStep() {
        ComputationGraph g = graph(new Sgd(0.01), 0.0, false);
        List<DataSet> batches = new ArrayList<>(data(1).batchBy(BATCH));
        batches.get(4).getFeatures().putScalar(3, 2, Double.NaN);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage).attach()) {
            g.fit(new ListDataSetIterator<>(batches, 1), 1); // each element is a batch
            assertThat(findings(storage, l)).filteredOn(x -> x.detector().equals(NonFiniteDetector.ID)).first()
                    .satisfies(x -> {
                        assertThat(x.severity()).isEqualTo("ERROR");
                        assertThat(x.from()).isEqualTo(4);
                    });
        }
    }

    @Test
    void softmaxWithMseOnAGraphIsCaughtByTheLint() {
        ComputationGraph g = graph(new Sgd(0.01), 0.0, true);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage).attach()) {
            g.fit(iterator(data(1)), 1);
            assertThat(findings(storage, l)).filteredOn(x -> x.detector().equals("config-loss-activation"))
                    .singleElement().satisfies(x -> assertThat(x.severity()).isEqualTo("ERROR"));
        }
    }

    @Test
    void aHealthyGraphRunIsSilentAndItsSignalsAreTheGraphs() {
        ComputationGraph g = graph(new Sgd(0.01), 0.0, false);
        DataSet held = heldOut(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage).validation(held).plannedEpochs(10).attach()) {
            g.fit(iterator(data(1)), 10);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).as("findings of a healthy graph run: %s", f).isEmpty();
            assertThat(g.score(held)).isLessThan(0.3);
            assertThat(l.window().epochs()).hasSize(10);
            assertThat(l.window().epochs().get(9).validationLoss()).isCloseTo(g.score(held),
                    org.assertj.core.data.Offset.offset(1e-6));
            // the sampled signals were collected from the graph: every layer vertex, in topological order
            StepSignals s = l.window().latestSampled();
            assertThat(s.layerNames()).containsExactly("layer d1", "layer d2", "layer out");
            assertThat(java.util.Arrays.stream(s.gradientNorms())).hasSize(3).allMatch(x -> x > 0);
            assertThat(java.util.Arrays.stream(s.updateNorms())).hasSize(3).allMatch(x -> x > 0);
            assertThat(s.zeroFractions()[0]).isBetween(0.05, 0.95);
            assertThat(s.zeroFractions()[1]).isBetween(0.05, 0.95);
            assertThat(s.predictedClasses()).hasSize(BATCH);
            assertThat(s.labelClasses()).hasSize(BATCH);
        }
    }

    @Test
    void predictedAndLabelClassesOnAGraphAreTheOutputsArgMaxAndTheBatchsLabels() {
        // learning rate 0: the forward pass the listener sees and the output after the step are the same function
        ComputationGraph g = graph(new Sgd(0.0), 0.0, false);
        List<DataSet> batches = data(1).batchBy(BATCH);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage).schedule(Schedule.iterations(1)).attach()) {
            for (int b = 0; b < 3; b++) { // three different batches: the labels must be each step's own
                g.fit(batches.get(b));
                StepSignals s = l.window().latest();
                assertThat(s.predictedClasses()).containsExactly(Signals.classes(g.outputSingle(batches.get(b).getFeatures())));
                assertThat(s.labelClasses()).containsExactly(Signals.classes(batches.get(b).getLabels()));
            }
        }
    }

    @Test
    void aUserWindowAssertionWithStopStopsGraphTraining() {
        ComputationGraph g = graph(new Sgd(0.01), 0.0, false);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(g, storage)
                .assertThat("stop-at-step-7", "Reached step 7", w -> w.latest().step() >= 7 ? Severity.ERROR : Severity.NONE)
                .action("stop-at-step-7", AssertionListener.Action.STOP).attach()) {
            assertThatThrownBy(() -> g.fit(iterator(data(1)), 5)).isInstanceOf(AssertionStopException.class);
            assertThat(g.getIterationCount()).isEqualTo(8);
            assertThat(findings(storage, l)).singleElement().satisfies(x -> {
                assertThat(x.detector()).isEqualTo("stop-at-step-7");
                assertThat(x.action()).isEqualTo("stop");
            });
        }
    }

    @Test
    void perExampleAssertionsOnAGraphNameThePlantedExamplesWithTheirLabels() {
        DataSet ds = ExampleAssertionsTest.planted();
        ComputationGraph g = graph(new Sgd(0.01), 0.0, false);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AssertionListener l = ModelAssertions.builder(g, storage)
                .assertExamples("large-input", "First feature above 10", ExampleAssertionsTest::large)
                .action("large-input", AssertionListener.Action.SEND_TO_SUSPECTS).build();
        g.addListeners(l);
        try (l) {
            g.fit(new ListDataSetIterator<>(ds.asList(), BATCH), 1);
            List<DataSet> shuffled = new ArrayList<>(ds.asList());
            Collections.shuffle(shuffled, new java.util.Random(11));
            g.fit(new ListDataSetIterator<>(shuffled, BATCH), 1);
            List<AssertionFinding> f = findings(storage, l).stream().filter(r -> r.detector().equals("large-input")).toList();
            assertThat(f).as("%s", f).hasSize(2);
            for (AssertionFinding x : f) {
                assertThat(x.identity()).isEqualTo("content-hash");
                assertThat(x.indices()).containsExactly(250, 141, 77, 50, 3);
                // the given class is the example's own label (read at the gradient calculation, this batch's)
                for (AssertionFinding.Example e : x.examples()) {
                    assertThat(e.given()).isEqualTo(ds.getLabels().getRow(e.index()).argMax().getInt(0));
                }
                assertThat(x.did("send-to-suspects")).isTrue();
            }
        }
    }

    @Test
    void everyPartOfTheListenerKeepsGraphTrainingBitIdentical(@TempDir Path tmp) throws Exception {
        DataSet held = heldOut(1);
        held.getFeatures().putScalar(7, 0, 30);
        ComputationGraph bare = graph(new Sgd(0.01), 0.0, false);
        bare.fit(iterator(data(1)), 3);
        ComputationGraph watched = graph(new Sgd(0.01), 0.0, false);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(watched, storage)
                .schedule(Schedule.iterations(1))
                .validation(held)
                .assertThat("step-12", "Reached step 12", w -> w.latest().step() == 12 ? Severity.WARNING : Severity.NONE)
                .action("step-12", AssertionListener.Action.LOG, AssertionListener.Action.CHECKPOINT)
                .assertExamples("confident", "Confident", (x, out, y) -> out.maxNumber().doubleValue() > 0.9 ? 1 : 0)
                .assertExamples("held-large", "Held-out first feature above 10", ExampleAssertionsTest::large, held,
                        Schedule.epochs(1))
                .action("held-large", AssertionListener.Action.SEND_TO_SUSPECTS)
                .assertTimeConsistency("flicker", "Flickers", held, 2, 0)
                .checkpointDirectory(tmp).attach()) {
            watched.fit(iterator(data(1)), 3);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).extracting(AssertionFinding::detector).contains("step-12", "held-large");
            AssertionFinding cp = f.stream().filter(x -> x.detector().equals("step-12")).findFirst().orElseThrow();
            File file = tmp.resolve(cp.checkpoint()).toFile();
            assertThat(file).exists();
            assertThat(cp.checkpoint()).isEqualTo("step-12-epoch1-iter12.zip");
            ComputationGraph restored = ModelSerializer.restoreComputationGraph(file, true);
            assertThat(restored.numParams()).isEqualTo(watched.numParams());
            assertThat(restored.params().equalsWithEps(watched.params(), 0.0)).as("saved mid-training").isFalse();
            AssertionFinding h = f.stream().filter(x -> x.detector().equals("held-large")).findFirst().orElseThrow();
            assertThat(h.source()).isEqualTo("held-out");
            assertThat(h.indices()).containsExactly(7);
            assertThat(storage.getAllUpdatesAfter(l.sessionId(), MonitorError.TYPE_ID, 0)).as("no monitor fault").isEmpty();
        }
        INDArray a = watched.params();
        assertThat(a.equalsWithEps(bare.params(), 0.0)).isTrue();
    }
}
