package dev.stethoscope.listeners;

import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.probes.memorization.LassParameters;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every listener honours its {@link Schedule}: analyses exactly at the due epochs or iterations,
 * {@code close()} analyses the last epoch once (with {@code andLast()}) and not twice, closing
 * twice is safe, and {@code build()} refuses the kinds a listener does not accept, naming those it
 * does. Real training of a small MLP on Gaussian blobs (3 epochs of 6 iterations).
 */
class ListenerSchedulesTest {
    private static final DataSet ALL = TestNets.blobs(11, 288, 16, 3);
    private static final DataSet TRAIN = new DataSet(ALL.getFeatures().getRows(range(0, 192)), ALL.getLabels().getRows(range(0, 192)));
    private static final DataSet HELD = new DataSet(ALL.getFeatures().getRows(range(192, 288)), ALL.getLabels().getRows(range(192, 288)));
    private static final int EPOCHS = 3;

    private static int[] range(int from, int to) {
        return java.util.stream.IntStream.range(from, to).toArray();
    }

    private static DataSetIterator train() {
        return new ListDataSetIterator<>(TRAIN.copy().asList(), 32); // 6 iterations per epoch
    }

    private static MultiLayerNetwork net() {
        return TestNets.mlp(5, 16, 12, 8, 3);
    }

    private static <T extends Record> List<T> records(InMemoryStatsStorage s, String session, String type, Class<T> c) {
        return envelopes(s, session, type).stream().map(r -> r.payload(c)).toList();
    }

    private static List<StethoscopeRecord> envelopes(InMemoryStatsStorage s, String session, String type) {
        return s.getAllUpdatesAfter(session, type, 0).stream().sorted(Comparator.comparingLong(Persistable::getTimeStamp))
                .map(StethoscopeRecord.class::cast).toList();
    }

    // ---- linear probes and SVCCA (epoch analyses on a background thread)

    private static LinearProbeListener.Builder probes(MultiLayerNetwork n, InMemoryStatsStorage st) {
        return LinearProbeListener.builder(n, st).probeData(HELD).options(LinearProbe.Options.defaults().withIterations(30));
    }

