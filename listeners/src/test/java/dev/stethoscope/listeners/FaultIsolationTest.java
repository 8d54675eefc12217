package dev.stethoscope.listeners;

import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.records.MonitorError;
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
        java.util.function.IntFunction<Throwable> fault = i -> new IllegalStateException("analysis exploded at iteration " + i);

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
                Throwable t = fault.apply(iteration);
                if (t instanceof Exception e) {
                    throw e;
                }
                throw (Error) t;
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
        List<Persistable> errors = storage.getAllUpdatesAfter(b.sessionId(), MonitorError.TYPE_ID, 0);
        // rate limited: the same failure is published at its 1st, 2nd, 4th and 8th occurrence
        assertThat(errors).hasSize(4);
        MonitorError first = ((StethoscopeRecord) errors.get(0)).payload(MonitorError.class);
        assertThat(first.monitor()).isEqualTo("broken");
        assertThat(first.message()).contains("analysis exploded");
        assertThat(errors).extracting(p -> ((StethoscopeRecord) p).payload(MonitorError.class).count()).containsExactly(1, 2, 4, 8);
    }

    @Test
    void failFastStopsTraining() {
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        new Broken.B(net, new InMemoryStatsStorage()).failFast(true).attach();
        assertThatThrownBy(() -> net.fit(data(), 1)).hasMessageContaining("analysis exploded");
    }

    @Test
    void errorsOtherThanVirtualMachineErrorsAreRecordedAndTrainingGoesOn() {
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        Broken b = new Broken.B(net, storage).attach();
        b.fault = i -> new NoClassDefFoundError("some/Missing at iteration " + i);
        net.fit(data(), 2);
        assertThat(net.getIterationCount()).isEqualTo(8);
        assertThat(b.errorCount()).isEqualTo(8);
        assertThat(storage.getAllUpdatesAfter(b.sessionId(), MonitorError.TYPE_ID, 0))
                .extracting(p -> ((StethoscopeRecord) p).payload(MonitorError.class).exceptionClass())
                .containsOnly(NoClassDefFoundError.class.getName());
    }

    @Test
    void virtualMachineErrorsStopTrainingEvenWithoutFailFast() {
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        Broken b = new Broken.B(net, new InMemoryStatsStorage()).attach();
        b.fault = i -> new OutOfMemoryError("injected at iteration " + i);
        assertThatThrownBy(() -> net.fit(data(), 1)).isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("injected");
        assertThat(b.errorCount()).isZero();
    }

    @Test
    void hungBackgroundAnalysisNeitherHangsTrainingNorFlush() throws Exception {
        dev.stethoscope.listeners.data.IndexedArrayIterator it = dev.stethoscope.listeners.data.IndexedArrayIterator
                .builder(TestNets.blobs(3, 64, 8, 3).getFeatures(), TestNets.blobs(3, 64, 8, 3).getLabels())
                .batchSize(16).noShuffle().build();
        MultiLayerNetwork net = TestNets.mlp(5, 8, 8, 8, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        var l = dev.stethoscope.listeners.dynamics.TrainingDynamicsListener.builder(net, storage).numExamples(64)
                .maxPending(1).backgroundTimeout(java.time.Duration.ofMillis(300)).attach();
        l.setFaultHook((m, phase, background) -> {
            if (background) {
                release.await(); // a hung analysis
            }
        });
        long t0 = System.nanoTime();
        try {
            net.fit(l.track(it), 2);
            l.flush();
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(net.getEpochCount()).isEqualTo(2);
            // 8 hand-overs each wait at most 0.3 s, plus the flush: far below "forever"
            assertThat(seconds).isLessThan(30);
            assertThat(storage.getAllUpdatesAfter(l.sessionId(), MonitorError.TYPE_ID, 0))
                    .extracting(p -> ((StethoscopeRecord) p).payload(MonitorError.class).exceptionClass())
                    .contains(dev.stethoscope.listeners.core.BackgroundTimeoutException.class.getName());
        } finally {
            release.countDown();
            l.close();
        }
    }
}
