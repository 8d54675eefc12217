package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.plugin.StatsFiles;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.IdxWriter;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real training process killed with SIGKILL mid-epoch: its stats file, reopened as the
 * {@code view} command opens it, shows every epoch that completed before the kill (DL4J's
 * StatsListener records and Stethoscope's per-iteration health records of every iteration of
 * those epochs).
 */
class KillDuringTrainingTest {
    static final int TRAIN = 1024;
    static final int BATCH = 64;
    static final int ITERATIONS_PER_EPOCH = TRAIN / BATCH;
    static final int COMPLETED = 3;

    @Test
    void everyEpochCompletedBeforeKillMinus9IsInTheStatsFile(@TempDir Path tmp) throws Exception {
        Path data = generatedData(tmp.resolve("data"));
        Path run = tmp.resolve("run");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-Dorg.bytedeco.javacpp.maxbytes=2G", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "train", "--no-ui", "--epochs", "1000", "--batch", String.valueOf(BATCH),
                "--health-every", "1", "--probe-every", "0", "--similarity-every", "0", "--memorization-every", "0",
                "--attribution-every", "0", "--data", data.toString(), "--out", run.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        reader.setDaemon(true);
        reader.start();
        StringBuilder seen = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        try {
            while (true) {
                String l = lines.poll(1, TimeUnit.SECONDS);
                if (l != null) {
                    seen.append(l).append('\n');
                    if (l.startsWith("epoch " + COMPLETED + " done")) {
                        break;
                    }
                }
                assertThat(p.isAlive() || l != null).as("training ended early:\n%s", seen).isTrue();
                assertThat(System.nanoTime()).as("no epoch %d within 5 minutes:\n%s", COMPLETED, seen).isLessThan(deadline);
            }
            Thread.sleep(200); // well inside the next epoch
            // while the training runs, its file is locked: opening it says so
            File live = run.resolve("stats.dl4j").toFile();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> StatsFiles.open(live))
                    .hasMessageContaining("in use by another process");
        } finally {
            p.destroyForcibly(); // SIGKILL
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(p.exitValue()).as("killed by SIGKILL").isEqualTo(137);

        File stats = run.resolve("stats.dl4j").toFile();
        FileStatsStorage storage = StatsFiles.open(stats); // as the view command opens it
        try {
            String session = TrainAndViewTest.sessionOf(storage, "run");
            List<StethoscopeRecord> health = RecordReader.updates(storage, session, Health.TYPE_ID, -1);
            Set<Long> iterations = new TreeSet<>();
            for (StethoscopeRecord r : health) {
                iterations.add(r.getIteration());
            }
            for (long it = 0; it < (long) COMPLETED * ITERATIONS_PER_EPOCH; it++) {
                assertThat(iterations).as("health record of iteration %d (epochs 1..%d completed)", it, COMPLETED)
                        .contains(it);
            }
            String dl4j = session + "-dl4j";
            assertThat(storage.listSessionIDs()).contains(session, dl4j);
            int dl4jUpdates = 0;
            for (String type : storage.listTypeIDsForSession(dl4j)) {
                for (String w : storage.listWorkerIDsForSessionAndType(dl4j, type)) {
                    List<Persistable> u = storage.getAllUpdatesAfter(dl4j, type, w, 0);
                    dl4jUpdates += u.size();
                }
            }
            System.out.printf("kill -9 after epoch %d: %d health records (iterations %s..%s), %d DL4J updates, stats "
                            + "files %s%n",
                    COMPLETED, health.size(), ((TreeSet<Long>) iterations).first(), ((TreeSet<Long>) iterations).last(),
                    dl4jUpdates, java.util.Arrays.toString(run.toFile().list()));
            // DL4J's StatsListener reports every reportingFrequency-th iteration (10 by default)
            int frequency = new org.deeplearning4j.ui.model.stats.impl.DefaultStatsUpdateConfiguration.Builder().build()
                    .reportingFrequency();
            assertThat(dl4jUpdates).as("DL4J StatsListener updates, one every %d iterations", frequency)
                    .isGreaterThanOrEqualTo(COMPLETED * ITERATIONS_PER_EPOCH / frequency);
        } finally {
            storage.close();
        }
        // and a later training into the same folder refuses it unless told
        assertThat(BadInputTest.run("train", "--no-ui", "--data", data.toString(), "--out", run.toString())[2])
                .contains("already holds a run");
    }

    static Path generatedData(Path dir) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(5);
        for (int split = 0; split < 2; split++) {
            int n = split == 0 ? TRAIN : 256;
            byte[] px = new byte[n * 28 * 28];
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = i % 10;
                for (int k = 0; k < 28 * 28; k++) {
                    // class-dependent stripes plus noise: learnable
                    px[i * 784 + k] = (byte) (((k / 28) % 10 == labels[i] ? 200 : 0) + r.nextInt(40));
                }
            }
            IdxWriter.writeImages(dir.resolve(split == 0 ? MnistData.TRAIN_IMAGES : MnistData.TEST_IMAGES), n, 28, 28, px);
            IdxWriter.writeLabels(dir.resolve(split == 0 ? MnistData.TRAIN_LABELS : MnistData.TEST_LABELS), labels);
        }
        return dir;
    }
}
