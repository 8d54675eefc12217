package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The features command on a run written by a real short LeNet training on a slice of MNIST. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FeaturesCommandTest {
    Path tmp;
    Path stats;
    final List<FeatureSnapshot> conv1 = new ArrayList<>();

    @BeforeAll
    void train(@TempDir Path dir) {
        tmp = dir;
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--model", "cnn", "--train-limit", "384", "--test-limit", "100", "--epochs", "2",
                "--no-ui", "--preset", "full", "--features", "1,2", "--memorization-every", "0", "--attribution-every", "0",
                "--probe-every", "0", "--similarity-every", "0",
                "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        stats = run.resolve("stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(stats.toFile());
        try {
            for (StethoscopeRecord r : ExportCommand.read(storage, Set.of(FeatureSnapshot.TYPE_ID))) {
                if (r.holds(FeatureSnapshot.class) && r.payload(FeatureSnapshot.class).layer() == 0) {
                    conv1.add(r.payload(FeatureSnapshot.class));
                }
            }
        } finally {
            storage.close();
        }
        assertThat(conv1).extracting(FeatureSnapshot::snapshotEpoch).containsExactly(1, 2);
    }

    @Test
    void rendersUnitsByEpochsWithTheTop1ProjectionAndChangeFrames() throws Exception {
        Path png = tmp.resolve("grid.png");
        int code = Main.run("features", stats.toString(), "--layer", "0", "--units", "0-3", "--cell", "20",
                "--out", png.toString());
        assertThat(code).isZero();
        BufferedImage img = ImageIO.read(png.toFile());
        // left 40 + 2 columns of (20 + 4) + 4; top 20 + 4 rows of (20 + 4) + 4
        assertThat(img.getWidth()).isEqualTo(40 + 2 * 24 + 4);
        assertThat(img.getHeight()).isEqualTo(20 + 4 * 24 + 4);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 2; c++) {
                FeatureSnapshot.FeatureUnit u = FeaturesCommand.unitOf(conv1.get(c), r);
                FeatureSnapshot.FeatureImage p = u.projections().get(0);
                int x0 = 40 + c * 24 + 4;
                int y0 = 20 + r * 24 + 4;
                // the cell's top-left pixel is the projection's first pixel, min-max scaled to grey
                float lo = Float.POSITIVE_INFINITY;
                float hi = Float.NEGATIVE_INFINITY;
                for (float v : p.pixels()) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
                int grey = (int) Math.round(255 * (p.pixels()[0] - (double) lo) / (hi - (double) lo));
                assertThat(img.getRGB(x0, y0) & 0xff).as("unit %d epoch %d", r, c + 1).isEqualTo(grey);
                // a red frame just outside the cell exactly where the top-1 example changed
                int frame = img.getRGB(x0 - 1, y0 + 5) & 0xffffff;
                assertThat(frame == 0xff0000).as("frame of unit %d epoch %d", r, c + 1).isEqualTo(u.top1Changed());
            }
        }
    }

    @Test
    void unknownLayerOrUnitListsTheChoices() {
        assertThat(Main.run("features", stats.toString(), "--layer", "nope", "--out", tmp.resolve("x.png").toString()))
                .isNotZero();
        assertThat(Main.run("features", stats.toString(), "--layer", "0", "--units", "0-99",
                "--out", tmp.resolve("y.png").toString())).isNotZero();
        assertThat(tmp.resolve("x.png")).doesNotExist();
    }
}
