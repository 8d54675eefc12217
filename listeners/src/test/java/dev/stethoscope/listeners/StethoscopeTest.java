package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.linear.LinearProbe;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StethoscopeTest {
    private static final DataSet ALL = TestNets.blobs(11, 448, 8, 3);
    private static final DataSet TRAIN = rows(ALL, 0, 256);
    private static final DataSet PROBE = rows(ALL, 256, 448);
    private static final Schedule EVERY_EPOCH_OF_3 = Schedule.epochs(1).andLast().totalEpochs(3);
    private static final LinearProbe.Options FAST = LinearProbe.Options.defaults().withIterations(60);

    private static DataSet rows(DataSet d, long from, long to) {
        return new DataSet(d.getFeatures().get(NDArrayIndex.interval(from, to)).dup(),
                d.getLabels().get(NDArrayIndex.interval(from, to)).dup());
    }

    private static DataSetIterator train() {
        return new ListDataSetIterator<>(TRAIN.copy().asList(), 32);
    }

    private static MultiLayerNetwork net() {
        return TestNets.mlp(42, 8, 16, 12, 3);
    }

    private static INDArray probeTrainInputs() {
        long n = PROBE.numExamples();
        int[] even = new int[(int) ((n + 1) / 2)];
        for (int i = 0; i < even.length; i++) {
            even[i] = 2 * i;
        }
        return PROBE.getFeatures().getRows(even).dup();
    }

    /** The probes, similarity and health monitors, as the BUSINESS preset configures them (3 epochs). */
    private static List<StethoscopeListener.Builder<?, ?>> builders(Model net, StatsStorageRouter storage) {
        // health first: its epoch-end task runs before the probes', and still reads their pass
        return List.of(
                HealthListener.builder(net, storage).probeInputs(probeTrainInputs()).probeBatchSize(40),
                LinearProbeListener.builder(net, storage).probeData(PROBE).schedule(EVERY_EPOCH_OF_3).options(FAST),
                SvccaListener.builder(net, storage).probeInputs(probeTrainInputs()).schedule(EVERY_EPOCH_OF_3));
    }

    /** Each record's body (the values, not the session, worker or timestamp), in publication order per type. */
    private static List<String> bodies(InMemoryStatsStorage s, String type) {
        List<String> out = new ArrayList<>();
        for (String session : s.listSessionIDs()) {
            List<Persistable> all = new ArrayList<>(s.getAllUpdatesAfter(session, type, 0));
            all.sort(Comparator.comparingLong(Persistable::getTimeStamp));
            for (Persistable p : all) {
                Map<String, Object> m = new java.util.LinkedHashMap<>(((StethoscopeRecord) p).toJson());
                m.remove("sessionId");
                m.remove("workerId");
                m.remove("timestamp");
                StringBuilder b = new StringBuilder();
                m.forEach((k, v) -> b.append(k).append('=').append(Arrays.deepToString(new Object[]{v})).append(';'));
                out.add(b.toString());
            }
        }
        return out;
    }

    /** Every decimal number in the bodies rounded to 5 significant digits. */
    private static List<String> rounded(List<String> bodies) {
        java.util.regex.Pattern num = java.util.regex.Pattern.compile("-?\\d+\\.\\d+(E-?\\d+)?");
        return bodies.stream().map(b -> num.matcher(b).replaceAll(m -> String.format(java.util.Locale.ROOT, "%.4e",
                Double.parseDouble(m.group())))).toList();
    }

    @Test
    void sharedContextGivesTheStandaloneRecordsWithOneForwardPassPerProbeSetAndSnapshot() {
        MultiLayerNetwork reference = net();
        reference.fit(train(), 3);

        MultiLayerNetwork alone = net();
        InMemoryStatsStorage aloneStorage = new InMemoryStatsStorage();
        List<StethoscopeListener> listeners = new ArrayList<>();
        for (StethoscopeListener.Builder<?, ?> b : builders(alone, aloneStorage)) {
            listeners.add(b.attach());
        }
        alone.fit(train(), 3);
        listeners.forEach(StethoscopeListener::close);

        MultiLayerNetwork shared = net();
        InMemoryStatsStorage sharedStorage = new InMemoryStatsStorage();
        Stethoscope handle = Stethoscope.attach(shared, sharedStorage,
                builders(shared, sharedStorage).toArray(new StethoscopeListener.Builder<?, ?>[0]));
        shared.fit(train(), 3);
        handle.close();

        // training untouched
        assertThat(shared.params()).isEqualTo(reference.params());
        assertThat(alone.params()).isEqualTo(reference.params());
        // same records as the monitors built alone
        for (String type : List.of(ProbeAccuracy.TYPE_ID, SimilarityTable.TYPE_ID, Health.TYPE_ID)) {
            List<String> a = bodies(aloneStorage, type);
            assertThat(a).as(type).isNotEmpty();
            if (type.equals(Health.TYPE_ID)) {
                // health publishes its probe-batch record one callback later with a context: compare as sets;
                // its batch is sliced from the probe-train set's pass (a GEMM over 96 rows, not 40): the
                // activation statistics agree to float rounding, so they are rounded to 5 significant digits
                assertThat(rounded(bodies(sharedStorage, type))).as(type)
                        .containsExactlyInAnyOrderElementsOf(rounded(a));
            } else {
                assertThat(bodies(sharedStorage, type)).as(type).containsExactlyElementsOf(a);
            }
        }
        // one forward pass per probe set and snapshot: 3 epoch ends x (probe-train, probe-test) + the
        // initial similarity snapshot; alone, similarity and health would each have run their own pass
        assertThat(handle.context().forwardPasses()).isEqualTo(3 * 2 + 1);
        // served from the cache at each epoch end: the probes' probe-train set (computed for health) and similarity
        assertThat(handle.context().cacheHits()).isEqualTo(3 * 2);
        // and not held between analysis points: dropped after the initial snapshot's tasks and after each
        // epoch end's (the records above are the same as without the release)
        assertThat(handle.context().releases()).isEqualTo(1 + 3);
    }

    @Test
    void cpuAccountingTimesEveryCallbackAndTaskWithoutChangingTrainingOrRecords() {
        MultiLayerNetwork reference = net();
        InMemoryStatsStorage referenceStorage = new InMemoryStatsStorage();
        Stethoscope plain = Stethoscope.attach(reference, referenceStorage,
                builders(reference, referenceStorage).toArray(new StethoscopeListener.Builder<?, ?>[0]));
        reference.fit(train(), 3);
        plain.close();

        dev.stethoscope.listeners.core.CpuAccounting.reset();
        dev.stethoscope.listeners.core.CpuAccounting.enable();
        try {
            MultiLayerNetwork net = net();
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            Stethoscope handle = Stethoscope.attach(net, storage,
                    builders(net, storage).toArray(new StethoscopeListener.Builder<?, ?>[0]));
            net.fit(train(), 3);
            handle.close();
            var totals = dev.stethoscope.listeners.core.CpuAccounting.totals();
            // 256 examples in batches of 32: 8 iterations per epoch, 3 epochs; every callback goes through the wrapper
            assertThat(totals.get("training thread: health.iterationDone").calls()).isEqualTo(24);
            assertThat(totals.get("training thread: probes.onEpochEnd").calls()).isEqualTo(3);
            assertThat(totals.get("training thread: svcca.onForwardPass").calls()).isEqualTo(24);
            // the analyses ran on the shared thread and were timed there: the probes at 3 epoch ends
            assertThat(totals.entrySet()).anySatisfy(e -> {
                assertThat(e.getKey()).contains("stethoscope-probe").endsWith(" task");
                assertThat(e.getValue().calls()).isEqualTo(3);
                assertThat(e.getValue().cpuNanos()).isPositive();
            });
            assertThat(totals.keySet()).anySatisfy(k -> assertThat(k).endsWith("probes.close"));
            assertThat(dev.stethoscope.listeners.core.CpuAccounting.report())
                    .contains("training thread: health.iterationDone").contains("NativeMemory collections");
            // measuring changes nothing: same parameters, same records
            assertThat(net.params()).isEqualTo(reference.params());
            for (String type : List.of(ProbeAccuracy.TYPE_ID, SimilarityTable.TYPE_ID)) {
                assertThat(bodies(storage, type)).as(type).containsExactlyElementsOf(bodies(referenceStorage, type));
            }
        } finally {
            dev.stethoscope.listeners.core.CpuAccounting.disable();
            dev.stethoscope.listeners.core.CpuAccounting.reset();
        }
    }

    @Test
    void closeClosesEveryMonitorEvenWhenOneFailsAndIsIdempotent() {
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AtomicInteger closes = new AtomicInteger();
        Failing.Builder failing = new Failing.Builder(net, storage, closes);
        Stethoscope handle = Stethoscope.attach(net, storage, failing,
                LinearProbeListener.builder(net, storage).probeData(PROBE).options(FAST));
        net.fit(train(), 2);
        handle.close(); // the failing close is logged; the probes still finish (final snapshot) and publish
        handle.close();
        assertThat(closes.get()).isEqualTo(1);
        assertThat(bodies(storage, ProbeAccuracy.TYPE_ID)).hasSize(2);
        assertThat(handle.context().executor().isShutdown()).isTrue();
    }

    @Test
    void presetsNameWhatIsMissingAndAttachWhatTheyPromise() {
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> Stethoscope.attach(net, storage, Stethoscope.Preset.BUSINESS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("numExamples").hasMessageContaining("probeData")
                .hasMessageContaining("training(").hasMessageContaining("validation(");
        assertThatThrownBy(() -> Stethoscope.Preset.parse("first"))
                .hasMessageContaining("economy, business, full");
        assertThat(net.getListeners()).isEmpty(); // nothing attached by a failed attach

        try (Stethoscope economy = Stethoscope.preset(Stethoscope.Preset.ECONOMY).numExamples(256).attach(net, storage)) {
            assertThat(economy.monitors()).hasSize(2);
            assertThat(economy.monitor(HealthListener.class)).isNotNull();
            assertThat(economy.monitor(TrainingDynamicsListener.class)).isNotNull();
        }

        MultiLayerNetwork net2 = net();
        try (Stethoscope business = Stethoscope.preset(Stethoscope.Preset.BUSINESS).numExamples(256)
                .probeData(PROBE).training(train()).validation(new ListDataSetIterator<>(PROBE.copy().asList(), 64))
                .totalEpochs(2).tune(LinearProbeListener.Builder.class, b -> b.options(FAST))
                .tune(MemorizationListener.Builder.class,
                        b -> b.lass(LassParameters.defaults().withInputRange(-20, 20)).validationSize(32))
                .attach(net2, storage)) {
            assertThat(business.monitors()).extracting(StethoscopeListener::monitorName)
                    .containsExactly("health", "training-dynamics", "probes", "svcca", "memorization");
        }
    }

    @Test
    void trackOfNullIsRefusedWithOrWithoutATrackingMonitor() {
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (Stethoscope none = Stethoscope.attach(net, storage, HealthListener.builder(net, storage))) {
            // no monitor reads the batches: before, the null came back and failed later inside fit
            assertThatThrownBy(() -> none.track(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("iterator");
            DataSetIterator it = train();
            assertThat(none.track(it)).isSameAs(it);
        }
        MultiLayerNetwork net2 = net();
        try (Stethoscope economy = Stethoscope.preset(Stethoscope.Preset.ECONOMY).numExamples(256).attach(net2, storage)) {
            assertThatThrownBy(() -> economy.track(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("iterator");
            TrainingDynamicsListener dynamics = economy.monitor(TrainingDynamicsListener.class);
            // one method per iterator type, so a literal null compiles and names what is missing
            assertThatThrownBy(() -> dynamics.track(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("iterator");
            assertThatThrownBy(() -> dynamics.trackMulti(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("iterator");
        }
    }

    /** A monitor whose close throws (and counts its calls). */
    static final class Failing extends StethoscopeListener {
        private final AtomicInteger closes;

        Failing(Builder b) {
            super(b);
            this.closes = b.closes;
        }

        @Override
        public String monitorName() {
            return "failing";
        }

        @Override
        protected Map<String, String> settings() {
            return Map.of();
        }

        @Override
        public void close() {
            closes.incrementAndGet();
            throw new IllegalStateException("close fails on purpose");
        }

        static final class Builder extends StethoscopeListener.Builder<Builder, Failing> {
            private final AtomicInteger closes;

            Builder(Model model, StatsStorageRouter router, AtomicInteger closes) {
                super(model, router);
                this.closes = closes;
            }

            @Override
            public Failing build() {
                return new Failing(this);
            }
        }
    }
}
