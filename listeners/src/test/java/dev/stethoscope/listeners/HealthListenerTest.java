package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.RunInfo;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HealthListenerTest {

    private static DataSetIterator data() {
        DataSet all = TestNets.blobs(7, 256, 8, 3);
        return new ListDataSetIterator<>(all.asList(), 32);
    }

    /** dense2 never active: zero weights and a negative bias. Gradients through it are zero, so it stays dead. */
    private static MultiLayerNetwork withDeadSecondLayer() {
        MultiLayerNetwork net = TestNets.mlp(42, 8, 16, 12, 3);
        net.getLayer(1).getParam("W").assign(0);
        net.getLayer(1).getParam("b").assign(-1);
        return net;
    }

    @Test
    void plantedDeadLayerIsReportedDeadAndHealthyLayerIsNot() {
        MultiLayerNetwork net = withDeadSecondLayer();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        HealthListener l = HealthListener.builder(net, storage).schedule(Schedule.iterations(2)).attach();
        net.fit(data(), 2);

        List<Persistable> updates = storage.getAllUpdatesAfter(l.sessionId(), Health.TYPE_ID, 0);
        assertThat(updates).isNotEmpty();
        long probeRecords = updates.stream().filter(p -> ((StethoscopeRecord) p).payload(Health.class).source().equals("probe-batch")).count();
        assertThat(probeRecords).isEqualTo(2); // one per epoch end
        for (Persistable p : updates) {
            Health r = ((StethoscopeRecord) p).payload(Health.class);
            assertThat(r.layers()).containsExactly("dense1", "dense2");
            assertThat(r.deadFraction()[1]).isEqualTo(1.0);
            assertThat(r.deadFraction()[0]).isLessThan(0.5);
            assertThat(r.paramNorm()[0]).isPositive();
            // no gradient flows through a dead layer: its update (and everything below it) is zero
            assertThat(r.updateRatioLog10()[1]).isNaN();
        }
        assertThat(storage.getStaticInfo(l.sessionId(), Health.TYPE_ID, "0/health")).isNotNull();
        assertThat(l.errorCount()).isZero();
    }

    @Test
    void healthyNetworkHasNoDeadLayersAndFiniteUpdateRatios() {
        MultiLayerNetwork net = TestNets.mlp(42, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        HealthListener l = HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).attach();
        net.fit(data(), 1);
        List<Persistable> updates = storage.getAllUpdatesAfter(l.sessionId(), Health.TYPE_ID, 0);
        long trainRecords = updates.stream().filter(p -> ((StethoscopeRecord) p).payload(Health.class).source().equals("train-batch")).count();
        assertThat(trainRecords).isEqualTo(8); // 256 examples / 32 per batch, every iteration
        for (Persistable p : updates) {
            Health r = ((StethoscopeRecord) p).payload(Health.class);
            for (int i = 0; i < 2; i++) {
                assertThat(r.deadFraction()[i]).isLessThan(0.5);
                assertThat(r.activationStd()[i]).isPositive();
                if (r.source().equals("train-batch")) {
                    // Adam with lr 1e-2: a finite update ratio well below 1
                    assertThat(r.updateRatioLog10()[i]).isLessThan(0).isGreaterThan(-8);
                }
            }
        }
    }

    @Test
    void trainingIsIdenticalWithAndWithoutTheListener() {
        MultiLayerNetwork plain = TestNets.mlp(123, 8, 16, 12, 3);
        MultiLayerNetwork watched = TestNets.mlp(123, 8, 16, 12, 3);
        assertThat(watched.params()).isEqualTo(plain.params());
        HealthListener.builder(watched, new InMemoryStatsStorage()).schedule(Schedule.iterations(1)).probeBatchSize(16).attach();
        plain.fit(data(), 2);
        watched.fit(data(), 2);
        INDArray a = plain.params();
        INDArray b = watched.params();
        assertThat(b.equals(a)).as("parameters after training").isTrue();
        assertThat(watched.getUpdater().getStateViewArray()).isEqualTo(plain.getUpdater().getStateViewArray());
    }

    @Test
    void unknownLayerFailsAtBuildTimeListingValidLayers() {
        MultiLayerNetwork net = TestNets.mlp(1, 8, 16, 12, 3);
        assertThatThrownBy(() -> HealthListener.builder(net, new InMemoryStatsStorage()).layers("dense9").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dense9")
                .hasMessageContaining("[dense1, dense2, out]");
        assertThatThrownBy(() -> HealthListener.builder(net, new InMemoryStatsStorage()).layers("out").build())
                .hasMessageContaining("output layer");
        assertThat(HealthListener.builder(net, new InMemoryStatsStorage()).layers("1").build().layers())
                .containsExactly("dense2");
    }
}
