package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.probes.memorization.CriticalSamples;
import dev.stethoscope.probes.memorization.CsrResult;
import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.probes.memorization.LossSensitivity;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class MemorizationListenerTest {
    static final DataSet ALL = TestNets.blobs(7, 352, 8, 3);
    /** First 256 examples train, the other 96 (same blobs, never trained on) validate. */
    static final DataSet TRAIN = new DataSet(ALL.getFeatures().getRows(range(0, 256)), ALL.getLabels().getRows(range(0, 256)));
    static final DataSet VAL = new DataSet(ALL.getFeatures().getRows(range(256, 352)), ALL.getLabels().getRows(range(256, 352)));
    static final LassParameters LASS = LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY,
            Double.POSITIVE_INFINITY).withRadius(0.6).withAlpha(0.1).withBeta(0.05).withMaxIterations(15).withSeed(3);

    private static DataSetIterator train() {
        return new ListDataSetIterator<>(TRAIN.asList(), 32);
    }

    private static MemorizationListener.Builder builder(MultiLayerNetwork net, InMemoryStatsStorage storage) {
        return MemorizationListener.builder(net, storage).training(train()).validation(VAL)
                .trainingSize(64).validationSize(80).lass(LASS).csrBatchSize(50);
    }

    @ParameterizedTest(name = "async={0}")
    @ValueSource(booleans = {true, false})
    void publishesOneRecordPerEpochAndASensitivityRecordEveryNIterations(boolean async) {
        MultiLayerNetwork net = TestNets.mlp(42, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        MemorizationListener l = builder(net, storage).sensitivitySchedule(Schedule.iterations(3)).async(async).maxPending(2).attach();
        net.fit(train(), 2);
        if (async) {
            l.close(); // publishes what the background thread still computes
        }

        List<Persistable> epochs = storage.getAllUpdatesAfter(l.sessionId(), Memorization.TYPE_ID, 0);
        assertThat(epochs).hasSize(2);
        for (Persistable p : epochs) {
            Memorization r = ((StethoscopeRecord) p).payload(Memorization.class);
            assertThat(r.csrExamples()).isEqualTo(80);
            assertThat(r.criticalSampleRatio()).isEqualTo(r.criticalCount() / 80.0);
            assertThat(r.parameters()).containsEntry("radius", "0.6").containsEntry("maxIterations", "15")
                    .containsEntry("csrExamples", "80").containsKey("gradientDirection");
            assertThat(r.csrRadius()).isEqualTo(0.6);
            assertThat(r.csrPreset()).isEqualTo("custom");
            assertThat(r.trainExamples()).isEqualTo(64);
            assertThat(r.valAccuracy()).isBetween(0.0, 1.0);
            assertThat(r.trainLoss()).isPositive();
            assertThat(r.trainScoreMean()).isPositive();
            assertThat(r.numClasses()).isEqualTo(3);
            for (double v : r.perClassSensitivity()) {
                assertThat(v).isPositive();
            }
            assertThat(r.sensitivityGini()).isBetween(0.0, 1.0);
            // 8 iterations per epoch, every 3rd: iterations 0,3,6 then 9,12,15
            assertThat(r.sensitivityMeasurements()).isEqualTo(3);
        }
        assertThat(storage.getAllUpdatesAfter(l.sessionId(), LossSensitivitySample.TYPE_ID, 0)).hasSize(6);
        assertThat(l.errorCount()).isZero();

        // the last record equals the probes' results on the final parameters (same seed, same subsets)
        Memorization last = ((StethoscopeRecord) epochs.get(1)).payload(Memorization.class);
        MultiLayerNetwork copy = InputGradients.analysisCopy(net).multiLayer();
        DataSet v = new DataSet(VAL.getFeatures().getRows(rows(80)), VAL.getLabels().getRows(rows(80)));
        CsrResult csr = CriticalSamples.search(copy, v.getFeatures(), LASS, 50, false);
        assertThat(last.criticalSampleRatio()).isEqualTo(csr.criticalSampleRatio());
        assertThat(last.csrCertified()).isEqualTo(csr.numCertified());
        assertThat(last.parameters()).containsEntry("certify", "true");
        DataSet t = new DataSet(TRAIN.getFeatures().getRows(rows(64)), TRAIN.getLabels().getRows(rows(64)));
        double[][] m = LossSensitivity.perClassMatrix(copy, t.getFeatures(), t.getLabels());
        assertThat(last.perClassSensitivity(2, 1)).isCloseTo(m[2][1], within(1e-5 * m[2][1]));
        // trained on separable blobs: validation accuracy well above chance
        assertThat(last.valAccuracy()).isGreaterThan(0.6);
    }

    @Test
    void trainingIsIdenticalWithAndWithoutTheListener() {
        MultiLayerNetwork plain = TestNets.mlp(123, 8, 16, 12, 3);
        MultiLayerNetwork watched = TestNets.mlp(123, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        MemorizationListener l = builder(watched, storage).sensitivitySchedule(Schedule.iterations(1)).failFast(true).attach();
        plain.fit(train(), 2);
        watched.fit(train(), 2);
        l.close();
        assertThat(storage.getAllUpdatesAfter(l.sessionId(), LossSensitivitySample.TYPE_ID, 0)).hasSize(16);
        assertThat(watched.params().equals(plain.params())).as("parameters after training").isTrue();
        assertThat(watched.getUpdater().getStateViewArray()).isEqualTo(plain.getUpdater().getStateViewArray());
        assertThat(watched.score()).isEqualTo(plain.score());
    }

    @Test
    void recordsRoundTripAndAreRegistered() {
        StethoscopeRecord r = StethoscopeRecord.of(Memorization.builder().csr(0.25, 20, 80, 4.5, 12).csrCertified(51)
                .csrRadius(4.0 / 255, "default")
                .train(0.9, 0.3, 64, 0.35).validation(0.8, 0.5, 80).sensitivity(0.3, 0.31, 1.2, 3)
                .perClass(new double[][]{{1, 2}, {Double.NaN, 4}}).parameters(LASS.asMap()).build());
        r.setKey("s", "0/memorization", 10, 1, 16);
        StethoscopeRecord rb = RecordTypes.newRecord(Memorization.TYPE_ID);
        rb.decode(r.encode());
        assertThat(rb.toJson()).isEqualTo(r.toJson());
        Memorization back = rb.payload(Memorization.class);
        assertThat(back.perClassSensitivity(1, 0)).isNaN();
        assertThat(back.perClassSensitivity(0, 1)).isEqualTo(2.0);
        assertThat(back.parameters()).isEqualTo(LASS.asMap());
        assertThat(back.csrCertified()).isEqualTo(51);
        assertThat(back.csrRadius()).isEqualTo(4.0 / 255);
        assertThat(back.csrPreset()).isEqualTo("default");
        StethoscopeRecord s = StethoscopeRecord.of(new LossSensitivitySample(1.5, 0.2, 0.25, 64));
        s.setKey("s", "0/memorization", 11, 1, 16);
        StethoscopeRecord s2 = RecordTypes.newRecord(LossSensitivitySample.TYPE_ID);
        s2.decode(s.encode());
        assertThat(s2.toJson()).isEqualTo(s.toJson());
    }

    @Test
    void badConfigurationFailsAtBuildTime() {
        MultiLayerNetwork net = TestNets.mlp(1, 8, 16, 12, 3);
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        assertThatThrownBy(() -> MemorizationListener.builder(net, st).training(train()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("validation");
        // blobs are not in [0,1]: the default LASS input range is refused with the fix in the message
        assertThatThrownBy(() -> MemorizationListener.builder(net, st).training(train()).validation(VAL).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("withInputRange");
        assertThatThrownBy(() -> builder(net, st).sensitivitySchedule(Schedule.iterations(0))).isInstanceOf(IllegalArgumentException.class);
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .addLayer("out", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(8).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "in")
                .setOutputs("out").build();
        var cg = new org.deeplearning4j.nn.graph.ComputationGraph(conf);
        cg.init();
        // one input, one output layer: accepted
        MemorizationListener.builder(cg, st);
        var two = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().graphBuilder().addInputs("a", "b")
                .addVertex("cat", new org.deeplearning4j.nn.conf.graph.MergeVertex(), "a", "b")
                .addLayer("out", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(8).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        var cg2 = new org.deeplearning4j.nn.graph.ComputationGraph(two);
        cg2.init();
        // two inputs: accepted, but its data must have one features array per input (MultiInputMemorizationTest)
        assertThatThrownBy(() -> MemorizationListener.builder(cg2, st).training(train()).validation(VAL)
                .lass(LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY))
                .build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 input array(s) [a, b]");
        var twoOut = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .addLayer("o1", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(8).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "in")
                .addLayer("o2", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nIn(8).nOut(3)
                        .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "in")
                .setOutputs("o1", "o2").build();
        var cg3 = new org.deeplearning4j.nn.graph.ComputationGraph(twoOut);
        cg3.init();
        assertThatThrownBy(() -> MemorizationListener.builder(cg3, st))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("outputs [o1, o2]");
    }

    /**
     * A graph equivalent to the MLP (same layers in a chain, same parameters) trained with the monitor publishes
     * what the MLP's probes give on the graph's final parameters: CSR (with certification), per-class loss
     * sensitivity, accuracies; and the graph's training is bit-identical with and without the monitor.
     */
    @Test
    void onAGraphEquivalentToAnMlpTheRecordIsTheMlps() {
        var graph = TestNets.asGraph(TestNets.mlp(42, 8, 16, 12, 3));
        var plain = TestNets.asGraph(TestNets.mlp(42, 8, 16, 12, 3));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        MemorizationListener l = MemorizationListener.builder(graph, storage).training(train()).validation(VAL)
                .trainingSize(64).validationSize(80).lass(LASS).csrBatchSize(50)
                .sensitivitySchedule(Schedule.iterations(3)).failFast(true).attach();
        graph.fit(train(), 2);
        plain.fit(train(), 2);
        l.close();
        assertThat(l.errorCount()).isZero();
        assertThat(graph.params()).isEqualTo(plain.params());
        assertThat(graph.getUpdater().getStateViewArray()).isEqualTo(plain.getUpdater().getStateViewArray());

        List<Persistable> epochs = storage.getAllUpdatesAfter(l.sessionId(), Memorization.TYPE_ID, 0);
        assertThat(epochs).hasSize(2);
        assertThat(storage.getAllUpdatesAfter(l.sessionId(), LossSensitivitySample.TYPE_ID, 0)).hasSize(6);
        Memorization last = ((StethoscopeRecord) epochs.get(1)).payload(Memorization.class);
        MultiLayerNetwork same = TestNets.mlp(42, 8, 16, 12, 3);
        same.setParams(graph.params().dup());
        MultiLayerNetwork copy = InputGradients.analysisCopy(same).multiLayer();
        DataSet v = new DataSet(VAL.getFeatures().getRows(rows(80)), VAL.getLabels().getRows(rows(80)));
        CsrResult csr = CriticalSamples.search(copy, v.getFeatures(), LASS, 50, false);
        assertThat(last.criticalSampleRatio()).isEqualTo(csr.criticalSampleRatio());
        assertThat(last.csrCertified()).isEqualTo(csr.numCertified()).isPositive();
        DataSet t = new DataSet(TRAIN.getFeatures().getRows(rows(64)), TRAIN.getLabels().getRows(rows(64)));
        double[][] m = LossSensitivity.perClassMatrix(copy, t.getFeatures(), t.getLabels());
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                assertThat(last.perClassSensitivity(i, j)).isCloseTo(m[i][j], within(1e-4 * m[i][j]));
            }
        }
        assertThat(last.valAccuracy()).isEqualTo(MemorizationListenerTestAccess.accuracy(same, v));
        assertThat(last.valAccuracy()).isGreaterThan(0.6);
    }

    /** Accuracy of {@code net} on {@code d}. */
    private static final class MemorizationListenerTestAccess {
        static double accuracy(MultiLayerNetwork net, DataSet d) {
            int[] p = InputGradients.argmax(net.output(d.getFeatures(), false));
            int[] y = InputGradients.argmax(d.getLabels());
            int ok = 0;
            for (int i = 0; i < p.length; i++) {
                ok += p[i] == y[i] ? 1 : 0;
            }
            return ok / (double) p.length;
        }
    }

    private static int[] rows(int n) {
        return range(0, n);
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }
}
