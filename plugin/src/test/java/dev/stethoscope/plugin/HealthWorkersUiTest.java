package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.health.HealthListener;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The health panel with records of several workers (as DL4J's Spark training delivers them): a
 * worker select appears, lists every worker (ids escaped), and choosing one shows only its records.
 */
class HealthWorkersUiTest {
    static final String EVIL_WORKER = "<img src=x onerror=\"window.__xss=1\">";

    @Test
    void healthPanelShowsEveryWorkerOrOne() throws Exception {
        Assumptions.assumeTrue(Browser.available(), "chromium and chromedriver are needed for UI tests");
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(6).nOut(12).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(12).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // two workers' listeners on one network: each publishes a train-batch record at every iteration
        HealthListener w1 = HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).workerId("w1").attach();
        HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).workerId(EVIL_WORKER).attach();
        Nd4j.getRandom().setSeed(3);
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, 64, 6), Nd4j.zeros(DataType.FLOAT, 64, 2));
        ds.getLabels().getColumn(0).assign(1);
        net.fit(new ListDataSetIterator<>(ds.asList(), 16), 1); // 4 iterations
        int layers = 1; // the hidden layer (health reports hidden layers)

        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(storage);
            ChromeDriver d = Browser.start();
            try {
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#health");
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                wait.until(x -> !x.findElements(By.cssSelector("#health-latest td.layer-name")).isEmpty());
                wait.until(x -> x.findElements(By.cssSelector("#health-worker option")).size() == 3);
                Select worker = new Select(d.findElement(By.id("health-worker")));
                List<String> labels = worker.getOptions().stream().map(o -> o.getText()).toList();
                assertThat(labels).containsExactlyInAnyOrder("every worker", "w1", EVIL_WORKER);
                assertThat(d.findElement(By.id("health-worker")).isDisplayed()).isTrue();
                JavascriptExecutor js = d;
                String count = "var c = echarts.getInstanceByDom(document.getElementById('chart-dead'));"
                        + "var n = 0; c.getOption().series.forEach(function(x){ n += x.data.length; }); return n;";
                assertThat(((Number) js.executeScript(count)).intValue()).as("both workers' points").isEqualTo(2 * 4 * layers);
                String lines = "var c = echarts.getInstanceByDom(document.getElementById('chart-dead'));"
                        + "var ok = true; c.getOption().series.forEach(function(x){ for (var i = 1; i < x.data.length; i++) {"
                        + " if (x.data[i][0] <= x.data[i - 1][0]) { ok = false; } } }); return [c.getOption().series.length, ok];";
                List<?> shape = (List<?>) js.executeScript(lines);
                assertThat(((Number) shape.get(0)).intValue()).as("one line per layer and worker").isEqualTo(2 * layers);
                assertThat(shape.get(1)).as("each line moves forward in iterations (no zigzag between workers)").isEqualTo(true);
                worker.selectByValue("w1");
                wait.until(x -> ((Number) js.executeScript(count)).intValue() == 4 * layers);
                assertThat(js.executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
        }
    }
}
