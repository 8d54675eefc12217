package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.probes.memorization.LassParameters;
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
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The memorisation panel in headless Chromium, fed by a real training run with the listener. */
class MemorizationPanelTest {

    @Test
    void panelShowsCsrAccuracyGiniAndTheHeatmap() throws Exception {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(6).nOut(12).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(12).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.FLOAT, 96, 6);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 96, 3);
        for (int i = 0; i < 96; i++) {
            // class from the first feature: learnable
            y.putScalar(i, Math.min(2, (int) (x.getDouble(i, 0) * 3)), 1f);
        }
        DataSet ds = new DataSet(x, y);
        StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0);
        try {
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            server.attach(storage);
            MemorizationListener l = MemorizationListener.builder(net, storage)
                    .training(ds).validation(ds).trainingSize(48).validationSize(48).sensitivitySchedule(Schedule.iterations(2))
                    .lass(LassParameters.defaults().withRadius(0.05).withAlpha(0.01).withMaxIterations(10))
                    .attach();
            net.fit(new ListDataSetIterator<>(ds.asList(), 16), 3);
            l.close();
            assertThat(storage.getAllUpdatesAfter(l.sessionId(), Memorization.TYPE_ID, 0)).hasSize(3);

            ChromeDriver d = Browser.start();
            try {
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#memorization");
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                wait.until(w -> !w.findElements(By.cssSelector("#mem-latest td.mem-value")).isEmpty());
                JavascriptExecutor js = d;
                Object csrPoints = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('mem-csr'));"
                        + "return c.getOption().series[0].data.length;");
                assertThat(((Number) csrPoints).intValue()).isEqualTo(3);
                Object accSeries = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('mem-acc'));"
                        + "return c.getOption().series.map(function(s){return s.data.length;}).join(',');");
                assertThat(accSeries).isEqualTo("3,3");
                Object cells = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('mem-heat'));"
                        + "return c.getOption().series[0].data.length;");
                assertThat(((Number) cells).intValue()).isEqualTo(9);
                assertThat(d.findElement(By.id("mem-params")).getText()).contains("radius = 0.05")
                        .contains("maxIterations = 10");
                assertThat(d.findElements(By.cssSelector("#mem-heat-epoch option"))).extracting(WebElement::getText)
                        .as("epochs numbered from 1, as the sample's log and the probe and similarity panels do")
                        .containsExactly("1", "2", "3");
                Object csrEpochs = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('mem-csr'));"
                        + "return c.getOption().series[0].data.map(function (p) { return p[0]; }).join(',');");
                assertThat(csrEpochs).isEqualTo("1,2,3");
                assertThat(d.findElements(By.cssSelector("#mem-latest td.mem-value")).get(0).getText()).isEqualTo("3");
                // the radius next to the CSR value (0.05 = 12.75/255) and in the chart's series name
                assertThat(d.findElement(By.id("mem-latest")).getText())
                        .contains("at r = 12.75/255 = 0.05000 (preset custom)");
                Object seriesName = js.executeScript("var c = echarts.getInstanceByDom(document.getElementById('mem-csr'));"
                        + "return c.getOption().series[0].name;");
                assertThat(seriesName).isEqualTo("CSR at r = 12.75/255 = 0.05000 (preset custom)");
                // for a human look at the page: target/memorization-panel.png
                java.nio.file.Files.write(java.nio.file.Path.of("target", "memorization-panel.png"),
                        d.getScreenshotAs(org.openqa.selenium.OutputType.BYTES));
            } finally {
                d.quit();
            }
        } finally {
            server.close();
        }
    }
}
