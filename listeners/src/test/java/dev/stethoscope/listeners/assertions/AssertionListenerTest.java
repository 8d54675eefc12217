package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.TestNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.assertions.DyingReluDetector;
import dev.stethoscope.probes.assertions.NonFiniteDetector;
import dev.stethoscope.probes.assertions.PredictionCollapseDetector;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.probes.assertions.Signals;
import dev.stethoscope.probes.assertions.StepSignals;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link AssertionListener} on tiny real trainings: injected faults (ReLU bias -10, learning rate
 * 10) are published as findings while training goes on; a healthy run has no ERROR; a user
 * assertion with the stop action stops {@code fit} and the run file holds its record.
 */
class AssertionListenerTest {
    static final int FEATURES = 16;
    static final int CLASSES = 4;
    static final int BATCH = 32;
    static final int BATCHES = 10;

    static MultiLayerNetwork net(IUpdater updater, double hiddenBias) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT).updater(updater)
                .weightInit(WeightInit.RELU).list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build())
                .layer(new DenseLayer.Builder().nIn(32).nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(32).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** The training blobs (seed 1): {@value #BATCHES} batches. */
    static DataSet data(long seed) {
        return blobs(seed).splitTestAndTrain(BATCH * BATCHES).getTrain();
    }

    /** Held-out examples of the same blobs as {@link #data}. */
    static DataSet heldOut(long seed) {
        return blobs(seed).splitTestAndTrain(BATCH * BATCHES).getTest();
    }

    private static DataSet blobs(long seed) {
        DataSet ds = TestNets.blobs(seed, BATCH * BATCHES + 160, FEATURES, CLASSES);
        ds.shuffle(seed);
        return ds;
    }

    static DataSetIterator iterator(DataSet ds) {
        return new ListDataSetIterator<>(ds.asList(), BATCH);
    }

    static List<AssertionFinding> findings(StatsStorage storage, AssertionListener l) {
        List<StethoscopeRecord> rs = RecordReader.updates(storage, l.sessionId(), AssertionFinding.TYPE_ID, 0);
        return StethoscopeRecord.payloads(rs, AssertionFinding.class);
    }

    @Test
    void negativeReluBiasIsPublishedAsDyingReluAndTrainingGoesOn() {
        MultiLayerNetwork net = net(new Sgd(0.01), -10.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // the default schedule samples every 20th step: 15 epochs of 10 steps give dying-relu's 3 samples
        // (steps 0, 20, 40) and prediction-collapse's 50-step warm-up plus 3 samples
        try (AssertionListener l = ModelAssertions.builder(net, storage).attach()) {
            net.fit(iterator(data(1)), 15);
            assertThat(net.getIterationCount()).as("training went on to the end").isEqualTo(15 * BATCHES);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).filteredOn(x -> x.detector().equals(DyingReluDetector.ID)).singleElement().satisfies(x -> {
                assertThat(x.severity()).isEqualTo("ERROR");
                assertThat(x.unit()).isEqualTo("step");
                assertThat(x.from()).isEqualTo(0);
                assertThat(x.user()).isFalse();
                assertThat(x.action()).isEqualTo("log");
            });
            // every unit is dead, so the output is the bias alone: one class for every example (the rule waits 50 steps)
            assertThat(f).extracting(AssertionFinding::detector).contains(PredictionCollapseDetector.ID);
            assertThat(l.findingsPublished()).isEqualTo(f.size());
        }
    }

    @Test
    void learningRateTenIsNonFiniteAndTrainingGoesOn() {
        MultiLayerNetwork net = net(new Sgd(10), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage).attach()) {
            // 3 epochs: the run goes non-finite between samples and the sampled parameters/activations show it at step 20
            net.fit(iterator(data(1)), 3);
            assertThat(net.getIterationCount()).isEqualTo(3 * BATCHES);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).extracting(AssertionFinding::detector).contains("config-learning-rate", NonFiniteDetector.ID);
            assertThat(f).filteredOn(x -> x.detector().equals("config-learning-rate")).singleElement()
                    .satisfies(x -> assertThat(x.unit()).isEqualTo("attach"));
            assertThat(f).filteredOn(x -> x.detector().equals(NonFiniteDetector.ID)).first()
                    .satisfies(x -> assertThat(x.severity()).isEqualTo("ERROR"));
        }
    }

    @Test
    void healthyRunPublishesNoError() {
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        DataSet train = data(1);
        DataSet held = heldOut(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage).validation(held).plannedEpochs(10).attach()) {
            net.fit(iterator(train), 10);
            List<AssertionFinding> f = findings(storage, l);
            assertThat(f).as("findings of a healthy run: %s", f).noneMatch(x -> x.severity().equals("ERROR"));
            assertThat(f).as("no finding at all on this run").isEmpty();
            // it learned, and the epoch signals were collected: 10 epochs, validation loss as the trained net scores it
            assertThat(net.score(held)).isLessThan(0.3);
            assertThat(l.window().epochs()).hasSize(10);
            assertThat(l.window().epochs().get(9).validationLoss()).isCloseTo(net.score(held), org.assertj.core.data.Offset.offset(1e-6));
            assertThat(l.window().epochs().get(9).trainLoss()).isLessThan(l.window().epochs().get(0).trainLoss());
        }
    }

    @Test
    void trainingIsBitIdenticalWithAndWithoutTheListener() {
        MultiLayerNetwork bare = net(new Sgd(0.01), 0.0);
        bare.fit(iterator(data(1)), 2);
        MultiLayerNetwork watched = net(new Sgd(0.01), 0.0);
        try (AssertionListener l = ModelAssertions.builder(watched, new InMemoryStatsStorage()).validation(heldOut(1)).attach()) {
            watched.fit(iterator(data(1)), 2);
        }
        assertThat(watched.params()).isEqualTo(bare.params());
    }

    @Test
    void predictedClassesAreTheOutputsArgMax() {
        // learning rate 0: the forward pass the listener sees and the output after the step are the same function
        MultiLayerNetwork net = net(new Sgd(0.0), 0.0);
        DataSet ds = data(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage).attach()) {
            DataSet batch = ds.asList().subList(0, BATCH).stream().collect(java.util.stream.Collectors.collectingAndThen(
                    java.util.stream.Collectors.toList(), DataSet::merge));
            net.fit(batch);
            StepSignals s = l.window().latest();
            assertThat(s.predictedClasses()).containsExactly(Signals.classes(net.output(batch.getFeatures())));
            assertThat(s.labelClasses()).containsExactly(Signals.classes(batch.getLabels()));
            assertThat(java.util.Arrays.stream(s.gradientNorms())).hasSize(3).allMatch(g -> g > 0);
            assertThat(s.updateNorms()).containsOnly(0.0);
            assertThat(s.zeroFractions()[0]).isBetween(0.05, 0.95);
        }
    }

    @Test
    void userAssertionWithStopActionStopsTrainingAndTheRunFileHoldsItsRecord(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("run.dl4j");
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        FileStatsStorage storage = new FileStatsStorage(file.toFile());
        String session;
        AssertionListener l = ModelAssertions.builder(net, storage)
                .assertThat("stop-at-step-7", "Reached step 7 <b>&amp;</b>", w -> w.latest().step() >= 7 ? Severity.ERROR : Severity.NONE)
                .action("stop-at-step-7", AssertionListener.Action.STOP)
                .attach();
        try {
            session = l.sessionId();
            assertThatThrownBy(() -> net.fit(iterator(data(1)), 5)).isInstanceOf(AssertionStopException.class)
                    .satisfies(e -> assertThat(((AssertionStopException) e).finding().detector()).isEqualTo("stop-at-step-7"));
            assertThat(net.getIterationCount()).as("stopped right after step 7").isEqualTo(8);
            // the network is still usable: predictions are finite, and fit goes on (the episode does not fire twice)
            assertThat(net.output(heldOut(1).getFeatures()).isNaN().any()).isFalse();
            net.fit(iterator(data(1)), 1);
            assertThat(net.getIterationCount()).isEqualTo(8 + BATCHES);
        } finally {
            l.close();
            storage.close();
        }
        FileStatsStorage reopened = new FileStatsStorage(file.toFile());
        try {
            List<AssertionFinding> f = StethoscopeRecord.payloads(
                    RecordReader.updates(reopened, session, AssertionFinding.TYPE_ID, 0), AssertionFinding.class);
            assertThat(f).singleElement().satisfies(x -> {
                assertThat(x.detector()).isEqualTo("stop-at-step-7");
                assertThat(x.user()).isTrue();
                assertThat(x.action()).isEqualTo("stop");
                assertThat(x.severity()).isEqualTo("ERROR");
                assertThat(x.from()).isEqualTo(7);
                assertThat(x.message()).isEqualTo("Reached step 7 <b>&amp;</b>");
            });
        } finally {
            reopened.close();
        }
    }

    @Test
    void epochAssertionOverAValidationIteratorStopsAtTheNextEpochStart() {
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        DataSetIterator held = new ListDataSetIterator<>(heldOut(1).asList(), 50);
        try (AssertionListener l = ModelAssertions.builder(net, storage).validation(held)
                .assertThatEpochs("two-validated-epochs", "Two epochs with a validation loss",
                        w -> w.epochs().size() >= 2 && Double.isFinite(w.epochs().get(w.epochs().size() - 1).validationLoss())
                                ? Severity.WARNING : Severity.NONE)
                .action("two-validated-epochs", AssertionListener.Action.STOP).attach()) {
            assertThatThrownBy(() -> net.fit(iterator(data(1)), 10)).isInstanceOf(AssertionStopException.class);
            // it fired at the end of epoch 1 (the second): two whole epochs ran, the third did not start
            assertThat(net.getEpochCount()).isEqualTo(2);
            assertThat(net.getIterationCount()).isEqualTo(2 * BATCHES);
            assertThat(l.window().epochs()).hasSize(2);
            // the validation loss over the iterator (weighted by batch size) is the loss over all held-out examples
            double all = net.score(heldOut(1));
            assertThat(l.window().epochs().get(1).validationLoss()).isCloseTo(all, org.assertj.core.data.Offset.offset(1e-4));
            assertThat(findings(storage, l)).filteredOn(AssertionFinding::user).singleElement().satisfies(x -> {
                assertThat(x.unit()).isEqualTo("epoch");
                assertThat(x.from()).isEqualTo(1);
                assertThat(x.action()).isEqualTo("stop");
            });
        }
    }

    @Test
    void aFaultInTheListenerIsPublishedAndTrainingGoesOnToTheSameParameters() {
        MultiLayerNetwork bare = net(new Sgd(0.01), 0.0);
        bare.fit(iterator(data(1)), 2);
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage).build()) {
            l.setFaultHook((m, phase, bg) -> {
                throw new IllegalStateException("injected in " + phase);
            });
            l.attach();
            net.fit(iterator(data(1)), 2);
            // guarded (so faulted): onForwardPass (the lint never completes) and iterationDone at every step,
            // onGradientCalculation on the sampled step 0 only (nothing runs there between samples), onEpochEnd
            assertThat(l.errorCount()).isEqualTo(2 * BATCHES * 2 + 1 + 2);
            assertThat(StethoscopeRecord.payloads(RecordReader.updates(storage, l.sessionId(),
                    dev.stethoscope.listeners.records.MonitorError.TYPE_ID, 0), dev.stethoscope.listeners.records.MonitorError.class))
                    .isNotEmpty().allSatisfy(e -> assertThat(e.monitor()).isEqualTo("assertions"));
        }
        assertThat(net.params()).isEqualTo(bare.params());
    }

    @Test
    void theStethoscopeHandleAttachesAndClosesIt() {
        MultiLayerNetwork net = net(new Sgd(0.01), -10.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (dev.stethoscope.listeners.Stethoscope s = dev.stethoscope.listeners.Stethoscope.attach(net, storage,
                ModelAssertions.builder(net, storage).schedule(Schedule.iterations(1)))) {
            net.fit(iterator(data(1)), 1);
            AssertionListener l = s.monitor(AssertionListener.class);
            assertThat(findings(storage, l)).extracting(AssertionFinding::detector).contains(DyingReluDetector.ID);
        }
    }

    @Test
    void stepsBetweenSamplesEvaluatedInABurstGiveTheSameFindingsAsStepByStep() {
        // learning rate 1e-7: no-progress fires at step 99 (a loss rule over 100 steps) and update-ratio on samples
        List<String> burst = findingsOf(false);
        List<String> stepByStep = findingsOf(true);
        assertThat(burst).contains("no-progress WARNING step 80..99").isEqualTo(stepByStep);
    }

    /** Findings (detector, severity, range) of a 1e-7 run; {@code everyStep}: a user step assertion forces step-by-step evaluation. */
    private static List<String> findingsOf(boolean everyStep) {
        MultiLayerNetwork net = net(new Sgd(1e-7), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // 40 planned epochs: the epoch rule of no-progress waits 12 epochs, so its step rule fires first (step 99)
        AssertionListener.Builder b = ModelAssertions.builder(net, storage).without("config-learning-rate").plannedEpochs(40);
        if (everyStep) {
            b.assertThat("never", w -> Severity.NONE);
        } else {
            b.assertThatEpochs("never", "never", w -> Severity.NONE);
        }
        try (AssertionListener l = b.attach()) {
            net.fit(iterator(data(1)), 15);
            return findings(storage, l).stream().map(x -> x.detector() + " " + x.severity() + " " + x.unit() + " "
                    + x.from() + ".." + x.to()).toList();
        }
    }

    @Test
    void withoutTurnsABuiltInOffAndTheScheduleThinsTheSteps() {
        MultiLayerNetwork net = net(new Sgd(0.01), -10.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage).without(DyingReluDetector.ID)
                .schedule(Schedule.iterations(2)).attach()) {
            net.fit(iterator(data(1)), 2);
            assertThat(findings(storage, l)).extracting(AssertionFinding::detector).doesNotContain(DyingReluDetector.ID)
                    .isNotEmpty();
            // every step is seen (the loss), the sampled signals only at every 2nd iteration
            assertThat(l.window().stepsSeen()).isEqualTo(2L * BATCHES);
            assertThat(l.window().sampledSteps()).hasSize(BATCHES).allMatch(s -> s.step() % 2 == 0);
            assertThat(l.window().steps()).filteredOn(s -> s.step() % 2 == 1)
                    .isNotEmpty().allMatch(s -> !s.sampled() && Double.isFinite(s.loss()));
        }
    }

    @Test
    void badConfigurationFailsInBuildListingTheValidChoices() {
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage).without("dying-reLU"))
                .hasMessageContaining("dying-relu").hasMessageContaining("non-finite");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage).action("mine", AssertionListener.Action.STOP).build())
                .hasMessageContaining("unknown assertion 'mine'").hasMessageContaining("exploding-gradients");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage).assertThat("non-finite", w -> Severity.NONE))
                .hasMessageContaining("taken");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage).schedule(Schedule.epochs(1)).build())
                .hasMessageContaining("ITERATIONS");
    }
}
