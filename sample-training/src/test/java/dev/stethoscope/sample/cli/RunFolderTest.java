package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.plugin.StatsFiles;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code train --out} on a folder that holds a run: refused, {@code --force} starts afresh, {@code --resume} continues. */
class RunFolderTest {
    static final int ITERATIONS = KillDuringTrainingTest.TRAIN / 128;

    private static String[] train(Path data, Path run, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--no-ui", "--epochs", "1", "--label-noise", "0.1",
                "--health-every", "1", "--probe-every", "0", "--similarity-every", "0", "--memorization-every", "0",
                "--attribution-every", "0", "--data", data.toString(), "--out", run.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    private static Set<Long> healthIterations(Path run) {
        FileStatsStorage st = StatsFiles.open(run.resolve("stats.dl4j").toFile());
        try {
            Set<Long> its = new TreeSet<>();
            for (StethoscopeRecord r : RecordReader.updates(st, TrainAndViewTest.sessionOf(st, "run"), Health.TYPE_ID, -1)) {
                its.add(r.getIteration());
            }
            return its;
        } finally {
            st.close();
        }
    }

    /** Health records of exactly {@code epochs} epochs: every iteration, none beyond the last epoch's end. */
    private static void assertEpochs(Set<Long> its, int epochs) {
        for (long i = 0; i < (long) epochs * ITERATIONS; i++) {
            assertThat(its).contains(i);
        }
        assertThat(((TreeSet<Long>) its).last()).isLessThanOrEqualTo((long) epochs * ITERATIONS);
    }

    private static int epochsOf(Path run) throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(run.resolve("model.zip").toFile());
        return net.getEpochCount();
    }

    @Test
    void refusedForcedAndResumed(@TempDir Path tmp) throws Exception {
        Path data = KillDuringTrainingTest.generatedData(tmp.resolve("data"));
        Path run = tmp.resolve("run");
        assertThat(BadInputTest.run(train(data, run))[0]).isEqualTo("0");
        assertThat(epochsOf(run)).isEqualTo(1);
        assertEpochs(healthIterations(run), 1);
        String flipped = Files.readString(run.resolve("flipped-labels.txt"));

        // reused without a flag: refused, nothing touched
        String[] refused = BadInputTest.run(train(data, run));
        assertThat(refused[0]).isEqualTo("1");
        assertThat(refused[2]).contains("already holds a run").contains("--resume").contains("--force");
        assertEpochs(healthIterations(run), 1);

        // --resume with other label noise: refused
        String[] other = BadInputTest.run(train(data, run, "--resume", "--seed", "7"));
        assertThat(other[0]).isEqualTo("1");
        assertThat(other[2]).contains("--seed 7 (the run used 42)");
        // ...and with another slice or batch size, though the label noise alone would not tell
        String[] slice = BadInputTest.run(train(data, run, "--resume", "--test-limit", "50", "--batch", "64"));
        assertThat(slice[0]).isEqualTo("1");
        assertThat(slice[2]).contains("--test-limit 50 (the run used 0)").contains("--batch 64 (the run used 128)")
                .contains("run-settings.properties");
        assertEpochs(healthIterations(run), 1);

        // --resume: the saved model goes on, the same session grows, the flipped labels stay
        String[] resumed = BadInputTest.run(train(data, run, "--resume"));
        assertThat(resumed[0]).as(resumed[2]).isEqualTo("0");
        assertThat(epochsOf(run)).isEqualTo(2);
        Set<Long> its = healthIterations(run);
        assertEpochs(its, 2);
        assertThat(Files.readString(run.resolve("flipped-labels.txt"))).isEqualTo(flipped);

        // --force: the old run's files are deleted, a fresh run is written
        Files.writeString(run.resolve("notes.txt"), "mine");
        String[] forced = BadInputTest.run(train(data, run, "--force", "--seed", "7"));
        assertThat(forced[0]).as(forced[2]).isEqualTo("0");
        assertThat(epochsOf(run)).isEqualTo(1);
        assertEpochs(healthIterations(run), 1);
        assertThat(Files.readString(run.resolve("flipped-labels.txt"))).isNotEqualTo(flipped);
        assertThat(run.resolve("notes.txt")).hasContent("mine");
    }

    @Test
    void aComputationGraphRunResumes(@TempDir Path tmp) throws Exception {
        Path data = KillDuringTrainingTest.generatedData(tmp.resolve("data"));
        Path run = tmp.resolve("run");
        String[] first = BadInputTest.run(train(data, run, "--model", "resnet", "--train-limit", "256", "--preset", "economy"));
        assertThat(first[0]).as(first[2]).isEqualTo("0");
        String[] resumed = BadInputTest.run(train(data, run, "--model", "resnet", "--train-limit", "256", "--preset",
                "economy", "--resume"));
        assertThat(resumed[0]).as(resumed[2]).isEqualTo("0");
        org.deeplearning4j.nn.graph.ComputationGraph g = ModelSerializer.restoreComputationGraph(
                run.resolve("model.zip").toFile());
        assertThat(g.getEpochCount()).isEqualTo(2);
        // the model flag is part of the run's settings
        String[] other = BadInputTest.run(train(data, run, "--train-limit", "256", "--preset", "economy", "--resume"));
        assertThat(other[0]).isEqualTo("1");
        assertThat(other[2]).contains("--model mlp (the run used resnet)");
    }

    @Test
    void whenTrainingFailsTheLastAnalysesStillReachTheStatsFile(@TempDir Path tmp) throws Exception {
        Path data = KillDuringTrainingTest.generatedData(tmp.resolve("data"));
        Path run = tmp.resolve("run");
        // a folder where the first checkpoint should go: saving it fails after epoch 1, mid-training
        Files.createDirectories(run.resolve("checkpoint-epoch-1.zip"));
        String[] r = BadInputTest.run("train", "--no-ui", "--epochs", "3", "--checkpoint-every", "1",
                "--attribution-every", "0", "--probe-examples", "200", "--similarity-examples", "200",
                "--csr-examples", "20", "--data", data.toString(), "--out", run.toString());
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("checkpoint-epoch-1.zip");
        FileStatsStorage st = StatsFiles.open(run.resolve("stats.dl4j").toFile());
        try {
            String session = TrainAndViewTest.sessionOf(st, "run");
            for (String type : List.of(dev.stethoscope.listeners.records.ProbeAccuracy.TYPE_ID,
                    dev.stethoscope.listeners.records.SimilarityTable.TYPE_ID,
                    dev.stethoscope.listeners.records.Memorization.TYPE_ID,
                    dev.stethoscope.listeners.records.Suspects.TYPE_ID)) {
                assertThat(RecordReader.updates(st, session, type, -1)).as("%s of epoch 1", type).isNotEmpty();
            }
        } finally {
            st.close();
        }
    }
}
