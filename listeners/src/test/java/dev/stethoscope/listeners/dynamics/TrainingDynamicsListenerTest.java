package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TrainingDynamicsListenerTest {
    private static final String WORKER = "0/training-dynamics";

    @Test
    void plantedFlipsAreRankedInTheTopKAndRecordsCarryThemWithTheirFeatures(@TempDir File dir) throws Exception {
        Blobs data = new Blobs(300, 12, 3, 10, 11);
        MultiLayerNetwork net = data.mlp(16, 1.0, new Adam(0.02), 5);
        File file = new File(dir, "run.dl4j");
        StatsStorage storage = new FileStatsStorage(file);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, storage)
                .numExamples(data.n).topK(15).flippedIndices(data.flipped).failFast(true).attach();
        net.fit(l.track(data.iterator(30, true)), 12);
        l.flush(); // publishes the last epoch's record

        Suspects r = l.lastRecord();
        Set<Long> top = Arrays.stream(r.indices()).boxed().collect(Collectors.toSet());
        assertThat(top).containsAll(Arrays.stream(data.flipped).boxed().toList());
        Suspects.Metric m = r.metric("combined");
        assertThat(m.auroc()).isGreaterThan(0.99);
        assertThat(m.precisionAtK()).isEqualTo(1.0);
        assertThat(m.recallAtK()).isEqualTo(1.0);
        assertThat(r.numFlipped()).isEqualTo(10);
        // given label is the noisy one; the network predicts the true one
        for (int s = 0; s < r.suspects().size(); s++) {
            int i = (int) r.suspects().get(s).index();
            assertThat(r.suspects().get(s).given()).isEqualTo(data.givenLabel[i]);
        }
        long predictedTrue = Arrays.stream(data.flipped)
                .filter(i -> l.dynamics().predictedLabel((int) i) == data.trueLabel[(int) i]).count();
        assertThat(predictedTrue).isGreaterThanOrEqualTo(8);
        // raw features of every suspect travel in the record, quantised to bytes
        assertThat(r.featureShape()).containsExactly(12L);
        for (int s = 0; s < r.suspects().size(); s++) {
            float[] f = r.suspects().get(s).features();
            assertThat(f).as("features of suspect %d", s).isNotNull();
            float[] orig = data.x[(int) r.suspects().get(s).index()];
            for (int j = 0; j < orig.length; j++) {
                assertThat(f[j]).isCloseTo(orig[j], within(0.5f / 255 + 1e-6f));
            }
        }
        assertThat(l.cachedFeatures()).isLessThanOrEqualTo(512);

        // published: one suspects record per epoch, one (replaced) table; reopen the file
        storage.close();
        StatsStorage reopened = new FileStatsStorage(file);
        String session = l.sessionId();
        List<Persistable> updates = reopened.getAllUpdatesAfter(session, Suspects.TYPE_ID, WORKER, 0);
        assertThat(updates).hasSize(12);
        StethoscopeRecord last = (StethoscopeRecord) updates.get(updates.size() - 1);
        assertThat(last.payload(Suspects.class).indices()).containsExactly(r.indices());
        assertThat(last.getEpoch()).isEqualTo(11);
        Persistable st = reopened.getStaticInfo(session, SuspectTable.TYPE_ID, WORKER);
        SuspectTable table = ((StethoscopeRecord) st).payload(SuspectTable.class);
        assertThat(table.tableEpoch()).isEqualTo(11);
        assertThat(table.numExamples()).isEqualTo(300);
        assertThat(table.flipped()).containsExactly(data.flipped);
        for (int i = 0; i < 300; i++) {
            assertThat(table.count()[i]).isEqualTo(12);
            assertThat((double) table.column("aum")[i]).isCloseTo(l.dynamics().aum(i), within(1e-4));
        }
        // the record's JSON has the suspects with their pixels
        @SuppressWarnings("unchecked")
        List<java.util.Map<String, Object>> suspects = (List<java.util.Map<String, Object>>) last.toJson().get("suspects");
        assertThat(suspects).hasSize(15);
        assertThat(suspects.get(0).get("pixels")).isInstanceOf(String.class);
        reopened.close();
    }

    @Test
    void trainingIsBitIdenticalWithAndWithoutTheListener() {
        Blobs data = new Blobs(120, 8, 3, 4, 3);
        MultiLayerNetwork plain = data.mlp(16, 0.7, new Adam(0.01), 9);
        plain.fit(data.iterator(20, true), 3);
        for (TrainingDynamicsListener.Capture c : TrainingDynamicsListener.Capture.values()) {
            MultiLayerNetwork watched = data.mlp(16, 0.7, new Adam(0.01), 9);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(watched, new InMemoryStatsStorage())
                    .numExamples(data.n).capture(c).failFast(true).attach();
            watched.fit(l.track(data.iterator(20, true)), 3);
            assertThat(l.dynamics().observations()).isEqualTo(3L * data.n);
            assertThat(watched.params().equalsWithEps(plain.params(), 0.0))
                    .as("parameters with the listener (%s) equal those without", c).isTrue();
            assertThat(watched.params().sub(plain.params()).amaxNumber().doubleValue()).isEqualTo(0.0);
        }
    }

    @Test
    void backgroundThreadGivesExactlyTheStateAndRecordsOfTheSynchronousListener() {
        Blobs data = new Blobs(200, 10, 3, 8, 7);
        SuspectTable[] tables = new SuspectTable[2];
        Suspects[] records = new Suspects[2];
        int[] published = new int[2];
        for (int v = 0; v < 2; v++) {
            MultiLayerNetwork net = data.mlp(12, 1.0, new Adam(0.02), 4);
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            // maxPending 2: the training thread must wait for the worker, and nothing may be lost
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, storage).numExamples(data.n).topK(10)
                    .flippedIndices(data.flipped).async(v == 0).maxPending(2).failFast(true).attach();
            net.fit(l.track(data.iterator(16, true)), 4);
            l.close();
            tables[v] = l.table();
            records[v] = l.lastRecord();
            published[v] = storage.getAllUpdatesAfter(l.sessionId(), Suspects.TYPE_ID, WORKER, 0).size();
            assertThat(l.dynamics().observations()).isEqualTo(4L * data.n);
        }
        assertThat(published).containsExactly(4, 4);
        for (String c : SuspectTable.FLOAT_COLUMNS) {
            assertThat(tables[0].column(c)).as(c).containsExactly(tables[1].column(c));
        }
        assertThat(tables[0].forgetting()).containsExactly(tables[1].forgetting());
        assertThat(records[0].indices()).containsExactly(records[1].indices());
        assertThat(records[0].metrics()).isEqualTo(records[1].metrics());
    }

    @Test
    void bothCapturesGiveTheNetworksLogitsWhenParametersDoNotMove() {
        // learning rate 0 and no dropout: the logits of every training batch are those of the fixed network
        Blobs data = new Blobs(90, 6, 4, 3, 5);
        INDArray x = data.features(0, data.n);
        for (int variant = 0; variant < 3; variant++) {
            // training pass with logits in Java, training pass with an ND4J product, inference copy
            TrainingDynamicsListener.Capture c = variant < 2 ? TrainingDynamicsListener.Capture.TRAIN_PASS
                    : TrainingDynamicsListener.Capture.INFERENCE_COPY;
            MultiLayerNetwork net = data.mlp(10, 1.0, new Sgd(0.0), 2);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                    .numExamples(data.n).capture(c).failFast(true).attach()
                    .javaProductLimit(variant == 1 ? 0 : TrainingDynamicsListener.JAVA_PRODUCT_LIMIT);
            net.fit(l.track(data.iterator(32, true)), 2);
            INDArray p = net.output(x, false);
            TrainingDynamics d = l.dynamics();
            for (int i = 0; i < data.n; i++) {
                int y = data.givenLabel[i];
                double maxOther = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < data.classes; k++) {
                    if (k != y) {
                        maxOther = Math.max(maxOther, Math.log(p.getDouble(i, k)));
                    }
                }
                double margin = Math.log(p.getDouble(i, y)) - maxOther;
                assertThat(d.aum(i)).as("%s margin of example %d", c, i).isCloseTo(margin, within(1e-4));
                assertThat(d.variability(i)).isCloseTo(0.0, within(1e-6));
                assertThat(d.confidence(i)).isCloseTo(p.getDouble(i, y), within(1e-5));
            }
        }
    }

    @Test
    void stateSizeIsLinearInNAndDoesNotGrowWithEpochs() {
        for (int n : new int[]{60, 240}) {
            Blobs data = new Blobs(n, 5, 3, 3, 1);
            MultiLayerNetwork net = data.mlp(8, 1.0, new Adam(0.01), 1);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                    .numExamples(n).featureCache(20).topK(5).failFast(true).attach();
            long before = l.dynamics().storedValues();
            assertThat(before).isEqualTo((long) TrainingDynamics.VALUES_PER_EXAMPLE * n);
            net.fit(l.track(data.iterator(20, true)), 2);
            long after2 = l.dynamics().storedValues();
            net.fit(l.track(data.iterator(20, true)), 6);
            assertThat(l.dynamics().observations()).isEqualTo(8L * n);
            assertThat(l.dynamics().storedValues()).isEqualTo(before).isEqualTo(after2);
            assertThat(l.cachedFeatures()).isLessThanOrEqualTo(20);
        }
    }

    @Test
    void untrackedIteratorOrBatchesWithoutIndicesTrainWithContentHashes_andBadConfigurationFailsAtBuild() {
        Blobs data = new Blobs(40, 4, 2, 2, 1);
        for (boolean tracked : new boolean[]{false, true}) {
            MultiLayerNetwork net = data.mlp(4, 1.0, new Adam(0.01), 1);
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                    .numExamples(data.n).failFast(true).attach();
            // no indices on the batches, tracked or not: neither throws, both hash the content
            net.fit(tracked ? l.track(data.iterator(10, false)) : data.iterator(10, true), 2);
            assertThat(l.identitySource()).isEqualTo(ExampleIdentity.Source.CONTENT_HASH);
            assertThat(l.identityLost()).isNull();
            assertThat(l.dynamics().observations()).isEqualTo(2L * data.n);
            for (int i = 0; i < data.n; i++) {
                // the fixed-order iterator's first epoch numbers the examples as the data set does
                assertThat(l.dynamics().givenLabel(i)).as("example %d", i).isEqualTo(data.givenLabel[i]);
            }
        }
        MultiLayerNetwork net = data.mlp(4, 1.0, new Adam(0.01), 1);
        assertThatThrownBy(() -> TrainingDynamicsListener.builder(net, new InMemoryStatsStorage()).build())
                .hasMessageContaining("numExamples");
        assertThatThrownBy(() -> TrainingDynamicsListener.builder(net, new InMemoryStatsStorage()).numExamples(40)
                .flippedIndices(new long[]{40}).build())
                .hasMessageContaining("outside [0, 40)");
    }
}
