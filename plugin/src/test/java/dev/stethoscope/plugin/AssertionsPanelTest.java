package dev.stethoscope.plugin;

import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.probes.assertions.Severity;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
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
 * The Assertions panel in headless Chromium: a training whose hidden ReLU layers start with bias
 * -10 (every unit dead) and a user assertion whose message is HTML; the page shows one group per
 * assertion with its firings (severity, window, message as text, action) and links the dying-ReLU
 * group to the layer health panel.
 */
class AssertionsPanelTest {
    static final String EVIL = "Loss <img src=x onerror=\"window.__xss=1\"> & <b>bold</b>";

    @Test
    void theTimelineShowsEachAssertionsFiringsWithTheMessageEscaped() throws Exception {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).updater(new Sgd(0.01)).weightInit(WeightInit.RELU).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.RELU).biasInit(-10).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        INDArray x = Nd4j.rand(DataType.FLOAT, 64, 4).subi(0.5);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 64, 2);
        for (int i = 0; i < 64; i++) {
            y.putScalar(i, x.getDouble(i, 0) > 0 ? 1 : 0, 1);
        }
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0);
             // every step sampled (the default is every 10th): 12 steps, dying-relu over steps 0..9
             AssertionListener listener = ModelAssertions.builder(net, storage)
                     .schedule(dev.stethoscope.listeners.core.Schedule.iterations(1))
                     .assertThat("loss-check", EVIL, w -> w.latest().step() == 5 ? Severity.WARNING : Severity.NONE)
                     .attach()) {
            server.attach(storage);
            net.fit(new ListDataSetIterator<>(new DataSet(x, y).asList(), 16), 3);
            assertThat(listener.findingsPublished()).isGreaterThanOrEqualTo(2);

            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#assertions");
                wait.until(b -> b.findElements(By.cssSelector("#assertions-list .assertion-group")).size() >= 2);
                assertThat(d.findElement(By.id("nav-assertions")).getText()).isEqualTo("Assertions");

                WebElement user = d.findElement(By.cssSelector(".assertion-group[data-assertion='loss-check']"));
                assertThat(user.findElement(By.tagName("h3")).getText()).contains("loss-check (your assertion): 1 firing");
                List<WebElement> cells = user.findElements(By.cssSelector("tr.assertion-row td"));
                assertThat(cells.get(2).getText()).isEqualTo("WARNING");
                // step 5 of 4 batches an epoch: the second epoch, numbered from 1 as on the other panels
                assertThat(cells.get(0).getText()).isEqualTo("2");
                assertThat(cells.get(1).getText()).isEqualTo("5");
                assertThat(user.findElement(By.cssSelector(".assertion-window")).getText()).isEqualTo("step 5");
                assertThat(user.findElement(By.cssSelector(".assertion-message")).getText()).isEqualTo(EVIL);
                assertThat(user.findElements(By.tagName("img"))).isEmpty();

                WebElement dying = d.findElement(By.cssSelector(".assertion-group[data-assertion='dying-relu']"));
                assertThat(dying.findElement(By.cssSelector(".assertion-severity")).getText()).isEqualTo("ERROR");
                assertThat(dying.findElement(By.cssSelector(".assertion-window")).getText()).isEqualTo("steps 0..9");
                assertThat(dying.findElement(By.cssSelector(".assertion-message")).getText()).startsWith("Layer 0 (rectified) outputs zero");
                assertThat(d.findElement(By.id("assertions-summary")).getText()).contains("dying-relu").contains("loss-check");

                java.nio.file.Files.write(java.nio.file.Path.of("target", "assertions-panel.png"),
                        d.getScreenshotAs(org.openqa.selenium.OutputType.BYTES));
                dying.findElement(By.cssSelector("a.assertion-related")).click();
                wait.until(b -> b.findElement(By.id("nav-health")).getAttribute("class").contains("active"));
                assertThat(((JavascriptExecutor) d).executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
        }
    }

    /**
     * Findings of several workers (as DL4J's Spark training delivers them): each row names its worker
     * (escaped), the summary counts the workers; with one worker there is no worker column.
     */
    @Test
    void findingsOfSeveralWorkersSayWhichWorker() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Browser.available(), "chromium and chromedriver are needed for UI tests");
        String evilWorker = "<img src=x onerror=\"window.__xss=1\">";
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).updater(new Sgd(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        INDArray x = Nd4j.rand(DataType.FLOAT, 32, 4);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 32, 2);
        y.getColumn(0).assign(1);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0);
             AssertionListener a = ModelAssertions.builder(net, storage).workerId("w1")
                     .schedule(dev.stethoscope.listeners.core.Schedule.iterations(1))
                     .assertThat("step-one", w -> w.latest().step() == 1 ? Severity.WARNING : Severity.NONE).attach();
             AssertionListener b = ModelAssertions.builder(net, storage).workerId(evilWorker)
                     .schedule(dev.stethoscope.listeners.core.Schedule.iterations(1))
                     .assertThat("step-one", w -> w.latest().step() == 1 ? Severity.WARNING : Severity.NONE).attach()) {
            server.attach(storage);
            net.fit(new ListDataSetIterator<>(new DataSet(x, y).asList(), 16), 2);
            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#assertions");
                wait.until(w -> w.findElements(By.cssSelector(".assertion-group[data-assertion='step-one'] td.assertion-worker")).size() == 2);
                WebElement group = d.findElement(By.cssSelector(".assertion-group[data-assertion='step-one']"));
                assertThat(group.findElements(By.tagName("th")).get(0).getText()).isEqualTo("worker");
                assertThat(group.findElements(By.cssSelector("td.assertion-worker")).stream().map(WebElement::getText).toList())
                        .containsExactlyInAnyOrder("w1", evilWorker);
                assertThat(d.findElement(By.id("assertions-summary")).getText()).contains("from 2 workers");
                assertThat(d.findElements(By.cssSelector("#assertions-list img"))).isEmpty();
                assertThat(((JavascriptExecutor) d).executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
        }
    }
}
