package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.records.Health;
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
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The DL4J UI server with the Stethoscope module, end to end: real training,
 * records in an attached InMemoryStatsStorage, JSON routes over HTTP on
 * loopback, and the page in headless Chromium.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UiServerTest {
    static final String EVIL = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";

    StethoscopeUIServer server;
    InMemoryStatsStorage storage;
    String sessionId;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void trainWithTheUiAttached() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        storage = new InMemoryStatsStorage();
        server.attach(storage);

        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(6).nOut(12).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name(EVIL).nIn(12).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(3);
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, 128, 6), Nd4j.zeros(DataType.FLOAT, 128, 2));
        ds.getLabels().getColumn(0).assign(1);
        sessionId = HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).attach().sessionId();
        net.fit(new ListDataSetIterator<>(ds.asList(), 16), 2);
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Local addresses of the sockets listening on {@code port}, from the kernel's tables. */
    static List<String> listeningAddresses(int port) throws IOException {
        String hexPort = String.format("%04X", port);
        List<String> out = new java.util.ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            if (!Files.exists(Path.of(table))) {
                continue;
            }
            List<String> lines = Files.readAllLines(Path.of(table)); // read once: other processes change it
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f[1].endsWith(":" + hexPort) && f[3].equals("0A")) { // 0A = LISTEN
                    out.add(f[1].substring(0, f[1].indexOf(':')));
                }
            }
        }
        return out;
    }

    @Test
    void listensOnLoopbackOnly() throws IOException {
        // 0100007F is 127.0.0.1 in /proc/net/tcp; an IPv6 socket bound to it shows the v4-mapped form.
        List<String> addrs = listeningAddresses(server.port());
        assertThat(addrs).isNotEmpty();
        assertThat(addrs).allSatisfy(a -> assertThat(a).isIn("0100007F", "0000000000000000FFFF00000100007F"));
    }

    @Test
    void portInUseGivesOneClearMessage() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            server.close();
            try {
                assertThatThrownBy(() -> StethoscopeUIServer.start("127.0.0.1", taken.getLocalPort()))
                        .isInstanceOf(StethoscopeUIServer.PortInUseException.class)
                        .hasMessageContaining("--port")
                        .hasMessageContaining(String.valueOf(taken.getLocalPort()));
            } finally {
                server = StethoscopeUIServer.start("127.0.0.1", 0);
                server.attach(storage);
            }
        }
    }

    @Test
    void jsonRoutesServeTheRecords() throws Exception {
        HttpResponse<String> sessions = get("/stethoscope/api/sessions");
        assertThat(sessions.statusCode()).isEqualTo(200);
        assertThat(sessions.body()).contains(sessionId).contains(Health.TYPE_ID);

        HttpResponse<String> recs = get("/stethoscope/api/records/" + sessionId + "/" + Health.TYPE_ID);
        assertThat(recs.statusCode()).isEqualTo(200);
        assertThat(recs.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).contains("json"));
        // 2 epochs x 8 iterations sampled every iteration, plus 2 epoch-end probe records
        assertThat(recs.body().split("\"type\":\"Stethoscope.Health\"")).hasSize(18 + 1);
        assertThat(recs.body()).contains("\"deadFraction\"").contains("dense1");
        assertThat(recs.body()).as("markup in data is escaped in JSON").doesNotContain("<script>").contains("\\u003cscript");

        HttpResponse<String> page = get("/stethoscope");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("Stethoscope").contains("echarts.min.js");
        assertThat(get("/assets/webjars/echarts/5.3.1/dist/echarts.min.js").statusCode()).isEqualTo(200);
        assertThat(get("/stethoscope/static/..%2F..%2Fstethoscope%2Fstatic%2Findex.html").statusCode()).isEqualTo(404);
        assertThat(get("/train/overview").statusCode()).as("DL4J's own pages are served too").isEqualTo(200);
    }

    @Test
    void recordsStreamToARemoteUi() throws Exception {
        server.ui().enableRemoteListener();
        org.deeplearning4j.core.storage.impl.RemoteUIStatsStorageRouter remote =
                new org.deeplearning4j.core.storage.impl.RemoteUIStatsStorageRouter("http://127.0.0.1:" + server.port());
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(2).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().name("remote-dense").nIn(6).nOut(5).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(5).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, 32, 6), Nd4j.zeros(DataType.FLOAT, 32, 2));
        ds.getLabels().getColumn(1).assign(1);
        String remoteSession = HealthListener.builder(net, remote).schedule(Schedule.iterations(1)).sessionId("remote-session").attach().sessionId();
        net.fit(new ListDataSetIterator<>(ds.asList(), 8), 1);
        long deadline = System.currentTimeMillis() + 30_000;
        String body = "";
        while (System.currentTimeMillis() < deadline) {
            body = get("/stethoscope/api/records/" + remoteSession + "/" + Health.TYPE_ID).body();
            if (body.split("\"type\"").length - 1 >= 5) {
                break;
            }
            Thread.sleep(200);
        }
        // 4 iterations sampled every iteration + 1 epoch-end record, decoded by the server from the POSTed bytes
        assertThat(body.split("\"type\":\"Stethoscope.Health\"")).hasSize(5 + 1);
        assertThat(body).contains("remote-dense");
    }

    @Test
    void pageShowsLiveChartsAndEscapesLayerNames() throws Exception {
        ChromeDriver d = Browser.start();
        try {
            d.get("http://127.0.0.1:" + server.port() + "/stethoscope#health");
            WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
            wait.until(x -> !x.findElements(By.cssSelector("#health-latest td.layer-name")).isEmpty());
            JavascriptExecutor js = d;
            Object points = js.executeScript(
                    "var c = echarts.getInstanceByDom(document.getElementById('chart-dead'));"
                            + "var s = c.getOption().series; var n = 0;"
                            + "s.forEach(function(x){ n += x.data.filter(function(p){return p[1] !== null;}).length; });"
                            + "return n;");
            assertThat(((Number) points).intValue()).as("data points on the dead-units chart").isGreaterThanOrEqualTo(32);
            List<WebElement> names = d.findElements(By.cssSelector("#health-latest td.layer-name"));
            assertThat(names.stream().map(WebElement::getText).toList()).contains("dense1", EVIL);
            assertThat(js.executeScript("return window.__xss === undefined;")).isEqualTo(true);
            // the dead-unit column is highlighted exactly where at least half the units are dead
            for (WebElement row : d.findElements(By.cssSelector("#health-latest tr"))) {
                List<WebElement> cells = row.findElements(By.tagName("td"));
                if (cells.size() < 2) {
                    continue;
                }
                double pct = Double.parseDouble(cells.get(1).getText().replace(" %", ""));
                assertThat(cells.get(1).getAttribute("class").contains("bad")).isEqualTo(pct >= 50.0);
            }
            d.findElement(By.id("nav-errors")).click();
            wait.until(x -> x.findElement(By.id("panel-errors")).getText().contains("No monitor errors"));
        } finally {
            d.quit();
        }
    }
}