    @Test
    void probesRunAtTheListedEpochsOnly() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        LinearProbeListener p = probes(n, st).schedule(Schedule.atEpochs(1, 3)).attach();
        n.fit(train(), EPOCHS);
        p.close();
        p.close();
        List<ProbeAccuracy> r = records(st, p.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class);
        assertThat(r).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(1, 3);
        assertThat(r).extracting(ProbeAccuracy::isFinal).containsExactly(false, false);
        assertThat(p.errorCount()).isZero();
    }

    @Test
    void probesAnalyseTheLastEpochOnceWithAndLast() {
        // the last epoch already analysed at its end (listed): close() marks it final, no second record
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        LinearProbeListener p = probes(n, st).schedule(Schedule.atEpochs(1, 3).andLast()).attach();
        n.fit(train(), EPOCHS);
        p.close();
        p.close();
        assertThat(records(st, p.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class))
                .extracting(ProbeAccuracy::snapshotEpoch).containsExactly(1, 3);

        // not listed, run length unknown: close() analyses the final parameters, once
        MultiLayerNetwork n2 = net();
        InMemoryStatsStorage st2 = new InMemoryStatsStorage();
        LinearProbeListener p2 = probes(n2, st2).schedule(Schedule.atEpochs(1).andLast()).attach();
        n2.fit(train(), EPOCHS);
        assertThat(records(st2, p2.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class)
                .stream().filter(ProbeAccuracy::isFinal)).as("nothing final before close()").isEmpty();
        p2.close();
        p2.close();
        List<ProbeAccuracy> r2 = records(st2, p2.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class);
        assertThat(r2).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(1, 3);
        assertThat(r2).extracting(ProbeAccuracy::isFinal).containsExactly(false, true);

        // run length known: the last epoch is analysed as final at its end, close() adds nothing
        MultiLayerNetwork n3 = net();
        InMemoryStatsStorage st3 = new InMemoryStatsStorage();
        LinearProbeListener p3 = probes(n3, st3).schedule(Schedule.never().andLast().totalEpochs(EPOCHS)).attach();
        n3.fit(train(), EPOCHS);
        p3.close();
        List<ProbeAccuracy> r3 = records(st3, p3.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class);
        assertThat(r3).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(3);
        assertThat(r3).extracting(ProbeAccuracy::isFinal).containsExactly(true);
    }

    @Test
    void similaritySnapshotsAtTheListedEpochsAndVsFinalOnlyWithAndLast() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        SvccaListener s = SvccaListener.builder(n, st).probeInputs(HELD.getFeatures()).schedule(Schedule.atEpochs(1, 3))
                .attach();
        n.fit(train(), EPOCHS);
        s.close();
        s.close();
        List<SimilarityTable> r = records(st, s.sessionId(), SimilarityTable.TYPE_ID, SimilarityTable.class);
        assertThat(r.stream().filter(x -> x.kind().equals(SimilarityTable.LAYERS)))
                .extracting(SimilarityTable::snapshotEpoch).containsExactly(0, 1, 3);
        assertThat(r.stream().filter(x -> x.kind().equals(SimilarityTable.VS_FINAL))).isEmpty();

        MultiLayerNetwork n2 = net();
        InMemoryStatsStorage st2 = new InMemoryStatsStorage();
        SvccaListener s2 = SvccaListener.builder(n2, st2).probeInputs(HELD.getFeatures())
                .schedule(Schedule.atEpochs(1, 3).andLast()).attach();
        n2.fit(train(), EPOCHS);
        s2.close();
        s2.close();
        List<SimilarityTable> r2 = records(st2, s2.sessionId(), SimilarityTable.TYPE_ID, SimilarityTable.class);
        assertThat(r2.stream().filter(x -> x.kind().equals(SimilarityTable.LAYERS)))
                .as("epoch 3 snapshotted once").extracting(SimilarityTable::snapshotEpoch).containsExactly(0, 1, 3);
        assertThat(r2.stream().filter(x -> x.kind().equals(SimilarityTable.VS_FINAL)))
                .extracting(SimilarityTable::snapshotEpoch).containsExactly(3);
    }

    @Test
    void epochAnalysisListenersRefuseOtherKinds() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        for (Schedule bad : List.of(Schedule.iterations(5), Schedule.onCheckpoints())) {
            assertThatThrownBy(() -> probes(n, st).schedule(bad).build()).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("LinearProbeListener").hasMessageContaining(bad.toString())
                    .hasMessageContaining("EPOCHS").hasMessageContaining("EPOCH_LIST").hasMessageContaining("NEVER");
            assertThatThrownBy(() -> SvccaListener.builder(n, st).schedule(bad).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SvccaListener")
                    .hasMessageContaining("EPOCH_LIST");
        }
        assertThat(probes(n, st).build().schedule()).isEqualTo(Schedule.epochs(1).andLast());
    }

    // ---- health (iterations; the probe batch at every epoch end)

    @Test
    void healthSamplesTheScheduledIterationsOnly() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        HealthListener h = HealthListener.builder(n, st).schedule(Schedule.iterations(4)).attach();
        n.fit(train(), EPOCHS); // iterations 0..17
        h.close();
        h.close();
        List<Health> r = records(st, h.sessionId(), Health.TYPE_ID, Health.class);
        assertThat(envelopes(st, h.sessionId(), Health.TYPE_ID).stream()
                .filter(x -> x.payload(Health.class).source().equals("train-batch")))
                .extracting(StethoscopeRecord::getIteration).containsExactly(0L, 4L, 8L, 12L, 16L);
        assertThat(r.stream().filter(x -> x.source().equals("probe-batch"))).hasSize(EPOCHS);

        MultiLayerNetwork n2 = net();
        InMemoryStatsStorage st2 = new InMemoryStatsStorage();
        HealthListener h2 = HealthListener.builder(n2, st2).schedule(Schedule.never()).attach();
        n2.fit(train(), EPOCHS);
        h2.close();
        List<Health> r2 = records(st2, h2.sessionId(), Health.TYPE_ID, Health.class);
        assertThat(r2).extracting(Health::source).containsOnly("probe-batch").hasSize(EPOCHS);

        assertThat(HealthListener.builder(net(), st).build().schedule()).isEqualTo(Schedule.iterations(10));
        assertThatThrownBy(() -> HealthListener.builder(n, st).schedule(Schedule.epochs(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HealthListener")
                .hasMessageContaining("epochs:1").hasMessageContaining("[ITERATIONS, NEVER]");
    }

    // ---- attribution (epochs, checkpoints; runs inside the callbacks)

    private static AttributionListener.Builder attribution(MultiLayerNetwork n, InMemoryStatsStorage st) {
        return AttributionListener.builder(n, st).methods("saliency").examplesPerClass(HELD, 1);
    }

    @Test
    void attributionRunsAtTheListedEpochsAndCloseAnalysesTheLastOnce() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        AttributionListener a = attribution(n, st).schedule(Schedule.atEpochs(1, 3)).attach();
        n.fit(train(), EPOCHS);
        a.close();
        a.close();
        assertThat(a.runs()).isEqualTo(2);
        assertThat(envelopes(st, a.sessionId(), AttributionMaps.TYPE_ID))
                .extracting(StethoscopeRecord::getIteration).containsExactly(6L, 18L);

        // the last epoch not on the schedule: close() analyses the final parameters, once
        MultiLayerNetwork n2 = net();
        InMemoryStatsStorage st2 = new InMemoryStatsStorage();
        AttributionListener a2 = attribution(n2, st2).schedule(Schedule.epochs(2).andLast()).attach();
        n2.fit(train(), EPOCHS);
        assertThat(a2.runs()).isEqualTo(1);
        a2.close();
        a2.close();
        assertThat(a2.runs()).isEqualTo(2);
        assertThat(envelopes(st2, a2.sessionId(), AttributionMaps.TYPE_ID))
                .extracting(StethoscopeRecord::getIteration).containsExactly(12L, 18L);

        // the last epoch analysed at its end: close() does not analyse it again
        MultiLayerNetwork n3 = net();
        InMemoryStatsStorage st3 = new InMemoryStatsStorage();
        AttributionListener a3 = attribution(n3, st3).schedule(Schedule.epochs(2).andLast().totalEpochs(EPOCHS)).attach();
        n3.fit(train(), EPOCHS);
        a3.close();
        assertThat(a3.runs()).isEqualTo(2);
        assertThat(a3.errorCount() + a2.errorCount() + a.errorCount()).isZero();

        assertThatThrownBy(() -> attribution(n, st).schedule(Schedule.iterations(3)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("AttributionListener")
                .hasMessageContaining("[EPOCHS, EPOCH_LIST, CHECKPOINTS, NEVER]");
        assertThat(attribution(net(), st).build().schedule()).isEqualTo(Schedule.epochs(1));
    }

    // ---- memorisation (CSR at epochs; loss sensitivity at iterations)

    private static MemorizationListener.Builder memorization(MultiLayerNetwork n, InMemoryStatsStorage st) {
        LassParameters lass = LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                .withRadius(0.6).withAlpha(0.1).withBeta(0.05).withMaxIterations(10).withSeed(3);
        return MemorizationListener.builder(n, st).training(TRAIN).validation(HELD).trainingSize(48).validationSize(48)
                .lass(lass).csrBatchSize(48);
    }

    @Test
    void memorizationComputesTheCsrAtScheduledEpochsAndSensitivityAtScheduledIterations() {
        MultiLayerNetwork n = net();
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        MemorizationListener m = memorization(n, st).schedule(Schedule.atEpochs(1, 3))
                .sensitivitySchedule(Schedule.iterations(5)).attach();
        n.fit(train(), EPOCHS);
        m.close();
        m.close();
        assertThat(m.errorCount()).isZero();
        List<Memorization> r = records(st, m.sessionId(), Memorization.TYPE_ID, Memorization.class);
        assertThat(r).hasSize(EPOCHS); // one record per epoch, the CSR only where due
        assertThat(r.get(0).criticalSampleRatio()).isBetween(0.0, 1.0);
        assertThat(r.get(1).criticalSampleRatio()).isNaN();
        assertThat(r.get(2).criticalSampleRatio()).isBetween(0.0, 1.0);
        assertThat(envelopes(st, m.sessionId(), LossSensitivitySample.TYPE_ID))
                .extracting(StethoscopeRecord::getIteration).containsExactly(0L, 5L, 10L, 15L);

        // never: one sensitivity measurement per epoch, at its end
        MultiLayerNetwork n2 = net();
        InMemoryStatsStorage st2 = new InMemoryStatsStorage();
        MemorizationListener m2 = memorization(n2, st2).schedule(Schedule.never()).sensitivitySchedule(Schedule.never())
                .attach();
        n2.fit(train(), EPOCHS);
        m2.close();
        assertThat(records(st2, m2.sessionId(), LossSensitivitySample.TYPE_ID, LossSensitivitySample.class)).hasSize(EPOCHS);
        assertThat(records(st2, m2.sessionId(), Memorization.TYPE_ID, Memorization.class))
                .extracting(Memorization::criticalSampleRatio).allMatch(v -> Double.isNaN(v));

        assertThatThrownBy(() -> memorization(n, st).schedule(Schedule.epochs(2).andLast()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("totalEpochs");
        assertThatThrownBy(() -> memorization(n, st).schedule(Schedule.iterations(2)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[EPOCHS, EPOCH_LIST, NEVER]");
        assertThatThrownBy(() -> memorization(n, st).sensitivitySchedule(Schedule.epochs(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sensitivitySchedule")
                .hasMessageContaining("[ITERATIONS, NEVER]");
        MemorizationListener d = memorization(net(), st).build();
        assertThat(d.schedule()).isEqualTo(Schedule.epochs(1));
        assertThat(d.sensitivitySchedule()).isEqualTo(Schedule.iterations(50));
        d.close();
    }

    @Test
    void trainingDynamicsRecordsEveryEpochAndRefusesOtherSchedules() {
        assertThatThrownBy(() -> TrainingDynamicsListener.builder(net(), new InMemoryStatsStorage()).numExamples(192)
                .schedule(Schedule.epochs(2)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("epochs:1");
    }
}
