package dev.stethoscope.plugin.example;

import dev.stethoscope.plugin.Browser;
import dev.stethoscope.plugin.StethoscopeUIServer;
import dev.stethoscope.listeners.core.Schedule;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
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
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The example monitor of docs/ADDING_A_MONITOR.md, end to end: its listener publishes during a
 * real training, and the page (headless Chromium) shows its panel with the norms of the trained
 * network, although nothing but the test sources' ServiceLoader file names the monitor.
 */
class ExampleMonitorUiTest {
    static final String EVIL = "<img src=x onerror=\"window.__xss=1\">";

    @Test
    void thePageShowsTheExampleMonitorsPanelWithTheTrainedNorms() throws Exception {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).updater(new Sgd(0.1)).list()
                .layer(new DenseLayer.Builder().name("hidden").nIn(4).nOut(6).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name(EVIL).nIn(6).nOut(2)
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
             WeightNormListener listener = WeightNormListener.builder(net, storage)
                     .schedule(Schedule.iterations(1)).attach()) {
            server.attach(storage);
            net.fit(new ListDataSetIterator<>(new DataSet(x, y).asList(), 16), 3);
            double[] expected = WeightNorms.of(net); // iterationDone runs after the update: the last record is the final state

            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#weight-norms");
                wait.until(b -> b.findElements(By.cssSelector("#weight-norms-table td.norm")).size() == 2);
                assertThat(d.findElement(By.id("nav-weight-norms")).getText()).isEqualTo("Weight norms (example)");
                List<String> names = d.findElements(By.cssSelector("#weight-norms-table td.layer-name")).stream()
                        .map(WebElement::getText).toList();
                assertThat(names).containsExactly("hidden", EVIL); // shown as text, not run as HTML
                List<String> norms = d.findElements(By.cssSelector("#weight-norms-table td.norm")).stream()
                        .map(WebElement::getText).toList();
                assertThat(norms).containsExactly(String.format(Locale.ROOT, "%.6f", expected[0]),
                        String.format(Locale.ROOT, "%.6f", expected[1]));
                // the built-in panels are still there, in their order, after the example's
                assertThat(d.findElements(By.cssSelector("#nav button")).stream().map(b -> b.getAttribute("data-panel")).toList())
                        .startsWith("health", "features", "probes", "similarity", "memorization", "suspects", "attribution", "assertions", "errors")
                        .endsWith("weight-norms");
                assertThat(((JavascriptExecutor) d).executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
        }
    }
}
