package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.records.AttributionMaps;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The Attribution panel over real AttributionListener records, in headless Chromium. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AttributionPanelTest {
    StethoscopeUIServer server;
    InMemoryStatsStorage storage;
    String sessionId;

    @BeforeAll
    void train() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        storage = new InMemoryStatsStorage();
        server.attach(storage);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.FLOAT)
                .updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(16).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(3);
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, 64, 16), Nd4j.zeros(DataType.FLOAT, 64, 2));
        for (int i = 0; i < 64; i++) {
            int c = ds.getFeatures().getDouble(i, 5) > 0.5 ? 1 : 0;
            ds.getLabels().putScalar(i, c, 1);
        }
        sessionId = AttributionListener.builder(net, storage).methods("ig", "saliency", "lrp-eps")
                .examplesPerClass(ds, 2).schedule(Schedule.epochs(1)).attach().sessionId();
        net.fit(new ListDataSetIterator<>(ds.asList(), 16), 3);
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void gridOfExamplesByMethodsWithEpochSlider() throws Exception {
        Assumptions.assumeTrue(Browser.available(), "chromium and chromedriver are needed for UI tests");
        List<Persistable> recs = storage.getAllUpdatesAfter(sessionId, AttributionMaps.TYPE_ID, 0);
        assertThat(recs).hasSize(3);
        ChromeDriver d = Browser.start();
        try {
            d.get("http://127.0.0.1:" + server.port() + "/stethoscope#attribution");
            WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
            wait.until(x -> x.findElements(By.cssSelector("#attr-grid canvas.attr-map")).size() == 4 * 3);
            assertThat(d.findElements(By.cssSelector("#attr-summary td.method-name")).stream().map(e -> e.getText()).toList())
                    .containsExactly("ig", "saliency", "lrp-eps");
            JavascriptExecutor js = d;
            assertThat(js.executeScript("return document.getElementById('attr-slider').max")).isEqualTo("2");
            assertThat(d.findElement(By.id("attr-where")).getText()).contains("3 of 3");
            // the saliency canvas of the first example is scaled by that map's max |value| from the latest record
            AttributionMaps last = ((StethoscopeRecord) recs.get(2)).payload(AttributionMaps.class);
            int px = last.height() * last.width();
            double maxAbs = 0;
            for (int p = 0; p < px; p++) {
                maxAbs = Math.max(maxAbs, Math.abs(last.map(1, 0)[p]));
            }
            String id = String.valueOf(last.exampleIds()[0]);
            Object shown = js.executeScript("return document.querySelector(\"canvas.attr-map[data-method='saliency'][data-example='"
                    + id + "']\").getAttribute('data-max-abs')");
            assertThat(Double.parseDouble((String) shown)).isCloseTo(maxAbs, org.assertj.core.api.Assertions.within(1e-6 * maxAbs + 1e-9));
            // saliency is non-negative: its most relevant pixel is drawn red (r = 255, b < 255)
            Object colour = js.executeScript(
                    "var c = document.querySelector(\"canvas.attr-map[data-method='saliency'][data-example='" + id + "']\");"
                            + "document.getElementById('attr-overlay').click();"
                            + "c = document.querySelector(\"canvas.attr-map[data-method='saliency'][data-example='" + id + "']\");"
                            + "var ctx = c.getContext('2d'); var d = ctx.getImageData(0, 0, c.width, c.height).data;"
                            + "var best = 0, at = 0; for (var i = 0; i < d.length; i += 4) { var s = 255 - d[i+2]; if (s > best) { best = s; at = i; } }"
                            + "return [d[at], d[at+1], d[at+2]];");
            @SuppressWarnings("unchecked")
            List<Number> rgb = (List<Number>) colour;
            assertThat(rgb.get(0).intValue()).isEqualTo(255);
            assertThat(rgb.get(2).intValue()).isLessThan(10);
            java.nio.file.Files.write(java.nio.file.Path.of("target", "attribution-panel.png"),
                    d.getScreenshotAs(org.openqa.selenium.OutputType.BYTES));
            // the slider goes back in training
            js.executeScript("var s = document.getElementById('attr-slider'); s.value = '0'; s.dispatchEvent(new Event('input'));");
            wait.until(x -> x.findElement(By.id("attr-where")).getText().contains("1 of 3"));
            assertThat(d.findElement(By.id("attr-where")).getText()).contains("epoch");
            Object points = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('chart-aopc'));"
                    + "return c.getOption().series.length;");
            assertThat(((Number) points).intValue()).isEqualTo(4); // three methods and the random order
        } finally {
            d.quit();
        }
    }
}
