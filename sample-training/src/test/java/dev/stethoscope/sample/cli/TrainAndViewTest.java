package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.VertxUIServer;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The sample's train and view commands end to end on a slice of real MNIST. */
class TrainAndViewTest {

    /**
     * The Stethoscope session of a {@code train} run in folder {@code runName}:
     * {@code stethoscope-<runName>-<12 random hex digits>} (DL4J's StatsListener
     * writes the same id plus {@code -dl4j}).
     */
    static String sessionOf(org.deeplearning4j.core.storage.StatsStorage storage, String runName) {
        List<String> ids = storage.listSessionIDs().stream()
                .filter(s -> s.matches("stethoscope-" + java.util.regex.Pattern.quote(runName) + "-[0-9a-f]{12}")).toList();
        assertThat(ids).as("one session with a random suffix").hasSize(1);
        return ids.get(0);
    }

    @Test
    void trainWritesARunThatViewServes(@TempDir Path tmp) throws Exception {
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--train-limit", "1024", "--test-limit", "500", "--epochs", "2",
                "--label-noise", "0.1", "--no-ui", "--health-every", "2",
                "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        assertThat(run.resolve("model.zip")).exists();
        assertThat(run.resolve("flipped-labels.txt")).exists();
        assertThat(Files.readAllLines(run.resolve("flipped-labels.txt")).stream()
                .filter(l -> !l.startsWith("#") && !l.isBlank())).hasSize(102); // round(0.1 * 1024)

        MultiLayerNetwork saved = ModelSerializer.restoreMultiLayerNetwork(run.resolve("model.zip").toFile());
        assertThat(saved.getEpochCount()).isEqualTo(2);

        FileStatsStorage storage = new FileStatsStorage(run.resolve("stats.dl4j").toFile());
        String session = sessionOf(storage, "run");
        try {
            List<Persistable> health = storage.getAllUpdatesAfter(session, Health.TYPE_ID, 0);
            // 8 iterations per epoch, sampled every 2, plus one probe-batch record per epoch
            assertThat(health).hasSize(2 * 4 + 2);
            assertThat(storage.listSessionIDs()).contains(session, session + "-dl4j");
        } finally {
            storage.close();
        }

        ViewCommand view = new ViewCommand();
        Thread t = new Thread(() -> new CommandLine(view).execute(run.resolve("stats.dl4j").toString(), "--port", "0"));
        t.start();
        try {
            long deadline = System.currentTimeMillis() + 30_000;
            while ((VertxUIServer.getInstance() == null || VertxUIServer.getInstance().isStopped()
                    || VertxUIServer.getInstance().getStatsStorageInstances().isEmpty())
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            int port = VertxUIServer.getInstance().getPort();
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/stethoscope/api/records/" + session + "/" + Health.TYPE_ID)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body().split("\"type\":\"Stethoscope.Health\"")).hasSize(10 + 1);
        } finally {
            view.stop.countDown();
            t.join(30_000);
        }
    }

    @Test
    void badInputGivesOneClearErrorAndNonZeroExit(@TempDir Path tmp) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            assertThat(Main.run("train", "--data", tmp.toString(), "--no-ui", "--out", tmp.resolve("r").toString())).isNotZero();
            assertThat(Main.run("train", "--label-noise", "1.5", "--no-ui")).isNotZero();
            assertThat(Main.run("train", "--model", "vgg")).isNotZero();
            assertThat(Main.run("view", tmp.resolve("missing.dl4j").toString())).isNotZero();
        } finally {
            System.setErr(err);
        }
        String out = buf.toString();
        assertThat(out).contains("train-images-idx3-ubyte");
        assertThat(out).contains("--label-noise must be a number in [0.0, 1.0)");
        assertThat(out).contains("mlp, cnn");
        assertThat(out).contains("No such run file");
    }
}
