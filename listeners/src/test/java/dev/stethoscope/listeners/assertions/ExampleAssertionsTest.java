package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.TestNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.probes.assertions.Severity;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.stethoscope.listeners.assertions.AssertionListenerTest.BATCH;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.CLASSES;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.FEATURES;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.findings;
import static dev.stethoscope.listeners.assertions.AssertionListenerTest.net;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The per-example, time-consistency and action parts of {@link AssertionListener} on tiny real
 * trainings: planted examples are flagged exactly (by example index through the tracked iterator,
 * by content hash with addListeners alone, also after reshuffling, by DataVec metadata, by row on a
 * held-out set; on augmented data the per-example part stops with one MonitorError, never throws), the output handed to the assertion is
 * the training forward pass's, a planted flipping example is the only one the time-consistency
 * assertion names, and a checkpoint is written at the firing and loads back with the parameters
 * the network had then, while training stays bit-identical.
 */
class ExampleAssertionsTest {
    /** Rows of {@link #planted()} whose first feature is set to 20 + k (k = 0..4). */
    static final long[] PLANTED = {3, 50, 77, 141, 250};
    /** Outputs the assertion saw for the first batch (filled by the lambda; static so it is not captured). */
    static final List<INDArray> SEEN = Collections.synchronizedList(new ArrayList<>());
    static final AtomicReference<float[]> PARAMS_AT_FIRING = new AtomicReference<>();

    /** The training blobs with {@link #PLANTED} rows carrying a large first feature. */
    static DataSet planted() {
        DataSet ds = AssertionListenerTest.data(1);
        for (int k = 0; k < PLANTED.length; k++) {
            ds.getFeatures().putScalar(PLANTED[k], 0, 20 + k);
        }
        return ds;
    }

    /** Severity = the first feature when it is above 10 (the planted rows). */
    static double large(INDArray x, INDArray out, INDArray y) {
        return x.getDouble(0) > 10 ? x.getDouble(0) : 0;
    }

