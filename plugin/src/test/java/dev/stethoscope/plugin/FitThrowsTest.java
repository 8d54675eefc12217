package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import dev.stethoscope.probes.memorization.LassParameters;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Library use, when {@code fit} throws mid-way (here: the data pipeline fails in the second
 * epoch): closing the listeners in {@code finally}, before the storage, still gets the last
 * epoch's background analyses into the stats file. The analyses are slowed down so that they are
 * certainly still running when {@code fit} throws: without {@code close()} they would be lost.
 */
class FitThrowsTest {

    /** Delegates to an iterator and throws from {@code next()} at the given call. */
    static final class FailingIterator extends ForwardingDataSetIterator {
        private static final long serialVersionUID = 1L;
        final AtomicInteger calls = new AtomicInteger();
        final int failAt;

        FailingIterator(DataSetIterator in, int failAt) {
            super(in);
            this.failAt = failAt;
        }

        @Override
        public DataSet next(int num) {
            return next();
        }

        @Override
        public DataSet next() {
            if (calls.incrementAndGet() == failAt) {
                throw new IllegalStateException("the data pipeline failed (injected)");
            }
            return delegate().next();
        }

        @Override
        public boolean asyncSupported() {
            return false;
        }
    }

    @Test
    void closingInFinallyKeepsTheLastAnalysesWhenFitThrows(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(file.toFile());
        MultiLayerNetwork net = FaultInjectionTest.net();
        DataSet data = FaultInjectionTest.blobs(11, 96);
        DataSet held = FaultInjectionTest.blobs(12, 60);
        LinearProbeListener probes = LinearProbeListener.builder(net, storage).probeData(held).schedule(Schedule.epochs(1).andLast().totalEpochs(3)).attach();
        SvccaListener svcca = SvccaListener.builder(net, storage).probeInputs(held.getFeatures()).schedule(Schedule.epochs(1).andLast().totalEpochs(3)).attach();
        MemorizationListener mem = MemorizationListener.builder(net, storage)
                .training(IndexedArrayIterator.builder(data.getFeatures(), data.getLabels()).batchSize(16).noShuffle().build())
                .validation(held).trainingSize(32).validationSize(20)
                .lass(LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                        .withMaxIterations(5).withSeed(3)).csrBatchSize(20).sensitivitySchedule(Schedule.iterations(100)).attach();
        TrainingDynamicsListener dyn = TrainingDynamicsListener.builder(net, storage).numExamples(96).topK(5).attach();
        List<BackgroundListener> monitors = List.of(probes, svcca, mem, dyn);
        for (BackgroundListener l : monitors) {
            l.setFaultHook((m, phase, background) -> {
                if (background) {
                    Thread.sleep(300); // slow analyses: still running when fit throws
                }
            });
        }
        String session = probes.sessionId();
        // 6 batches an epoch: fail at the 3rd batch of the 2nd epoch
        DataSetIterator train = dyn.track(new FailingIterator(
                IndexedArrayIterator.builder(data.getFeatures(), data.getLabels()).batchSize(16).noShuffle().build(), 9));
        int[] beforeClose = {-1, -1, -1, -1};
        try {
            assertThatThrownBy(() -> net.fit(train, 3)).hasMessageContaining("data pipeline failed");
            beforeClose = counts(storage, session);
        } finally {
            for (BackgroundListener l : monitors) {
                l.close();
            }
            storage.close();
        }
        FileStatsStorage reopened = new FileStatsStorage(file.toFile());
        try {
            int[] after = counts(reopened, session);
            assertThat(java.util.Arrays.stream(after).boxed().toList()).as("probe, similarity, memorisation and suspects records of epoch 1").allMatch(n -> n >= 1);
            assertThat(java.util.Arrays.stream(beforeClose).boxed().toList()).as("some were still pending when fit threw").anyMatch(n -> n == 0);
            assertThat(reopened.getAllUpdatesAfter(session, ProbeAccuracy.TYPE_ID, 0))
                    .extracting(p -> ((StethoscopeRecord) p).payload(ProbeAccuracy.class).snapshotEpoch()).contains(1);
        } finally {
            reopened.close();
        }
    }

    private static int[] counts(FileStatsStorage s, String session) {
        return new int[]{
                s.getAllUpdatesAfter(session, ProbeAccuracy.TYPE_ID, 0).size(),
                s.getAllUpdatesAfter(session, SimilarityTable.TYPE_ID, 0).size(),
                s.getAllUpdatesAfter(session, Memorization.TYPE_ID, 0).size(),
                s.getAllUpdatesAfter(session, Suspects.TYPE_ID, 0).size()};
    }
}
