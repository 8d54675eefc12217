package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.TestNets;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.probes.similarity.SimilarityMethod;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.probes.linalg.BackendSelfTest;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ProbeListenersTest {
    private static final DataSet ALL = TestNets.blobs(7, 384, 8, 3);
    private static final DataSet TRAIN = ProbeData.rows(ALL, 0, 256);
    private static final DataSet PROBE = ProbeData.rows(ALL, 256, 384);

    private static DataSetIterator train() {
        return new ListDataSetIterator<>(TRAIN.copy().asList(), 32);
    }

    /** MLP with dropout, so that any use of ND4J's random generator by a monitor would change training. */
    private static MultiLayerNetwork net() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42).dataType(DataType.FLOAT).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(8).nOut(16).activation(Activation.RELU)
                        .dropOut(0.8).build())
                .layer(new DenseLayer.Builder().name("dense2").nIn(16).nOut(12).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(12).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    private static <T extends Record> List<T> records(InMemoryStatsStorage s, String session, String type, Class<T> c) {
        List<Persistable> all = s.getAllUpdatesAfter(session, type, 0);
        return all.stream().sorted(Comparator.comparingLong(Persistable::getTimeStamp))
                .map(p -> ((StethoscopeRecord) p).payload(c)).toList();
    }

    @Test
    void recordsForEveryLayerAndEpochAndTrainingUnchanged() {
        MultiLayerNetwork reference = net();
        reference.fit(train(), 3);

        MultiLayerNetwork monitored = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        LinearProbeListener probes = LinearProbeListener.builder(monitored, storage)
                .probeData(PROBE).schedule(Schedule.epochs(1).andLast().totalEpochs(3))
                .options(LinearProbe.Options.defaults().withIterations(100)).attach();
        SvccaListener svcca = SvccaListener.builder(monitored, storage)
                .probeInputs(PROBE.getFeatures()).schedule(Schedule.epochs(1).andLast().totalEpochs(3)).attach();
        monitored.fit(train(), 3);
        probes.close();
        svcca.close();

        assertThat(monitored.params()).as("monitors must not change training").isEqualTo(reference.params());
        assertThat(probes.errorCount()).isZero();
        assertThat(svcca.errorCount()).isZero();

        List<ProbeAccuracy> pr = records(storage, probes.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class);
        assertThat(pr).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(1, 2, 3);
        assertThat(pr).extracting(ProbeAccuracy::isFinal).containsExactly(false, false, true);
        for (ProbeAccuracy r : pr) {
            assertThat(r.layers()).containsExactly("dense1", "dense2");
            assertThat(r.trainExamples()).isEqualTo(64);
            assertThat(r.testExamples()).isEqualTo(64);
            assertThat(r.features()).containsExactly(16, 12);
            for (double a : r.testAccuracy()) {
                assertThat(a).isBetween(0.0, 1.0);
            }
            // the L2 chosen on a held-out split of probe-train, and the fit's gradient norm
            for (double l2 : r.l2()) {
                assertThat(LinearProbe.Options.DEFAULT_L2_GRID).contains(l2);
            }
            assertThat(r.gradientNorm()).hasSize(2);
            for (double g : r.gradientNorm()) {
                assertThat(g).isFinite().isNotNegative();
            }
        }
        // well-separated blobs: the last hidden layer is linearly decodable after training
        assertThat(pr.get(2).testAccuracy()[1]).isGreaterThan(0.9);

        List<SimilarityTable> sr = records(storage, svcca.sessionId(), SimilarityTable.TYPE_ID, SimilarityTable.class);
        List<SimilarityTable> matrices = sr.stream().filter(r -> r.kind().equals(SimilarityTable.LAYERS)).toList();
        assertThat(matrices).extracting(SimilarityTable::snapshotEpoch).containsExactly(0, 1, 2, 3);
        for (SimilarityTable m : matrices) {
            assertThat(m.rows()).containsExactly("dense1", "dense2", "out");
            assertThat(m.method()).isEqualTo("svcca");
            assertThat(m.dataPoints()).isEqualTo(128);
            for (int i = 0; i < 3; i++) {
                assertThat(m.value(i, i)).isCloseTo(1.0, within(1e-6));
                for (int j = 0; j < 3; j++) {
                    assertThat(m.value(i, j)).isBetween(0.0, 1.0 + 1e-9).isCloseTo(m.value(j, i), within(1e-12));
                }
            }
        }
        List<SimilarityTable> prev = sr.stream().filter(r -> r.kind().equals(SimilarityTable.VS_PREVIOUS)).toList();
        assertThat(prev).extracting(SimilarityTable::snapshotEpoch).containsExactly(1, 2, 3);
        assertThat(prev).extracting(SimilarityTable::referenceEpoch).containsExactly(0, 1, 2);
        assertThat(sr.stream().filter(r -> r.kind().equals(SimilarityTable.VS_LATEST)))
                .extracting(SimilarityTable::snapshotEpoch).containsExactly(0, 1, 2);
        List<SimilarityTable> fin = sr.stream().filter(r -> r.kind().equals(SimilarityTable.VS_FINAL)).toList();
        assertThat(fin).hasSize(1);
        SimilarityTable f = fin.get(0);
        assertThat(f.rowEpochs()).containsExactly(0, 1, 2, 3);
        for (int j = 0; j < 3; j++) {
            assertThat(f.value(3, j)).isEqualTo(1.0);
            assertThat(f.value(0, j)).isLessThan(1.0);
        }
    }

    @Test
    void snapshotsAreBoundedAndProbeSetIsCapturedFromTraining() {
        MultiLayerNetwork n = TestNets.mlp(3, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        SvccaListener svcca = SvccaListener.builder(n, storage).probeSize(64).maxSnapshots(3)
                .method(SimilarityMethod.CKA).async(false).attach();
        n.fit(train(), 5);
        svcca.close();
        assertThat(svcca.errorCount()).isZero();
        assertThat(svcca.keptSnapshotEpochs()).hasSize(3).startsWith(0).endsWith(5);
        List<SimilarityTable> sr = records(storage, svcca.sessionId(), SimilarityTable.TYPE_ID, SimilarityTable.class);
        assertThat(sr).allSatisfy(r -> {
            assertThat(r.dataPoints()).isEqualTo(64);
            assertThat(r.method()).isEqualTo("cka");
        });
        SimilarityTable fin = sr.stream().filter(r -> r.kind().equals(SimilarityTable.VS_FINAL)).findFirst().orElseThrow();
        assertThat(fin.rowEpochs()).hasSize(3);
        assertThat(fin.snapshotEpoch()).isEqualTo(5);
        // the default schedule (epochs(1).andLast(), no run length): close() publishes vs-final from the last snapshot
    }

    @Test
    void failedBackendSelfTestIsPublishedOncePerListener() {
        // Meaningful under both kernel settings: no record when the self-test passes (the default here),
        // exactly one per listener, naming the fix, when it fails (OPENBLAS_CORETYPE=SkylakeX on AVX-512)
        MultiLayerNetwork n = TestNets.mlp(5, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        SvccaListener svcca = SvccaListener.builder(n, storage).probeSize(64).method(SimilarityMethod.CKA).async(false).attach();
        n.fit(train(), 3);
        svcca.close();
        assertThat(svcca.errorCount()).isZero();
        List<MonitorError> errors = storage.getAllUpdatesAfter(svcca.sessionId(), MonitorError.TYPE_ID, 0)
                .stream().map(p -> ((StethoscopeRecord) p).payload(MonitorError.class)).toList();
        BackendSelfTest.Result r = BackendSelfTest.result();
        assertThat(errors).hasSize(r.passed() ? 0 : 1);
        for (MonitorError e : errors) {
            assertThat(e.phase()).isEqualTo("backend-self-test");
            assertThat(e.monitor()).isEqualTo(svcca.monitorName());
            assertThat(e.message()).contains("OPENBLAS_CORETYPE=Haswell").contains("EJML");
        }
    }

    @Test
    void closeProbesFinalParametersWithoutTotalEpochsOnce() {
        MultiLayerNetwork n = TestNets.mlp(4, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        LinearProbeListener probes = LinearProbeListener.builder(n, storage).probeData(PROBE).schedule(Schedule.epochs(2).andLast())
                .options(LinearProbe.Options.defaults().withIterations(50)).attach();
        n.fit(train(), 3);
        probes.close();
        probes.close();
        List<ProbeAccuracy> pr = records(storage, probes.sessionId(), ProbeAccuracy.TYPE_ID, ProbeAccuracy.class);
        assertThat(pr).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(2, 3);
        assertThat(pr).extracting(ProbeAccuracy::isFinal).containsExactly(false, true);
    }

    @Test
    void recordsRoundTripAndBuildersRejectBadConfiguration() {
        StethoscopeRecord s = StethoscopeRecord.of(SimilarityTable.of(SimilarityTable.LAYERS, "svcca", 2, 2, 100, List.of("a", "b"),
                new int[0], List.of("a", "b"), new double[]{1, 0.5, 0.5, Double.NaN}, new int[]{0, 0, 0, 1}));
        s.setKey("sess", "0/svcca", 5L, 1, 10L);
        StethoscopeRecord back = RecordTypes.newRecord(SimilarityTable.TYPE_ID);
        back.decode(s.encode());
        assertThat(back.toJson()).isEqualTo(s.toJson());
        assertThat(((List<?>) ((List<?>) back.toJson().get("values")).get(1)).get(1)).isNull();

        StethoscopeRecord p = StethoscopeRecord.of(new ProbeAccuracy(1, true, "FLATTEN", 10, 10, List.of("x"),
                new int[]{4}, new double[]{0.9}, new double[]{0.8}, new double[]{0.1}, new double[]{0.2}, null, null));
        p.setKey("sess", "0/probes", 6L, 0, 3L);
        StethoscopeRecord pb = RecordTypes.newRecord(ProbeAccuracy.TYPE_ID);
        pb.decode(p.encode());
        assertThat(pb.toJson()).isEqualTo(p.toJson());

        MultiLayerNetwork n = TestNets.mlp(5, 8, 16, 12, 3);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> SvccaListener.builder(n, storage).layers("dense9").build())
                .hasMessageContaining("dense9").hasMessageContaining("dense1");
        assertThatThrownBy(() -> SvccaListener.builder(n, storage).method("cca3"))
                .hasMessageContaining("svcca, pwcca, cka");
        assertThatThrownBy(() -> LinearProbeListener.builder(n, storage).build())
                .hasMessageContaining("probeData");
    }
}
