package dev.stethoscope.plugin;

import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.SuspectExport;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Assertion hits in the page, in headless Chromium: a per-example assertion with the
 * SEND_TO_SUSPECTS action flags two planted examples of a real training (no suspects monitor
 * attached); the Suspects page lists them with their image, the assertion's name and its
 * (HTML-looking) message as text; marking one stores a mark that the marks API and the CSV export
 * return. The page header says "1 assertion fired" and links to the Assertions panel, whose group
 * names the flagged examples and links to the suspects; for a second run, healthy, it says
 * "healthy".
 */
class AssertionHitsPageTest {
    static final String EVIL = "Pixel <img src=x onerror=\"window.__xss=1\"> & <b>too bright</b>";
    /** The planted rows get stable indices 1000 + row. */
    static final long[] PLANTED = {1005, 1009};

    private final HttpClient http = HttpClient.newHttpClient();

    /** 64 random 8x8 "images" in [0, 1], class = brighter left half; rows 5 and 9 get pixel 0 = 5 and 9 (planted). */
    static IndexedArrayIterator data(boolean plant) {
        Random rnd = new Random(4);
        int n = 64;
        INDArray x = Nd4j.create(DataType.FLOAT, n, 64);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 2);
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            for (int p = 0; p < 64; p++) {
                boolean bright = c == 0 ? p % 8 < 4 : p % 8 >= 4;
                x.putScalar(i, p, Math.min(1, Math.max(0, (bright ? 0.8 : 0.2) + 0.1 * rnd.nextGaussian())));
            }
            y.putScalar(i, c, 1);
        }
        if (plant) {
            for (long p : PLANTED) {
                x.putScalar(p - 1000, 0, p - 1000); // severity 5 and 9
            }
        }
        long[] idx = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = 1000 + i;
        }
        return IndexedArrayIterator.builder(x, y).indices(idx).batchSize(16).noShuffle().build();
    }

    static MultiLayerNetwork net() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3)
                .dataType(DataType.FLOAT).updater(new Sgd(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(64).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        return net;
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void sentExamplesAreReviewedOnTheSuspectsPageAndTheHeaderSummarisesTheRun() throws Exception {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        MultiLayerNetwork net = net();
        String session;
        try (AssertionListener l = ModelAssertions.builder(net, storage)
                .assertExamples("too-bright", EVIL, (x, out, y) -> x.getDouble(0) > 1 ? x.getDouble(0) : 0)
                .action("too-bright", AssertionListener.Action.SEND_TO_SUSPECTS)
                .attach()) {
            net.fit(l.track(data(true)), 2);
            session = l.sessionId();
        }
        // the same training with addListeners alone (no track): examples named by content hash (rows 5 and 9)
        InMemoryStatsStorage hashStorage = new InMemoryStatsStorage();
        MultiLayerNetwork hashed = net();
        String hashSession;
        AssertionListener hl = ModelAssertions.builder(hashed, hashStorage)
                .assertExamples("too-bright", EVIL, (x, out, y) -> x.getDouble(0) > 1 ? x.getDouble(0) : 0)
                .action("too-bright", AssertionListener.Action.SEND_TO_SUSPECTS).build();
        hashed.addListeners(hl);
        try (hl) {
            hashed.fit(data(true), 2);
            hashSession = hl.sessionId();
        }
        // a second, healthy run with the monitor attached (nothing fires)
        InMemoryStatsStorage healthyStorage = new InMemoryStatsStorage();
        MultiLayerNetwork healthy = net();
        String healthySession;
        try (AssertionListener l = ModelAssertions.builder(healthy, healthyStorage).attach()) {
            healthy.fit(l.track(data(false)), 2);
            healthySession = l.sessionId();
            assertThat(l.findingsPublished()).isZero();
        }

        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(storage);
            server.attach(healthyStorage);
            server.attach(hashStorage);
            String base = "http://127.0.0.1:" + server.port();
            // content-hash indices are example indices: a sent example can be marked (checked against its label)
            HttpResponse<String> hashMark = send(HttpRequest.newBuilder(URI.create(base + "/stethoscope/api/suspects/"
                    + hashSession + "/mark?index=9&given=1&decision=fine")).header("X-Stethoscope-Request", "1")
                    .POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(hashMark.statusCode()).as(hashMark.body()).isEqualTo(200);
            HttpResponse<String> hashRefused = send(HttpRequest.newBuilder(URI.create(base + "/stethoscope/api/suspects/"
                    + hashSession + "/mark?index=7&given=1&decision=fine")).header("X-Stethoscope-Request", "1")
                    .POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(hashRefused.statusCode()).isEqualTo(409);
            // a mark of an example no assertion sent is refused (no suspect table either)
            HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(base + "/stethoscope/api/suspects/"
                    + session + "/mark?index=1001&given=1&decision=fine")).header("X-Stethoscope-Request", "1")
                    .POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(refused.statusCode()).isEqualTo(409);
            assertThat(refused.body()).contains("SEND_TO_SUSPECTS");

            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(40));
                JavascriptExecutor js = d;
                d.get(base + "/stethoscope#suspects");
                js.executeScript("var s = document.getElementById('session'); var id = arguments[0];"
                        + "var t = setInterval(function () { if (Array.prototype.some.call(s.options, function (o) { return o.value === id; })) {"
                        + " clearInterval(t); s.value = id; s.dispatchEvent(new Event('change')); } }, 100);", session);
                wait.until(b -> b.findElements(By.cssSelector("#suspects-hit-grid .assertion-hit")).size() == 2);
                List<WebElement> cards = d.findElements(By.cssSelector("#suspects-hit-grid .assertion-hit"));
                assertThat(cards).extracting(c -> Long.parseLong(c.getAttribute("data-index")))
                        .containsExactlyInAnyOrder(PLANTED[0], PLANTED[1]);
                WebElement card = d.findElement(By.cssSelector("#suspects-hit-grid .assertion-hit[data-index='1009']"));
                assertThat(card.findElement(By.cssSelector(".hit-assertion")).getText()).startsWith("too-bright");
                assertThat(card.findElement(By.cssSelector(".hit-message")).getText()).startsWith(EVIL);
                assertThat(card.findElements(By.tagName("img"))).isEmpty();
                assertThat(card.findElement(By.cssSelector("canvas.suspect-img")).getAttribute("data-kind")).isEqualTo("image");
                assertThat(card.findElement(By.cssSelector(".suspect-labels")).getText()).startsWith("given 1 ");

                card.findElement(By.cssSelector("button.mark-mislabeled")).click();
                wait.until(b -> String.valueOf(js.executeScript("var e = document.querySelector("
                        + "\"#suspects-hit-grid .assertion-hit[data-index='1009'] .suspect-mark\");"
                        + "return e ? e.textContent : '';")).startsWith("marked mislabeled"));

                // the header: one assertion fired, linking to the Assertions panel
                wait.until(b -> b.findElement(By.id("assertion-summary")).isDisplayed()
                        && b.findElement(By.id("assertion-summary")).getText().equals("1 assertion fired"));
                d.findElement(By.id("assertion-summary")).click();
                wait.until(b -> !b.findElements(By.cssSelector(".assertion-group[data-assertion='too-bright']")).isEmpty());
                WebElement group = d.findElement(By.cssSelector(".assertion-group[data-assertion='too-bright']"));
                assertThat(group.findElement(By.cssSelector(".assertion-examples")).getText())
                        .contains("#1009 (9.00)").contains("#1005 (5.00)");
                assertThat(group.findElement(By.cssSelector(".assertion-action")).getText()).isEqualTo("sent to suspects");
                group.findElement(By.cssSelector("a.assertion-related")).click();
                wait.until(b -> b.findElement(By.id("nav-suspects")).getAttribute("class").contains("active"));

                // the healthy run
                js.executeScript("var s = document.getElementById('session'); s.value = arguments[0];"
                        + "s.dispatchEvent(new Event('change'));", healthySession);
                wait.until(b -> b.findElement(By.id("assertion-summary")).getText().equals("healthy"));
                assertThat(js.executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
            String marks = send(HttpRequest.newBuilder(URI.create(base + "/stethoscope/api/suspects/" + session + "/marks"))).body();
            assertThat(marks).contains("\"index\":1009").contains("mislabeled");
            String[] csv = send(HttpRequest.newBuilder(URI.create(base + "/stethoscope/api/suspects/" + session + "/export")))
                    .body().split("\n");
            assertThat(csv[0]).isEqualTo(SuspectExport.HEADER);
            assertThat(csv).hasSize(2);
            assertThat(csv[1]).startsWith(",1009,1,").contains(",mislabeled,");
        }
    }
}
