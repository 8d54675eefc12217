package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The feature-evolution panel in headless Chromium, fed by a real training run with the listener. */
class FeaturesPanelTest {
    static final String EVIL = "<img src=x onerror=\"window.__xss=1\">";

    @Test
    void gridOfUnitsByEpochsOpensAUnitAndMovesTheSliders() throws Exception {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5)
                .dataType(DataType.FLOAT).updater(new Sgd(0.2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name(EVIL).nOut(12).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(10, 10, 1)).build());
        net.init();
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.FLOAT, 64, 100);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 64, 2);
        for (int i = 0; i < 64; i++) {
            y.putScalar(i, x.getDouble(i, 0) > 0.5 ? 1 : 0, 1f);
        }
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(storage);
            FeatureEvolutionListener l;
            try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(net, storage)
                    .schedule(Schedule.atEpochs(1, 2, 3)).unitsPerLayer(6)
                    .projectionData(new DataSet(x.get(NDArrayIndex.interval(0, 40)), y.get(NDArrayIndex.interval(0, 40))))
                    .attach()) {
                l = fl;
                net.fit(new ListDataSetIterator<>(new DataSet(x, y).asList(), 16), 3);
            }
            List<FeatureSnapshot> recs = new ArrayList<>();
            for (Persistable p : storage.getAllUpdatesAfter(l.sessionId(), FeatureSnapshot.TYPE_ID, 0)) {
                recs.add(((StethoscopeRecord) p).payload(FeatureSnapshot.class));
            }
            assertThat(recs).hasSize(6); // conv and dense (pooling only when asked) x 3 epochs
            List<FeatureProjection> projs = new ArrayList<>();
            for (Persistable p : storage.getAllUpdatesAfter(l.sessionId(), FeatureProjection.TYPE_ID, 0)) {
                projs.add(((StethoscopeRecord) p).payload(FeatureProjection.class));
            }
            assertThat(projs).extracting(FeatureProjection::snapshotEpoch).containsExactly(1, 2, 3);
            java.util.Set<Integer> classes = new java.util.TreeSet<>();
            for (int c : projs.get(0).classes()) {
                classes.add(c);
            }
            assertThat(classes).containsExactly(0, 1);
            assertThat(l.errorCount()).isZero();
            long switchedConv = recs.stream().filter(r -> r.layer() == 0)
                    .flatMap(r -> r.units().stream()).filter(FeatureSnapshot.FeatureUnit::top1Changed).count();

            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#features");
                wait.until(b -> b.findElements(By.cssSelector("#features-grid td.feat-cell canvas")).size() == 12);
                assertThat(d.findElement(By.id("nav-features")).getText()).isEqualTo("Feature evolution");
                assertThat(d.findElements(By.cssSelector("#features-grid th.feat-epoch")).stream().map(WebElement::getText).toList())
                        .containsExactly("epoch 1", "epoch 2", "epoch 3");
                assertThat(d.findElements(By.cssSelector("#features-grid td.feat-unit")).stream().map(WebElement::getText).toList())
                        .containsExactly("0", "1", "2", "3");
                assertThat((long) d.findElements(By.cssSelector("#features-grid td.feat-switched")).size()).isEqualTo(switchedConv);
                assertThat(d.findElement(By.id("features-settled-line")).getText()).contains("conv: ").contains(EVIL).doesNotContain("pool");

                // open unit 2 at epoch 2: its top-9 crops and projections
                d.findElement(By.cssSelector("#features-grid td.feat-cell[data-unit='2'][data-epoch='2']")).click();
                wait.until(b -> b.findElements(By.cssSelector("#features-detail canvas.feat-crop")).size() == 9);
                assertThat(d.findElements(By.cssSelector("#features-detail canvas.feat-proj"))).hasSize(9);
                assertThat(d.findElement(By.id("features-detail-title")).getText()).isEqualTo("conv, unit 2, epoch 2: top 9");
                FeatureSnapshot.FeatureUnit u2 = recs.get(2).units().get(2); // epoch 2, conv
                assertThat(d.findElements(By.cssSelector("#features-detail figcaption")).get(0).getText())
                        .startsWith("#" + u2.examples()[0] + " ");

                // the filter slider: latest epoch first, moved to the first
                assertThat(d.findElement(By.id("features-filters")).getAttribute("data-epoch")).isEqualTo("3");
                assertThat(d.findElements(By.cssSelector("#features-filters canvas"))).hasSize(4);
                ((JavascriptExecutor) d).executeScript("var s = document.getElementById('features-filter-slider');"
                        + "s.value = '0'; s.dispatchEvent(new Event('input'));");
                wait.until(b -> "1".equals(b.findElement(By.id("features-filters")).getAttribute("data-epoch")));

                // the layer selector: the dense layer's 6 sampled units
                new Select(d.findElement(By.id("features-layer"))).selectByValue("2");
                wait.until(b -> b.findElements(By.cssSelector("#features-grid td.feat-unit")).size() == 6);
                assertThat(d.findElements(By.cssSelector("#features-grid td.feat-unit")).stream().map(WebElement::getText).toList())
                        .containsExactly("0", "2", "4", "6", "8", "10");
                assertThat(d.findElements(By.cssSelector("#features-ridges canvas"))).hasSize(2);

                // the aligned 2-D projection: latest epoch first, 40 points, a legend of both classes; slider to epoch 1
                wait.until(b -> b.findElements(By.id("features-proj-canvas")).size() == 1);
                WebElement canvas = d.findElement(By.id("features-proj-canvas"));
                assertThat(canvas.getAttribute("data-epoch")).isEqualTo("3");
                assertThat(canvas.getAttribute("data-points")).isEqualTo("40");
                assertThat(d.findElements(By.cssSelector("#features-proj-legend .feat-legend-item")).stream()
                        .map(WebElement::getText).toList()).containsExactly("class 0", "class 1");
                Object colours = ((JavascriptExecutor) d).executeScript("var c = document.getElementById('features-proj-canvas');"
                        + "var p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = {};"
                        + "for (var i = 0; i < p.length; i += 4) { seen[p[i] + ',' + p[i + 1] + ',' + p[i + 2]] = 1; }"
                        + "return Object.keys(seen).length;");
                assertThat(((Number) colours).intValue()).isGreaterThanOrEqualTo(3); // white and two class colours
                ((JavascriptExecutor) d).executeScript("var s = document.getElementById('features-proj-slider');"
                        + "s.value = '0'; s.dispatchEvent(new Event('input'));");
                wait.until(b -> "1".equals(b.findElement(By.id("features-proj-canvas")).getAttribute("data-epoch")));
                assertThat(d.findElement(By.id("features-proj-epoch")).getText()).isEqualTo("1");
                assertThat(d.findElement(By.id("features-proj-info")).getText()).doesNotContain("aligned"); // first snapshot
                ((JavascriptExecutor) d).executeScript("var s = document.getElementById('features-proj-slider');"
                        + "s.value = '1'; s.dispatchEvent(new Event('input'));");
                wait.until(b -> "2".equals(b.findElement(By.id("features-proj-canvas")).getAttribute("data-epoch")));
                assertThat(d.findElement(By.id("features-proj-info")).getText()).contains("aligned");

                // the compact grid route is much smaller than the records it summarises
                String sid = l.sessionId();
                Object sizes = ((JavascriptExecutor) d).executeAsyncScript("var done = arguments[arguments.length - 1];"
                        + "Promise.all([fetch('/stethoscope/api/records/' + encodeURIComponent('" + sid + "') + '/"
                        + FeatureSnapshot.TYPE_ID + "?after=-1').then(function (r) { return r.text(); }),"
                        + "fetch('/stethoscope/api/features/' + encodeURIComponent('" + sid + "') + '/grid?after=-1&layer=0')"
                        + ".then(function (r) { return r.text(); })]).then(function (t) { done([t[0].length, t[1].length]); });");
                List<?> sz = (List<?>) sizes;
                assertThat(((Number) sz.get(1)).longValue() * 3).isLessThan(((Number) sz.get(0)).longValue());
                // a unit route answer for a unit that does not exist is a 404
                Object status = ((JavascriptExecutor) d).executeAsyncScript("var done = arguments[arguments.length - 1];"
                        + "fetch('/stethoscope/api/features/' + encodeURIComponent('" + sid + "') + '/unit?layer=0&epoch=2&unit=99')"
                        + ".then(function (r) { done(r.status); });");
                assertThat(((Number) status).intValue()).isEqualTo(404);

                // a snapshot stored late with an older timestamp than all the page has read (a Spark worker's batch,
                // a remote router with a lagging clock) still reaches the grid: it follows by arrival, not by time
                storeLate(storage, sid, recs.stream().filter(r -> r.layer() == 2 && r.snapshotEpoch() == 3)
                        .findFirst().orElseThrow());
                wait.until(b -> b.findElements(By.cssSelector("#features-grid th.feat-epoch")).size() == 4);
                assertThat(d.findElements(By.cssSelector("#features-grid th.feat-epoch")).stream().map(WebElement::getText).toList())
                        .containsExactly("epoch 1", "epoch 2", "epoch 3", "epoch 4");
                assertThat(d.findElements(By.cssSelector("#features-grid td.feat-cell[data-epoch='4'] canvas"))).hasSize(6);
                assertThat(((JavascriptExecutor) d).executeScript("return window.__xss === undefined;")).isEqualTo(true);
            } finally {
                d.quit();
            }
        }
    }

    /**
     * Stores {@code like} again as the snapshot of epoch 4 of another worker, stamped 1 ms before the oldest
     * snapshot of the session (after that worker's static info, a copy of the driver's, as a Spark worker's records come).
     */
    private static void storeLate(InMemoryStatsStorage storage, String session, FeatureSnapshot like) {
        long oldest = Long.MAX_VALUE;
        for (Persistable p : storage.getAllUpdatesAfter(session, FeatureSnapshot.TYPE_ID, 0)) {
            oldest = Math.min(oldest, p.getTimeStamp());
        }
        FeatureSnapshot late = new FeatureSnapshot(like.layer(), like.layerName(), like.layerType(), 4, like.k(),
                like.units(), like.comparedUnits(), like.changedFraction(), like.meanOverlap(), like.settledAt(),
                like.filters(), like.weights(), like.activations());
        StethoscopeRecord driverInfo = (StethoscopeRecord) storage.getAllStaticInfos(session, FeatureSnapshot.TYPE_ID).get(0);
        StethoscopeRecord info = StethoscopeRecord.staticInfo(FeatureSnapshot.TYPE_ID, driverInfo.payload());
        info.setKey(session, "worker-1", oldest - 1, 4, 0);
        storage.putStaticInfo(info);
        StethoscopeRecord update = StethoscopeRecord.of(late);
        update.setKey(session, "worker-1", oldest - 1, 4, 0);
        storage.putUpdate(update);
    }
}
