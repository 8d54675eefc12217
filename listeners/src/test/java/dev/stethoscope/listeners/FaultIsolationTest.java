package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.records.MonitorErrorRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FaultIsolationTest {

    /** A monitor whose analysis always throws. */
    static final class Broken extends StethoscopeListener {
        Broken(B b) {
            super(b);
        }

        @Override
        public String monitorName() {
            return "broken";
        }

        @Override
        protected Map<String, String> settings() {
            return Map.of();
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            guard("iterationDone", () -> {
                throw new IllegalStateException("analysis exploded at iteration " + iteration);
            });
        }

        static final class B extends StethoscopeListener.Builder<B, Broken> {
            B(Model m, StatsStorageRouter r) {
                super(m, r);
            }

            @Override
            public Broken build() {
                return new Broken(this);
            }
        }
    }

    private static ListDataSetIterator<DataSet> data() {
        return new ListDataSetIterator<>(TestNets.blobs(3, 64, 8, 3).asList(), 16);
    }

    @Test
    void throwingMonitorDoesNotStopTrainingAndPublishesErrorRecords() {
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        INDArray before = net.params().dup();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        Broken b = new Broken.B(net, storage).attach();
        net.fit(data(), 2);

        assertThat(net.getIterationCount()).isEqualTo(8);
        assertThat(net.params()).isNotEqualTo(before);
        assertThat(b.errorCount()).isEqualTo(8);
        List<Persistable> errors = storage.getAllUpdatesAfter(b.sessionId(), MonitorErrorRecord.TYPE_ID, 0);
        assertThat(errors).hasSize(8);
        MonitorErrorRecord first = (MonitorErrorRecord) errors.get(0);
        assertThat(first.getMonitor()).isEqualTo("broken");
        assertThat(first.getMessage()).contains("analysis exploded");
    }

    @Test
    void failFastStopsTraining() {
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        new Broken.B(net, new InMemoryStatsStorage()).failFast(true).attach();
        assertThatThrownBy(() -> net.fit(data(), 1)).hasMessageContaining("analysis exploded");
    }
}
