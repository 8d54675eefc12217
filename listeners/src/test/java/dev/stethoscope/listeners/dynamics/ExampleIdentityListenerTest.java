package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.data.ExampleIdentityException;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.Suspects;
import org.datavec.api.records.metadata.RecordMetaDataLine;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The suspects monitor added with {@code addListeners} alone: augmentation, metadata. */
class ExampleIdentityListenerTest {

    /**
     * Blobs with a fresh random jitter on every batch (seeded, so two runs see the same data), as random
     * augmentation does.
     */
    private static DataSetIterator augmented(Blobs data, int batch, long seed) {
        List<DataSet> batches = new ArrayList<>();
        for (int s = 0; s < data.n; s += batch) {
            batches.add((DataSet) data.batch(s, Math.min(data.n, s + batch), false));
        }
        return new org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator<>(batches, 1) {
            private final Random rnd = new Random(seed);

            @Override
            public DataSet next() {
                DataSet ds = super.next();
                float[][] noise = new float[(int) ds.getFeatures().size(0)][(int) ds.getFeatures().size(1)];
                for (float[] row : noise) {
                    for (int j = 0; j < row.length; j++) {
                        row[j] = 0.01f * (float) rnd.nextGaussian();
                    }
                }
                return new DataSet(ds.getFeatures().add(Nd4j.create(noise)), ds.getLabels());
            }
        };
    }

    @Test
    void randomAugmentationDisablesTheMonitorWithOneRecord_trainingEndsWithTheParametersOfARunWithoutIt() {
        Blobs data = new Blobs(120, 8, 3, 4, 3);
        MultiLayerNetwork plain = data.mlp(16, 1.0, new Adam(0.01), 9);
        plain.fit(augmented(data, 20, 77), 4);

        MultiLayerNetwork watched = data.mlp(16, 1.0, new Adam(0.01), 9);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(watched, storage).numExamples(data.n)
                .failFast(true) // even so: losing the examples is not a fault that stops training
                .build();
        watched.addListeners(l);
        watched.fit(augmented(data, 20, 77), 4);
        l.flush();

        assertThat(watched.getEpochCount()).isEqualTo(4);
        assertThat(watched.params().equalsWithEps(plain.params(), 0.0)).isTrue();
        assertThat(l.identityLost()).contains("epoch 2").contains("random augmentation");
        List<Persistable> errors = storage.getAllUpdatesAfter(l.sessionId(), MonitorError.TYPE_ID, 0);
        assertThat(errors).hasSize(1);
        MonitorError e = ((StethoscopeRecord) errors.get(0)).payload(MonitorError.class);
        assertThat(e.phase()).isEqualTo("example-identity");
        assertThat(e.exceptionClass()).isEqualTo(ExampleIdentityException.class.getName());
        assertThat(e.message()).isEqualTo(l.identityLost());
        // the first epoch's record only; no suspects from epochs whose examples are unknown
        assertThat(storage.getAllUpdatesAfter(l.sessionId(), Suspects.TYPE_ID, 0)).hasSize(1);
        assertThat(l.dynamics().observations()).isLessThan(2L * data.n);
    }

    @Test
    void recordMetaDataIsUsedWhenTheTrackedBatchesCarryIt_evenForIdenticalContent() {
        Blobs data = new Blobs(60, 5, 3, 3, 4);
        List<DataSet> batches = new ArrayList<>();
        for (int s = 0; s < data.n; s += 15) {
            DataSet ds = (DataSet) data.batch(s, s + 15, false);
            List<RecordMetaDataLine> meta = new ArrayList<>();
            for (int i = s; i < s + 15; i++) {
                meta.add(new RecordMetaDataLine(i, URI.create("file:/data/blobs.csv"), Object.class));
            }
            ds.setExampleMetaData(meta);
            batches.add(ds);
        }
        // two rows with the same content: different lines, so different examples
        batches.get(1).getFeatures().getRow(0).assign(batches.get(0).getFeatures().getRow(0));
        batches.get(1).getLabels().getRow(0).assign(batches.get(0).getLabels().getRow(0));
        MultiLayerNetwork net = data.mlp(8, 1.0, new Adam(0.01), 2);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                .numExamples(data.n).failFast(true).attach();
        net.fit(l.track(new org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator<>(batches, 1)), 3);
        assertThat(l.identitySource()).isEqualTo(ExampleIdentity.Source.METADATA);
        assertThat(l.identityLost()).isNull();
        for (int i = 0; i < data.n; i++) {
            assertThat(l.dynamics().count(i)).as("example %d observed once per epoch", i).isEqualTo(3);
        }
    }
}
