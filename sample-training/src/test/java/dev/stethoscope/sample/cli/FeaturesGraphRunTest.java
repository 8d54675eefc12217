package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code train --model resnet --preset full} attaches feature evolution to the residual ComputationGraph (real MNIST
 * slice), its records name graph vertices, and {@code features} renders a graph layer from the stored run.
 */
class FeaturesGraphRunTest {

    @Test
    void resnetRunHasFeatureSnapshotsOfGraphLayersAndTheFeaturesCommandRendersThem(@TempDir Path tmp) throws Exception {
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--model", "resnet", "--train-limit", "256", "--test-limit", "100", "--epochs", "1",
                "--no-ui", "--preset", "full", "--features", "1", "--memorization-every", "0", "--attribution-every", "0",
                "--probe-every", "0", "--similarity-every", "0",
                "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        Path skipped = run.resolve(TrainCommand.SKIPPED_FILE);
        if (Files.exists(skipped)) {
            assertThat(Files.readString(skipped)).doesNotContain("FeatureEvolution");
        }
        List<FeatureSnapshot> snaps = new ArrayList<>();
        FileStatsStorage storage = new FileStatsStorage(run.resolve("stats.dl4j").toFile());
        try {
            for (StethoscopeRecord r : ExportCommand.read(storage, Set.of(FeatureSnapshot.TYPE_ID))) {
                if (r.holds(FeatureSnapshot.class)) {
                    snaps.add(r.payload(FeatureSnapshot.class));
                }
            }
        } finally {
            storage.close();
        }
        assertThat(snaps).extracting(FeatureSnapshot::layerName)
                .containsExactly("stem", "b1-conv1", "b1-conv2", "b2-conv1", "b2-conv2");
        assertThat(snaps.get(0).filters()).isNotEmpty(); // the stem is the first layer
        assertThat(snaps).allSatisfy(s -> assertThat(s.units()).allSatisfy(u -> {
            assertThat(u.examples()).hasSize(9);
            assertThat(u.projections()).hasSize(9);
        }));
        Path png = tmp.resolve("grid.png");
        assertThat(Main.run("features", run.resolve("stats.dl4j").toString(), "--layer", "b1-conv2", "--units", "0-1",
                "--cell", "20", "--out", png.toString())).isZero();
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(40 + 24 + 4); // one epoch column
        assertThat(img.getHeight()).isEqualTo(20 + 2 * 24 + 4); // two unit rows
    }
}
