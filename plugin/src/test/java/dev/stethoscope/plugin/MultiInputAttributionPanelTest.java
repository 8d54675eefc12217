package dev.stethoscope.plugin;

import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Attribution panel over a real record of a ComputationGraph with two inputs, one named with markup: a grid per
 * input headed by its name shown as text, AOPC columns per input.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MultiInputAttributionPanelTest {
    static final String EVIL = "<img src=x onerror=\"window.__pwned=1\">b";
    StethoscopeUIServer server;
    InMemoryStatsStorage storage;
    AttributionMaps record;

    @BeforeAll
    void explain() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        storage = new InMemoryStatsStorage();
        server.attach(storage);
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.FLOAT)
                .updater(new Adam(1e-2)).graphBuilder()
                .addInputs("a", EVIL)
                .addLayer("da", new DenseLayer.Builder().nIn(9).nOut(4).activation(Activation.RELU).build(), "a")
                .addLayer("db", new DenseLayer.Builder().nIn(4).nOut(4).activation(Activation.RELU).build(), EVIL)
                .addVertex("cat", new MergeVertex(), "da", "db")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        Nd4j.getRandom().setSeed(3);
        INDArray a = Nd4j.rand(DataType.FLOAT, 20, 9);
        INDArray b = Nd4j.rand(DataType.FLOAT, 20, 4);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 20, 2);
        for (int i = 0; i < 20; i++) {
            y.putScalar(i, i % 2, 1);
        }
        AttributionListener l = AttributionListener.builder(g, storage).methods("ig", "saliency")
                .examplesPerClass(new MultiDataSet(new INDArray[]{a, b}, new INDArray[]{y}), 2)
                .schedule(Schedule.never()).build();
        l.runNow();
        List<Persistable> recs = storage.getAllUpdatesAfter(l.sessionId(), AttributionMaps.TYPE_ID, 0);
        record = ((StethoscopeRecord) recs.get(0)).payload(AttributionMaps.class);
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aGridPerInputHeadedByItsEscapedName() throws Exception {
        assertThat(record.inputNames()).containsExactly("a", EVIL);
        assertThat(record.height()).isEqualTo(3); // 9 values: a 3x3 square
        assertThat(record.otherInputs().get(0).height()).isEqualTo(2); // 4 values: 2x2
        Assumptions.assumeTrue(Browser.available(), "chromium and chromedriver are needed for UI tests");
        ChromeDriver d = Browser.start();
        try {
            d.get("http://127.0.0.1:" + server.port() + "/stethoscope#attribution");
            WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
            wait.until(x -> x.findElements(By.cssSelector("canvas.attr-map")).size() == 2 * 4 * 2);
            List<String> heads = d.findElements(By.cssSelector("h3.attr-input-name")).stream()
                    .map(WebElement::getText).toList();
            assertThat(heads).containsExactly("Input a", "Input " + EVIL);
            assertThat(d.findElements(By.cssSelector("#attr-grid-1 canvas.attr-map[data-input='1']"))).hasSize(4 * 2);
            assertThat(d.findElements(By.cssSelector("#attr-summary th")).stream().map(WebElement::getText).toList())
                    .contains("mean AOPC (a)", "mean AOPC (" + EVIL + ")");
            JavascriptExecutor js = d;
            assertThat(js.executeScript("return document.querySelectorAll('#attribution img, img[src=x]').length"))
                    .isEqualTo(0L);
            assertThat(js.executeScript("return window.__pwned === undefined")).isEqualTo(true);
            // the bottom input's canvas of the first example is scaled by that input's map
            double maxAbs = 0;
            for (float v : record.otherInputs().get(0).maps().get(1).get(0)) {
                maxAbs = Math.max(maxAbs, Math.abs(v));
            }
            Object shown = js.executeScript("return document.querySelector(\"canvas.attr-map[data-method='saliency']"
                    + "[data-input='1'][data-example='" + record.exampleIds()[0] + "']\").getAttribute('data-max-abs')");
            assertThat(Double.parseDouble((String) shown)).isCloseTo(maxAbs,
                    org.assertj.core.api.Assertions.within(1e-6 * maxAbs + 1e-9));
        } finally {
            d.quit();
        }
    }
}
