package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.probes.linear.LinearProbe;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
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
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The linear-probe and layer-similarity panels, end to end, in headless Chromium. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProbePanelsUiTest {
    static final String EVIL = "<img src=x onerror=\"window.__xss=1\">";

    StethoscopeUIServer server;
    String sessionId;

    @BeforeAll
    void train() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        server.attach(storage);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(6).nOut(12).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name(EVIL).nIn(12).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Random r = new Random(3);
        INDArray x = Nd4j.create(DataType.FLOAT, 160, 6);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 160, 2);
        for (int i = 0; i < 160; i++) {
            int c = i % 2;
            for (int j = 0; j < 6; j++) {
                x.putScalar(i, j, r.nextGaussian() + (c == 0 ? 1.5 : -1.5));
            }
            y.putScalar(i, c, 1);
        }
        DataSet all = new DataSet(x, y);
        DataSet probe = new DataSet(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(128, 160)).dup(),
                y.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(128, 160)).dup());
        LinearProbeListener p = LinearProbeListener.builder(net, storage).probeData(probe).schedule(Schedule.epochs(1).andLast().totalEpochs(2))
                .options(LinearProbe.Options.defaults().withIterations(50)).attach();
        SvccaListener s = SvccaListener.builder(net, storage).probeInputs(probe.getFeatures()).schedule(Schedule.epochs(1).andLast().totalEpochs(2)).attach();
        net.fit(new ListDataSetIterator<>(all.asList().subList(0, 128), 16), 2);
        p.close();
        s.close();
        sessionId = p.sessionId();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void routesServeProbeAndSimilarityRecords() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String type : List.of("Stethoscope.Probe", "Stethoscope.Similarity")) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                    + "/stethoscope/api/records/" + sessionId + "/" + type)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).contains("\"type\":\"" + type + "\"").contains("dense1").doesNotContain("<img");
        }
    }

    @Test
    void panelsDrawChartsAndEscapeLayerNames() throws Exception {
        ChromeDriver d = Browser.start();
        try {
            JavascriptExecutor js = d;
            WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
            d.get("http://127.0.0.1:" + server.port() + "/stethoscope#probes");
            wait.until(x -> !x.findElements(By.cssSelector("#probe-table td.layer-name")).isEmpty());
            List<WebElement> names = d.findElements(By.cssSelector("#probe-table td.layer-name"));
            assertThat(names.stream().map(WebElement::getText).toList()).containsExactly("dense1", EVIL);
            // the chosen L2 and the convergence of each probe are shown
            assertThat(d.findElements(By.cssSelector("#probe-table td.probe-l2"))).hasSize(2)
                    .allSatisfy(c -> assertThat(c.getText()).matches("\\de-\\d"));
            assertThat(d.findElements(By.cssSelector("#probe-table td.probe-grad"))).hasSize(2)
                    .allSatisfy(c -> assertThat(c.getText()).contains("e"));
            Object lines = js.executeScript("var s = echarts.getInstanceByDom(document.getElementById('chart-probe-epochs'))"
                    + ".getOption().series; return s.length + ':' + s[0].data.length;");
            assertThat(lines).isEqualTo("4:2"); // 2 layers x (test, train), 2 epochs
            assertThat(new Select(d.findElement(By.id("probe-epoch"))).getOptions()).hasSize(2);

            d.findElement(By.id("nav-similarity")).click();
            wait.until(x -> (Boolean) ((JavascriptExecutor) x).executeScript(
                    "var e = document.getElementById('chart-sim-heatmap'); if (!e) return false;"
                            + "var c = echarts.getInstanceByDom(e); return !!c && !!c.getOption().series"
                            + " && c.getOption().series.length > 0 && c.getOption().series[0].data.length > 0;"));
            Object cells = js.executeScript("return echarts.getInstanceByDom(document.getElementById('chart-sim-heatmap'))"
                    + ".getOption().series[0].data.length;");
            assertThat(((Number) cells).intValue()).isEqualTo(9); // 3 layers x 3
            Object dyn = js.executeScript("var s = echarts.getInstanceByDom(document.getElementById('chart-sim-dynamics'))"
                    + ".getOption().series; return s.length + ':' + s[0].data.length;");
            assertThat(dyn).isEqualTo("3:3"); // 3 layers; epochs 0, 1, 2 against the final
            assertThat(d.findElement(By.id("chart-sim-dynamics-title")).getText()).contains("final");
            assertThat(new Select(d.findElement(By.id("similarity-epoch"))).getOptions()).hasSize(3);
            assertThat(new Select(d.findElement(By.id("similarity-method"))).getFirstSelectedOption().getText()).isEqualTo("svcca");
            // 32 probe points for layers of 12, 8 and 2 units: fewer than 10 points per neuron, so a warning
            // and marked cells; no CCA is under-determined here (at most 12 + 12 directions < 31)
            assertThat(d.findElement(By.id("similarity-warning")).isDisplayed()).isTrue();
            assertThat(d.findElement(By.id("similarity-warning-few")).getText()).contains("fewer than 10 data points per neuron");
            assertThat(d.findElements(By.id("similarity-warning-under"))).isEmpty();
            assertThat(d.findElement(By.id("similarity-pwcca-note")).isDisplayed()).isFalse();
            Object marked = js.executeScript("return echarts.getInstanceByDom(document.getElementById('chart-sim-heatmap'))"
                    + ".getOption().series[0].data.filter(function (c) { return c.itemStyle; }).length;");
            assertThat(((Number) marked).intValue()).isPositive();
            assertThat(js.executeScript("return window.__xss === undefined;")).isEqualTo(true);
        } finally {
            d.quit();
        }
    }

    /**
     * Every chart of the probe and similarity panels stays inside its card at the two window sizes users have:
     * a chart is sized when it is made, and the similarity panel makes its first chart while it is the only card
     * of its grid (full width), before the other two cards halve it; it used to keep that width and overlap the
     * card beside it.
     */
    @Test
    void chartsFitTheirCardsAtBothWindowSizes() throws Exception {
        ChromeDriver d = Browser.start();
        try {
            JavascriptExecutor js = d;
            WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
            for (org.openqa.selenium.Dimension size : List.of(new org.openqa.selenium.Dimension(1400, 1100),
                    new org.openqa.selenium.Dimension(1000, 800))) {
                d.manage().window().setSize(size);
                for (String panel : List.of("similarity", "probes")) {
                    String chartId = panel.equals("similarity") ? "chart-sim-heatmap" : "chart-probe-depth";
                    d.get("http://127.0.0.1:" + server.port() + "/stethoscope#" + panel);
                    d.navigate().refresh();
                    wait.until(x -> (Boolean) ((JavascriptExecutor) x).executeScript(
                            "var e = document.getElementById('" + chartId + "'); if (!e) return false;"
                                    + "var c = echarts.getInstanceByDom(e); return !!c && !!c.getOption().series"
                                    + " && c.getOption().series.length > 0;"));
                    Object overflows = js.executeScript(CHART_OVERFLOWS);
                    for (int i = 0; i < 20 && !"".equals(overflows); i++) { // resize observers answer within frames
                        Thread.sleep(100);
                        overflows = js.executeScript(CHART_OVERFLOWS);
                    }
                    assertThat(overflows).as("%s at %s", panel, size).isEqualTo("");
                    Object charts = js.executeScript("return document.querySelectorAll('main .chart canvas').length;");
                    assertThat(((Number) charts).intValue()).as("%s at %s", panel, size).isGreaterThanOrEqualTo(2);
                    // no console error on the way (the page used to ask for a favicon the server does not have)
                    assertThat(d.manage().logs().get(org.openqa.selenium.logging.LogType.BROWSER).getAll())
                            .as("console errors of %s at %s", panel, size)
                            .noneMatch(e -> e.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue());
                }
            }
        } finally {
            d.quit();
        }
    }

    /** Script: the charts whose canvas is wider than their box (id and widths), or "" when every chart fits. */
    private static final String CHART_OVERFLOWS = "var out = [];"
            + "document.querySelectorAll('main .chart').forEach(function (e) {"
            + "  var c = e.querySelector('canvas');"
            + "  if (c && c.getBoundingClientRect().width > e.clientWidth + 1) {"
            + "    out.push(e.id + ' ' + c.getBoundingClientRect().width + '>' + e.clientWidth); } });"
            + "return out.join('; ');";
}
