package dev.stethoscope.plugin.suspects;

import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.plugin.Browser;
import dev.stethoscope.plugin.StethoscopeUIServer;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Suspects page end to end: real training of a tiny network on 8x8
 * "images" (a bright left or right half, 5 labels flipped) with the
 * TrainingDynamicsListener writing to a FileStatsStorage; the page in headless
 * Chromium shows the suspects' images; marking one stores a record that shows
 * in the CSV export and survives reopening the file.
 */
class SuspectsPageTest {
    private final HttpClient http = HttpClient.newHttpClient();

    /** Trains 5 epochs; returns the session id. */
    static String train(StatsStorageRouter storage) {
        return train(storage, 5, 120);
    }

    /**
     * Trains the tiny network for {@code epochs} epochs on {@code n} examples
     * (a multiple of 20; 5 flipped labels) with the TrainingDynamicsListener
     * writing to {@code storage}; returns the session id.
     */
    static String train(StatsStorageRouter storage, int epochs, int n) {
        return train(storage, epochs, n, n, net -> { });
    }

    /**
     * As {@link #train(StatsStorageRouter, int, int)} with minibatches of
     * {@code batch} examples (a multiple of 20), first letting {@code more} add
     * listeners to the network.
     */
    static String train(StatsStorageRouter storage, int epochs, int n, int batch,
                        java.util.function.Consumer<MultiLayerNetwork> more) {
        Random rnd = new Random(2);
        INDArray x = Nd4j.create(DataType.FLOAT, n, 64);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 2);
        long[] flipped = {5, 30, 61, 90, 117};
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            for (int r = 0; r < 8; r++) {
                for (int col = 0; col < 8; col++) {
                    boolean bright = c == 0 ? col < 4 : col >= 4;
                    x.putScalar(i, r * 8 + col, Math.max(0, Math.min(1, (bright ? 0.85 : 0.1) + 0.08 * rnd.nextGaussian())));
                }
            }
            boolean flip = java.util.Arrays.binarySearch(flipped, i) >= 0;
            y.putScalar(i, flip ? 1 - c : c, 1.0);
        }
        List<DataSet> batches = new ArrayList<>();
        for (int b = 0; b < n; b += 20) {
            DataSet ds = new DataSet(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(b, b + 20)).dup(),
                    y.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(b, b + 20)).dup());
            long[] idx = new long[20];
            for (int k = 0; k < 20; k++) {
                idx[k] = b + k;
            }
            ExampleIndex.attach(ds, idx);
            batches.add(ds);
        }
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3)
                .dataType(DataType.FLOAT).updater(new Adam(0.02)).list()
                .layer(new DenseLayer.Builder().nIn(64).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        more.accept(net);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, storage).numExamples(n).topK(8)
                .flippedIndices(flipped).featureShape(1, 8, 8).failFast(true).attach();
        net.fit(l.track(new ListDataSetIterator<>(batches, batch / 20)), epochs);
        l.close(); // publishes the last epoch's records
        return l.sessionId();
    }

    private String get(StethoscopeUIServer server, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path).isEqualTo(200);
        return r.body();
    }

    @Test
    void pageShowsSuspectImagesAndAMarkReachesTheExportAndSurvivesReopening(@TempDir File dir) throws Exception {
        File file = new File(dir, "stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(file);
        String session = train(storage);
        StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0);
        long markedIndex;
        String predicted;
        try {
            server.attach(storage);
            // a bad mark is refused with a clear message
            HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                            + "/stethoscope/api/suspects/" + session + "/mark?index=1&given=1&decision=maybe"))
                    .header("X-Stethoscope-Request", "1").POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(bad.body()).contains("mislabeled").contains("fine");

            ChromeDriver d = Browser.start();
            try {
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#suspects");
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(40));
                wait.until(x -> x.findElements(By.cssSelector("#suspects-grid .suspect canvas.suspect-img")).size() == 8);
                JavascriptExecutor js = d;
                // every suspect is drawn as an image from its stored pixels, and the pixels are not blank
                Object kinds = js.executeScript("return Array.prototype.map.call(document.querySelectorAll("
                        + "'#suspects-grid canvas.suspect-img'), function(c){ return c.getAttribute('data-kind'); });");
                assertThat((List<?>) kinds).hasSize(8).allMatch("image"::equals);
                Object lit = js.executeScript("var c = document.querySelector('#suspects-grid canvas.suspect-img');"
                        + "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; var s = 0;"
                        + "for (var i = 0; i < d.length; i += 4) { s += d[i]; } return [c.width, s];");
                List<?> wl = (List<?>) lit;
                assertThat(((Number) wl.get(0)).intValue()).isGreaterThanOrEqualTo(64);
                assertThat(((Number) wl.get(1)).longValue()).isGreaterThan(0);
                // the known flips are reported
                wait.until(x -> !x.findElements(By.cssSelector("#suspects-metrics-table td")).isEmpty());
                assertThat(d.findElement(By.id("suspects-metrics")).getText()).contains("5 known flipped labels");
                // the data map is drawn
                Object points = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('suspects-map'));"
                        + "return c.getOption().series[0].data.length;");
                assertThat(((Number) points).intValue()).isEqualTo(120);

                WebElement first = d.findElement(By.cssSelector("#suspects-grid .suspect"));
                markedIndex = Long.parseLong(first.getAttribute("data-index"));
                predicted = first.findElement(By.cssSelector("select.suspect-label")).getAttribute("value");
                first.findElement(By.cssSelector("button.mark-mislabeled")).click();
                // the grid is redrawn when marks change: read it by script, not through a kept element
                wait.until(x -> String.valueOf(js.executeScript("var e = document.querySelector("
                        + "\"#suspects-grid .suspect[data-index='" + markedIndex + "'] .suspect-mark\");"
                        + "return e ? e.textContent : '';")).startsWith("marked mislabeled"));
                assertThat(d.findElement(By.id("suspects-mark-count")).getText()).startsWith("1 example");
                String href = d.findElement(By.id("suspects-export")).getAttribute("href");
                assertThat(href).endsWith("/stethoscope/api/suspects/" + session + "/export");
            } finally {
                d.quit();
            }
            String csv = get(server, "/stethoscope/api/suspects/" + session + "/export");
            String[] lines = csv.split("\n");
            assertThat(lines[0]).isEqualTo(SuspectExport.HEADER);
            assertThat(lines).hasSize(2);
            List<String> header = List.of(lines[0].split(","));
            String[] row = lines[1].split(",", -1);
            assertThat(row[header.indexOf("index")]).isEqualTo(Long.toString(markedIndex));
            assertThat(row[header.indexOf("mark")]).isEqualTo("mislabeled");
            assertThat(row[header.indexOf("corrected")]).isEqualTo(predicted);
            assertThat(get(server, "/stethoscope/api/suspects/" + session + "/export?all=1").split("\n")).hasSize(121);
        } finally {
            server.close();
            storage.close();
        }
        FileStatsStorage reopened = new FileStatsStorage(file);
        try {
            Map<Long, SuspectMark> marks = SuspectExport.latestMarks(reopened, session);
            assertThat(marks).containsOnlyKeys(markedIndex);
            assertThat(marks.get(markedIndex).corrected()).isEqualTo(Integer.parseInt(predicted));
            assertThat(reopened.getAllUpdatesAfter(session, Suspects.TYPE_ID, 0)).hasSize(5);
        } finally {
            reopened.close();
        }
    }
}
