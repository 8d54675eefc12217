package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Feature-evolution exemplars named by {@code ExampleIdentity} with {@code addListeners} alone. */
class FeatureEvolutionIdentityTest {

    private static DataSetIterator shuffled(DataSet d) {
        return IndexedArrayIterator.builder(d.getFeatures(), d.getLabels()).batchSize(16).shuffle(5).build();
    }

    private static List<FeatureSnapshot> run(DataSet d, boolean tracked) {
        MultiLayerNetwork net = FeatureEvolutionListenerTest.net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l = FeatureEvolutionListener.builder(net, storage).layers("conv", "dense")
                .schedule(Schedule.atEpochs(1, 2, 3)).unitsPerLayer(5).probeExamples(10).build();
        net.addListeners(l);
        net.fit(tracked ? l.track(shuffled(d)) : shuffled(d), 3);
        l.close();
        return FeatureEvolutionListenerTest.records(storage, l.sessionId());
    }

    @Test
    void contentHashNamesTheExemplarsAsTrackedIndicesDoUnderReshuffling() {
        DataSet d = FeatureEvolutionListenerTest.data();
        List<FeatureSnapshot> tracked = run(d, true);
        List<FeatureSnapshot> hashed = run(d, false);
        // content-hash index h = the h-th example of the first epoch; that epoch's order, from the same iterator
        long[] firstOrder = new long[FeatureEvolutionListenerTest.N];
        DataSetIterator it = shuffled(d);
        int pos = 0;
        while (it.hasNext()) {
            for (long i : ExampleIndex.indicesOf(it.next())) {
                firstOrder[pos++] = i;
            }
        }
        assertThat(hashed).hasSameSizeAs(tracked).hasSize(6);
        int compared = 0;
        int units = 0;
        for (int s = 0; s < tracked.size(); s++) {
            List<FeatureUnit> ut = tracked.get(s).units();
            List<FeatureUnit> uh = hashed.get(s).units();
            assertThat(uh).hasSameSizeAs(ut);
            for (int u = 0; u < ut.size(); u++) {
                units++;
                assertThat(uh.get(u).values()).containsExactly(ut.get(u).values());
                double[] v = ut.get(u).values();
                if (java.util.Arrays.stream(v).distinct().count() < v.length || v[v.length - 1] == 0) {
                    continue; // tied values (e.g. a dead ReLU unit): which tied example is kept is arbitrary
                }
                compared++;
                long[] mapped = java.util.Arrays.stream(uh.get(u).examples()).map(h -> firstOrder[(int) h]).toArray();
                assertThat(mapped).as("snapshot %d unit %d", s, u).containsExactly(ut.get(u).examples());
                assertThat(uh.get(u).top1Changed()).isEqualTo(ut.get(u).top1Changed());
            }
            // NaN at the first snapshot (nothing to compare with) in both
            assertThat(Double.compare(hashed.get(s).changedFraction(), tracked.get(s).changedFraction()))
                    .as("changed fraction of snapshot %d", s).isZero();
        }
        assertThat(compared).as("units without ties").isGreaterThan(units / 2);
        // positions would differ between epochs of a reshuffling iterator: the indices really name examples
        assertThat(firstOrder).isNotEqualTo(java.util.stream.LongStream.range(0, firstOrder.length).toArray());
    }
}
