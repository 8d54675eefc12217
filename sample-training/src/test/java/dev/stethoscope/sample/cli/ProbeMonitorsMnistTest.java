package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The train command on a slice of real MNIST writes probe and similarity records for every layer and epoch. */
class ProbeMonitorsMnistTest {

    @Test
    void probeAndSimilarityRecordsForEveryLayerAndEpoch(@TempDir Path tmp) throws Exception {
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--train-limit", "1024", "--test-limit", "400", "--epochs", "2", "--no-ui",
                "--preset", "full", "--attribution-every", "0", "--health-every", "4", "--probe-examples", "400",
                "--similarity-examples", "300",
                "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        FileStatsStorage storage = new FileStatsStorage(run.resolve("stats.dl4j").toFile());
        try {
            String session = TrainAndViewTest.sessionOf(storage, "run");
            List<ProbeAccuracy> probes = storage.getAllUpdatesAfter(session, ProbeAccuracy.TYPE_ID, 0).stream()
                    .sorted(Comparator.comparingLong(Persistable::getTimeStamp)).map(p -> ((StethoscopeRecord) p).payload(ProbeAccuracy.class)).toList();
            assertThat(probes).extracting(ProbeAccuracy::snapshotEpoch).containsExactly(1, 2);
            for (ProbeAccuracy r : probes) {
                assertThat(r.layers()).containsExactly("dense");
                assertThat(r.trainExamples()).isEqualTo(200);
                // a 512-unit ReLU layer of an MLP trained on MNIST is linearly decodable far above chance
                assertThat(r.testAccuracy()[0]).isGreaterThan(0.6);
            }
            List<SimilarityTable> sims = storage.getAllUpdatesAfter(session, SimilarityTable.TYPE_ID, 0).stream()
                    .map(p -> ((StethoscopeRecord) p).payload(SimilarityTable.class)).toList();
            assertThat(sims.stream().filter(s -> s.kind().equals(SimilarityTable.LAYERS)))
                    .extracting(SimilarityTable::snapshotEpoch).containsExactlyInAnyOrder(0, 1, 2);
            SimilarityTable fin = sims.stream().filter(s -> s.kind().equals(SimilarityTable.VS_FINAL)).findFirst().orElseThrow();
            assertThat(fin.columns()).containsExactly("dense", "output");
            assertThat(fin.rowEpochs()).containsExactly(0, 1, 2);
            assertThat(fin.dataPoints()).isEqualTo(300);
            for (int j = 0; j < 2; j++) {
                assertThat(fin.value(2, j)).isEqualTo(1.0);
                assertThat(fin.value(0, j)).isBetween(0.0, 1.0);
            }
        } finally {
            storage.close();
        }
    }
}
