package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.Suspects;
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
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code train --model twoview --preset full} on a real MNIST slice: every monitor of the preset attaches to the
 * two-input graph and publishes without a monitor error (attributions per input, feature snapshots naming the inputs
 * that reach each layer, a unit after the merge with images in both halves); {@code explain --model} and
 * {@code features RUN} read the run.
 */
class TwoviewRunTest {

    @Test
    void everyMonitorRecordsOnTheTwoInputGraphAndExplainAndFeaturesReadTheRun(@TempDir Path tmp) throws Exception {
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--model", "twoview", "--train-limit", "1000", "--test-limit", "200", "--epochs", "1",
                "--no-ui", "--preset", "full", "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        assertThat(run.resolve(TrainCommand.SKIPPED_FILE)).doesNotExist(); // every monitor of the preset attached
        Map<String, List<StethoscopeRecord>> byType = new TreeMap<>();
        FileStatsStorage storage = new FileStatsStorage(run.resolve("stats.dl4j").toFile());
        try {
            for (StethoscopeRecord r : ExportCommand.read(storage,
                    new java.util.HashSet<>(dev.stethoscope.listeners.records.RecordTypes.typeIds()))) {
                Class<? extends Record> type = dev.stethoscope.listeners.records.RecordTypes.payloadClass(r.getPayloadTypeID());
                if (r.holds(type)) { // updates, not the static run information
                    byType.computeIfAbsent(r.getPayloadTypeID(), k -> new ArrayList<>()).add(r);
                }
            }
        } finally {
            storage.close();
        }
        assertThat(byType.keySet()).contains(Health.TYPE_ID, Suspects.TYPE_ID, ProbeAccuracy.TYPE_ID,
                SimilarityTable.TYPE_ID, Memorization.TYPE_ID, AttributionMaps.TYPE_ID, FeatureSnapshot.TYPE_ID,
                FeatureProjection.TYPE_ID);
        assertThat(byType.getOrDefault(MonitorError.TYPE_ID, List.of())).as("monitor errors").isEmpty();

        // attributions per input: the top half's maps, the bottom half in otherInputs, each 14x28
        AttributionMaps maps = byType.get(AttributionMaps.TYPE_ID).get(0).payload(AttributionMaps.class);
        assertThat(maps.inputName()).isEqualTo("top");
        assertThat(maps.height()).isEqualTo(14);
        assertThat(maps.width()).isEqualTo(28);
        assertThat(maps.otherInputs()).hasSize(1);
        assertThat(maps.otherInputs().get(0).name()).isEqualTo("bottom");
        assertThat(maps.otherInputs().get(0).height()).isEqualTo(14);

        // feature snapshots: each stem in its own half, mix and dense in both
        List<FeatureSnapshot> snaps = new ArrayList<>();
        for (StethoscopeRecord r : byType.get(FeatureSnapshot.TYPE_ID)) {
            snaps.add(r.payload(FeatureSnapshot.class));
        }
        assertThat(snaps).extracting(FeatureSnapshot::layerName)
                .containsExactly("top-conv", "bottom-conv", "mix", "dense");
        assertThat(snaps).extracting(s -> String.join("+", s.inputs()))
                .containsExactly("top", "bottom", "top+bottom", "top+bottom");
        assertThat(snaps.get(0).filters()).hasSize(12);
        assertThat(snaps.get(1).filters()).hasSize(12);
        FeatureSnapshot mix = snaps.get(2);
        assertThat(mix.units()).isNotEmpty().allSatisfy(u -> {
            assertThat(u.examples()).hasSize(9);
            assertThat(u.input()).isEqualTo("top");
            assertThat(u.projections()).hasSize(9);
            assertThat(u.otherInputs()).hasSize(1);
            assertThat(u.otherInputs().get(0).name()).isEqualTo("bottom");
            assertThat(u.otherInputs().get(0).projections()).hasSize(9);
            // a 3x3 conv over two 2x2 pools over 5x5 convs: a 10x10 window of each 14x28 half
            assertThat(u.crops()).allSatisfy(c -> assertThat(c.width()).isLessThanOrEqualTo(10));
        });

        // explain reads the two-input model: the map of the whole digit, relevance per half
        Path png = tmp.resolve("ig.png");
        assertThat(Main.run("explain", "--model", run.resolve("model.zip").toString(), "--data",
                mnist.directory().toString(), "--index", "0", "--method", "ig", "--out", png.toString())).isZero();
        assertThat(ImageIO.read(png.toFile())).isNotNull();
        assertThat(Files.size(ExplainCommand.npyFile(png.toFile()).toPath())).isGreaterThan(28 * 28 * 4);
        assertThat(Main.run("explain", "--model", run.resolve("model.zip").toString(), "--data",
                mnist.directory().toString(), "--index", "0", "--method", "occlusion", "--out", png.toString())).isNotZero();

        // features renders the layer after the merge, each cell the top half's projection over the bottom half's
        Path grid = tmp.resolve("mix.png");
        assertThat(Main.run("features", run.resolve("stats.dl4j").toString(), "--layer", "mix", "--units", "0-1",
                "--cell", "20", "--out", grid.toString())).isZero();
        BufferedImage img = ImageIO.read(grid.toFile());
        assertThat(img.getWidth()).isEqualTo(40 + 24 + 4);
        assertThat(img.getHeight()).isEqualTo(20 + 2 * 24 + 4);
    }
}
