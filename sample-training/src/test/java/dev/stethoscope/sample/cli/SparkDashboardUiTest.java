package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.Stethoscope;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.plugin.StatsFileFilter;
import dev.stethoscope.plugin.StatsFiles;
import dev.stethoscope.plugin.StethoscopeUIServer;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.SparkTraining;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import dev.stethoscope.spark.StethoscopeSpark;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A run file written by a real Spark {@code local[2]} training (MNIST slice, parameter averaging,
 * health and an always-firing assertion on the workers) and reopened as {@code view} does: the Health
 * panel offers both workers in its select, the Assertions panel names both workers in its rows.
 */
class SparkDashboardUiTest {
    private static final String CHROMIUM = System.getProperty("stethoscope.chromium", "/usr/bin/chromium");
    private static final String CHROMEDRIVER = System.getProperty("stethoscope.chromedriver", "/usr/bin/chromedriver");

    private static JavaSparkContext sc;
    private static boolean filter;

    @org.junit.jupiter.api.BeforeAll
    static void startSpark() {
        filter = StatsFileFilter.active();
        StatsFileFilter.suspend(true); // Spark moves its tasks with Java serialization
        sc = SparkTraining.context("local[2]");
    }

    @org.junit.jupiter.api.AfterAll
    static void stopSpark() {
        if (sc != null) {
            sc.stop();
        }
        if (filter) {
            StatsFileFilter.suspend(false);
        }
    }

    /**
     * What a cluster user changes: the storage given to attach is a RemoteUIStatsStorageRouter to a UI
     * elsewhere (here a StethoscopeUIServer on the loopback with DL4J's remote listener on). The
     * workers' records reach the driver with each averaging round and are posted from there; the
     * suspects ranking is merged on the driver and posted too.
     */
    @Test
    void sparkRecordsReachARemoteUi() throws Exception {
        MnistData mnist = MnistFixture.mnist();
        LabeledImages train = DataOptions.limit(mnist.train(), 256);
        int classes = mnist.numClasses();
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.ui().enableRemoteListener();
            org.deeplearning4j.core.storage.impl.RemoteUIStatsStorageRouter remote =
                    new org.deeplearning4j.core.storage.impl.RemoteUIStatsStorageRouter("http://127.0.0.1:" + server.port());
            MultiLayerNetwork net = Models.build(Models.Kind.mlp, 7, mnist.rows(), mnist.cols(), classes);
            SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, SparkTraining.master(32, 4));
            JavaRDD<DataSet> data = SparkTraining.batches(sc, train.features(),
                    DataConversion.oneHot(train.labelValues(), classes), 32, 2);
            String session;
            try (StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(train.size())
                    .workerSchedule(Schedule.iterations(1)).attach(sparkNet, remote)) {
                s.fit(data);
                session = s.dynamics().sessionId();
            } finally {
                sparkNet.getTrainingMaster().deleteTempFiles(sc);
            }
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            long deadline = System.currentTimeMillis() + 60_000;
            String health = "";
            String suspects = "";
            while (System.currentTimeMillis() < deadline) {
                health = get(http, server.port(), "/stethoscope/api/records/" + session + "/"
                        + dev.stethoscope.listeners.records.Health.TYPE_ID);
                suspects = get(http, server.port(), "/stethoscope/api/records/" + session + "/"
                        + dev.stethoscope.listeners.records.Suspects.TYPE_ID);
                if (workersIn(health).size() >= 2 && suspects.contains("\"type\"")) {
                    break;
                }
                Thread.sleep(250);
            }
            assertThat(workersIn(health)).as("health records of both workers, posted by the driver").hasSizeGreaterThanOrEqualTo(2);
            assertThat(suspects).as("the driver's merged suspects ranking").contains("Stethoscope.Suspects");
        }
    }

    private static String get(java.net.http.HttpClient http, int port, String path) throws Exception {
        return http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The distinct worker ids (without the monitor suffix) of the records in a records-route answer. */
    private static Set<String> workersIn(String json) {
        Set<String> out = new TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"workerId\":\"([^\"]*)/health\"").matcher(json);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    @Test
    void healthAndAssertionsPanelsShowBothSparkWorkers(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(new File(CHROMIUM).canExecute() && new File(CHROMEDRIVER).canExecute(),
                "chromium and chromedriver are needed for UI tests");
        MnistData mnist = MnistFixture.mnist();
        LabeledImages train = DataOptions.limit(mnist.train(), 512);
        int classes = mnist.numClasses();
        File file = tmp.resolve("stats.dl4j").toFile();
        Set<String> workersWithFindings = new TreeSet<>();
        {
            MultiLayerNetwork net = Models.build(Models.Kind.mlp, 7, mnist.rows(), mnist.cols(), classes);
            SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, SparkTraining.master(32, 4));
            JavaRDD<DataSet> data = SparkTraining.batches(sc, train.features(),
                    DataConversion.oneHot(train.labelValues(), classes), 32, 2);
            FileStatsStorage storage = new FileStatsStorage(file);
            try (StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(train.size())
                    .workerSchedule(Schedule.iterations(2))
                    .tuneAssertions(b -> b.assertThat("worker-check", w -> Severity.WARNING))
                    .attach(sparkNet, storage)) {
                s.fit(data);
                s.fit(data);
            } finally {
                sparkNet.getTrainingMaster().deleteTempFiles(sc);
            }
            for (String session : storage.listSessionIDs()) {
                for (Persistable p : storage.getAllUpdatesAfter(session, AssertionFinding.TYPE_ID, 0)) {
                    workersWithFindings.add(p.getWorkerID().substring(0, p.getWorkerID().lastIndexOf('/')));
                }
            }
            storage.close();
        }
        assertThat(workersWithFindings).as("findings of both workers in the file").hasSizeGreaterThanOrEqualTo(2);

        FileStatsStorage reopened = StatsFiles.open(file);
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(reopened);
            ChromeDriver d = browser();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(60));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#health");
                wait.until(x -> x.findElements(By.cssSelector("#health-worker option")).size() >= 3);
                List<String> options = new Select(d.findElement(By.id("health-worker"))).getOptions().stream()
                        .map(WebElement::getText).toList();
                assertThat(options).contains("every worker").containsAll(workersWithFindings);
                assertThat(d.findElement(By.id("health-worker")).isDisplayed()).isTrue();

                d.findElement(By.id("nav-assertions")).click();
                By cells = By.cssSelector(".assertion-group[data-assertion='worker-check'] td.assertion-worker");
                try {
                    wait.until(x -> x.findElements(cells).size() >= 2);
                } finally {
                    Files.write(Path.of("target", "spark-assertions-panel.png"),
                            d.getScreenshotAs(org.openqa.selenium.OutputType.BYTES));
                }
                Set<String> shown = new TreeSet<>();
                d.findElements(cells).forEach(c -> shown.add(c.getText()));
                assertThat(shown).isEqualTo(workersWithFindings);
                assertThat(d.findElement(By.id("assertions-summary")).getText())
                        .contains("from " + workersWithFindings.size() + " workers");
                assertThat(((JavascriptExecutor) d).executeScript("return document.querySelectorAll('.error').length"))
                        .isEqualTo(0L);
            } finally {
                d.quit();
            }
        } finally {
            reopened.close();
        }
    }

    /** Headless Debian Chromium with Debian's chromedriver (as the plugin's UI tests). */
    private static ChromeDriver browser() throws Exception {
        Path profile = Files.createTempDirectory("stethoscope-chrome");
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM);
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER)).usingAnyFreePort().build();
        return new ChromeDriver(service, o);
    }
}