    @Test
    void aTrainingBatchAssertionFlagsExactlyThePlantedExamplesByTheirIndexTopNFirst() {
        DataSet ds = planted();
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        MultiLayerNetwork before = net.clone();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        SEEN.clear();
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertExamples("large-input", "First feature above 10", ExampleAssertionsTest::large)
                .assertExamples("first-batch-output", "never fires", (x, out, y) -> {
                    if (SEEN.size() < BATCH) {
                        SEEN.add(out.dup());
                    }
                    return 0;
                })
                .topExamples(3).attach()) {
            // shuffled, so positions and indices differ: only the tracked indices name the planted rows
            IndexedArrayIterator it = IndexedArrayIterator.builder(ds.getFeatures(), ds.getLabels()).batchSize(BATCH)
                    .shuffle(5).build();
            net.fit(l.track(it), 2);
            List<AssertionFinding> f = findings(storage, l).stream().filter(x -> x.detector().equals("large-input")).toList();
            assertThat(f).as("%s", f).hasSize(2); // one per epoch
            for (AssertionFinding x : f) {
                assertThat(x.source()).isEqualTo("training");
                assertThat(x.identity()).isEqualTo("example-index");
                assertThat(x.flagged()).isEqualTo(5);
                assertThat(x.indices()).containsExactly(250, 141, 77); // top 3 by severity 24, 23, 22
                assertThat(x.examples()).extracting(AssertionFinding.Example::severity).containsExactly(24.0, 23.0, 22.0);
                assertThat(x.examples().get(0).given()).isEqualTo(ds.getLabels().getRow(250).argMax().getInt(0));
                assertThat(x.examples().get(0).features()[0]).isEqualTo(24f, org.assertj.core.data.Offset.offset(0.2f));
                assertThat(x.featureShape()).containsExactly(FEATURES);
                assertThat(x.unit()).isEqualTo("step");
                assertThat(x.user()).isTrue();
                assertThat(x.message()).startsWith("First feature above 10 (5 training examples flagged)");
            }
            assertThat(findings(storage, l)).noneMatch(x -> x.detector().equals("first-batch-output"));
        }
        // the output handed over is the training forward pass's: for the first batch, the initial network's output
        IndexedArrayIterator again = IndexedArrayIterator.builder(ds.getFeatures(), ds.getLabels()).batchSize(BATCH)
                .shuffle(5).build();
        INDArray expected = before.output(again.next().getFeatures(), false);
        assertThat(SEEN).hasSize(BATCH);
        for (int i = 0; i < BATCH; i++) {
            assertThat(SEEN.get(i).toFloatVector()).containsExactly(expected.getRow(i).toFloatVector(),
                    org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void withAddListenersAloneExamplesAreNamedByContentHash_theSameExampleTheSameIndexAfterReshuffling() {
        DataSet ds = planted();
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AssertionListener l = ModelAssertions.builder(net, storage)
                .assertExamples("large-input", "First feature above 10", ExampleAssertionsTest::large)
                .action("large-input", AssertionListener.Action.SEND_TO_SUSPECTS).build();
        net.addListeners(l); // no track(...), no indices: a plain ListDataSetIterator
        try (l) {
            // epoch 1 in order: content-hash indices are the rows (order of first appearance)
            net.fit(new ListDataSetIterator<>(ds.asList(), BATCH), 1);
            // epoch 2 reshuffled: the planted examples are at other positions, their indices stay
            List<DataSet> shuffled = new ArrayList<>(ds.asList());
            Collections.shuffle(shuffled, new java.util.Random(11));
            long newPosition250 = -1;
            for (int i = 0; i < shuffled.size(); i++) {
                if (shuffled.get(i).getFeatures().getDouble(0) == 24.0) {
                    newPosition250 = i;
                }
            }
            assertThat(newPosition250).isNotEqualTo(250L);
            net.fit(new ListDataSetIterator<>(shuffled, BATCH), 1);
            List<AssertionFinding> f = findings(storage, l).stream().filter(r -> r.detector().equals("large-input")).toList();
            assertThat(f).as("%s", f).hasSize(2);
            for (AssertionFinding x : f) {
                assertThat(x.identity()).isEqualTo("content-hash");
                assertThat(x.namesExamples()).isTrue(); // the Suspects page lists them as markable examples
                assertThat(x.indices()).containsExactly(250, 141, 77, 50, 3);
                assertThat(x.flagged()).isEqualTo(5);
                assertThat(x.did("send-to-suspects")).isTrue();
            }
            assertThat(l.identitySource()).isEqualTo(dev.stethoscope.listeners.data.ExampleIdentity.Source.CONTENT_HASH);
            assertThat(l.identityLost()).isNull();
        }
    }

    @Test
    void dataVecMetadataNamesTheExamplesWhenTheTrackedBatchesCarryIt() {
        DataSet ds = planted();
        // metadata whose locations are the rows in reverse: the names come from them, not from the content
        List<org.datavec.api.records.metadata.RecordMetaData> meta = new ArrayList<>();
        for (int i = 0; i < ds.numExamples(); i++) {
            meta.add(new org.datavec.api.records.metadata.RecordMetaDataLine(ds.numExamples() - 1 - i,
                    java.net.URI.create("file:/data/blobs.csv"), null));
        }
        ds.setExampleMetaData(meta);
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertExamples("large-input", "First feature above 10", ExampleAssertionsTest::large).attach()) {
            net.fit(l.track(new ListDataSetIterator<>(ds.asList(), BATCH)), 1);
            AssertionFinding x = findings(storage, l).stream().filter(r -> r.detector().equals("large-input"))
                    .reduce((a, b) -> b).orElseThrow();
            assertThat(x.identity()).isEqualTo("metadata");
            // metadata indices are in order of first appearance of each location: row order here
            assertThat(x.indices()).containsExactly(250, 141, 77, 50, 3);
            assertThat(l.identitySource()).isEqualTo(dev.stethoscope.listeners.data.ExampleIdentity.Source.METADATA);
        }
    }

    @Test
    void onAugmentedDataThePerExamplePartStopsWithOneMonitorErrorAndTrainingGoesOnUnchanged() {
        DataSet ds = planted();
        MultiLayerNetwork watched = net(new Sgd(0.01), 0.0);
        MultiLayerNetwork plain = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AssertionListener l = ModelAssertions.builder(watched, storage)
                .assertExamples("large-input", "First feature above 10", ExampleAssertionsTest::large).build();
        watched.addListeners(l);
        try (l) {
            for (int epoch = 0; epoch < 3; epoch++) {
                // "random augmentation": every epoch after the first, new noise on every example
                DataSet e = ds.copy();
                if (epoch > 0) {
                    e.getFeatures().addi(Nd4j.randn(DataType.FLOAT, ds.getFeatures().shape()).muli(0.01));
                }
                watched.fit(new ListDataSetIterator<>(e.asList(), BATCH), 1);
                plain.fit(new ListDataSetIterator<>(e.copy().asList(), BATCH), 1);
            }
        }
        assertThat(watched.getEpochCount()).isEqualTo(3);
        assertThat(watched.params().equalsWithEps(plain.params(), 0.0)).isTrue();
        assertThat(l.identityLost()).contains("epoch 2").contains("random augmentation");
        List<org.deeplearning4j.core.storage.Persistable> errors =
                storage.getAllUpdatesAfter(l.sessionId(), dev.stethoscope.listeners.records.MonitorError.TYPE_ID, 0);
        assertThat(errors).hasSize(1);
        dev.stethoscope.listeners.records.MonitorError err = ((dev.stethoscope.listeners.records.StethoscopeRecord)
                errors.get(0)).payload(dev.stethoscope.listeners.records.MonitorError.class);
        assertThat(err.phase()).isEqualTo("example-identity");
        assertThat(err.message()).isEqualTo(l.identityLost());
        // the first epoch's record only (its indices are right); nothing from epochs whose examples are unknown
        List<AssertionFinding> f = findings(storage, l).stream().filter(r -> r.detector().equals("large-input")).toList();
        assertThat(f).hasSize(1);
        assertThat(f.get(0).indices()).containsExactly(250, 141, 77, 50, 3);
    }

    @Test
    void aHeldOutAssertionRunsOnACopyOnItsScheduleAndNamesRows() {
        DataSet held = AssertionListenerTest.heldOut(1);
        held.getFeatures().putScalar(7, 0, 30);
        held.getFeatures().putScalar(90, 0, 12);
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        MultiLayerNetwork bare = net.clone();
        DataSet train = AssertionListenerTest.data(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertExamples("held-large", "Held-out first feature above 10", ExampleAssertionsTest::large, held,
                        Schedule.epochs(2)).attach()) {
            net.fit(AssertionListenerTest.iterator(train), 4);
            List<AssertionFinding> f = findings(storage, l).stream().filter(x -> x.detector().equals("held-large")).toList();
            assertThat(f).hasSize(2); // epochs 2 and 4
            assertThat(f).extracting(AssertionFinding::from).containsExactly(1L, 3L); // DL4J's 0-based epoch
            for (AssertionFinding x : f) {
                assertThat(x.unit()).isEqualTo("epoch");
                assertThat(x.source()).isEqualTo("held-out");
                assertThat(x.identity()).isEqualTo("set-position");
                assertThat(x.indices()).containsExactly(7, 90);
                assertThat(x.numClasses()).isEqualTo(CLASSES);
            }
        }
        bare.fit(AssertionListenerTest.iterator(train), 4);
        assertThat(net.params().toFloatVector()).containsExactly(bare.params().toFloatVector());
    }

    /** 4-class blobs of 16 features, plus one far-away example whose label alternates 0, 1, 0, ... by epoch. */
    @Test
    void theTimeConsistencyAssertionFiresOnThePlantedFlippingExampleOnly() {
        DataSet train = AssertionListenerTest.data(1);
        DataSet stable = AssertionListenerTest.heldOut(1);
        INDArray p = Nd4j.valueArrayOf(new long[]{1, FEATURES}, 6f, DataType.FLOAT);
        int rows = 40;
        // the fixed set: 40 held-out blobs, then the planted example (row 40)
        DataSet fixed = new DataSet(Nd4j.vstack(stable.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, rows)), p),
                Nd4j.vstack(stable.getLabels().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, rows)),
                        Nd4j.zeros(DataType.FLOAT, 1, CLASSES)));
        MultiLayerNetwork net = net(new Sgd(0.05), 0.0);
        net.fit(AssertionListenerTest.iterator(train), 10); // the blobs learned before the assertion watches
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        int epochs = 7;
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertTimeConsistency("flicker", "Prediction flickers", fixed, 4, 1).attach()) {
            for (int e = 0; e < epochs; e++) {
                // the blobs, then 2 batches of the planted example labelled e % 2 (trained last)
                List<DataSet> batches = new ArrayList<>(train.batchBy(BATCH));
                INDArray y = Nd4j.zeros(DataType.FLOAT, BATCH, CLASSES);
                y.getColumn(e % 2).assign(1);
                INDArray x = Nd4j.tile(p, BATCH, 1);
                batches.add(new DataSet(x, y));
                net.fit(new ListDataSetIterator<>(batches, BATCH));
            }
            List<AssertionFinding> f = findings(storage, l).stream().filter(r -> r.detector().equals("flicker")).toList();
            assertThat(f).as("records %s", f).isNotEmpty();
            assertThat(f).allSatisfy(r -> {
                assertThat(r.indices()).containsExactly(rows);
                assertThat(r.identity()).isEqualTo("set-position");
                assertThat(r.source()).isEqualTo("fixed-set");
                assertThat(r.unit()).isEqualTo("epoch");
            });
            AssertionFinding first = f.get(0);
            int[] h = first.examples().get(0).history();
            assertThat(first.examples().get(0).severity()).isGreaterThan(1);
            // its class at each epoch of the window follows its latest label
            for (int k = 0; k < h.length; k++) {
                assertThat(h[k]).as("history %s", Arrays.toString(h)).isEqualTo((int) ((first.from() + k) % 2));
            }
            assertThat(first.to() - first.from() + 1).isEqualTo(h.length);
        }
    }

    @Test
    void theCheckpointIsWrittenAtTheFiringAndLoadsBackWithThoseParameters(@TempDir Path dir) throws Exception {
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        MultiLayerNetwork bare = net.clone();
        DataSet train = AssertionListenerTest.data(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        PARAMS_AT_FIRING.set(null);
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertThat("step-twelve", "Step 12", w -> {
                    if (w.latest().step() == 12) {
                        PARAMS_AT_FIRING.set(ExampleAssertionsTest.currentParams.get().toFloatVector());
                        return Severity.WARNING;
                    }
                    return Severity.NONE;
                })
                .action("step-twelve", AssertionListener.Action.LOG, AssertionListener.Action.CHECKPOINT)
                .checkpointDirectory(dir.resolve("ckpt")).attach()) {
            currentParams.set(net.params());
            net.fit(AssertionListenerTest.iterator(train), 2);
            AssertionFinding x = findings(storage, l).stream().filter(r -> r.detector().equals("step-twelve"))
                    .findFirst().orElseThrow();
            assertThat(x.action()).isEqualTo("log,checkpoint");
            assertThat(x.checkpoint()).isEqualTo("step-twelve-epoch1-iter12.zip");
            File file = dir.resolve("ckpt").resolve(x.checkpoint()).toFile();
            assertThat(file).isFile();
            MultiLayerNetwork back = ModelSerializer.restoreMultiLayerNetwork(file, true);
            assertThat(back.params().toFloatVector()).containsExactly(PARAMS_AT_FIRING.get());
            assertThat(back.params().toFloatVector()).isNotEqualTo(net.params().toFloatVector());
        } finally {
            currentParams.set(null);
        }
        bare.fit(AssertionListenerTest.iterator(train), 2);
        assertThat(net.params().toFloatVector()).as("training unchanged by the checkpoint").containsExactly(bare.params().toFloatVector());
    }

    /** The network of the checkpoint test (static: a lambda capturing it would not be serializable). */
    static final AtomicReference<INDArray> currentParams = new AtomicReference<>();

    @Test
    void badActionsFailInBuildListingTheValidChoices() {
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage)
                .assertExamples("large", "m", ExampleAssertionsTest::large)
                .action("dying-relu", AssertionListener.Action.SEND_TO_SUSPECTS).build())
                .hasMessageContaining("dying-relu").hasMessageContaining("[large]");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage)
                .action("dying-relu", AssertionListener.Action.CHECKPOINT).build())
                .hasMessageContaining("checkpointDirectory");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage)
                .assertExamples("large", "m", ExampleAssertionsTest::large).assertThat("large", w -> Severity.NONE))
                .hasMessageContaining("is taken").hasMessageContaining("large");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage)
                .assertTimeConsistency("f", "m", AssertionListenerTest.heldOut(1), 3, 2))
                .hasMessageContaining("[0, 1]");
        assertThatThrownBy(() -> ModelAssertions.builder(net, storage)
                .assertExamples("h", "m", ExampleAssertionsTest::large, AssertionListenerTest.heldOut(1), Schedule.never()))
                .hasMessageContaining("EPOCHS");
    }
}
