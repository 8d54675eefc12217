package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
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

/**
 * The Feature evolution panel on a real run of a ComputationGraph with two image inputs, one named with markup: the
 * layer selector and the filters name each layer's inputs as text, a unit after the merge shows its top-1 in both
 * inputs in the grid and a row of crop and projection per input in its top-k.
 */
class MultiInputFeaturesPanelTest {
    static final String EVIL = "<img src=x onerror=\"window.__xss=1\">b";

    @Test
    void aUnitAfterTheMergeShowsBothInputsNamedAsText() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(2).dataType(DataType.FLOAT)
                .updater(new Sgd(0.1)).convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("top", EVIL)
                .setInputTypes(InputType.convolutionalFlat(4, 8, 1), InputType.convolutionalFlat(4, 8, 1))
                .addLayer("ct", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU).build(), "top")
                .addLayer("cb", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU).build(), EVIL)
                .addVertex("cat", new MergeVertex(), "ct", "cb")
                .addLayer("mix", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build(), "cat")
                .addLayer("dense", new DenseLayer.Builder().nOut(6).activation(Activation.RELU).build(), "mix")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        Nd4j.getRandom().setSeed(4);
        INDArray a = Nd4j.rand(DataType.FLOAT, 48, 32);
        INDArray b = Nd4j.rand(DataType.FLOAT, 48, 32);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 48, 2);
        for (int i = 0; i < 48; i++) {
            y.putScalar(i, a.getDouble(i, 0) > b.getDouble(i, 0) ? 1 : 0, 1f);
        }
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(storage);
            FeatureEvolutionListener l;
            try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(g, storage)
                    .schedule(Schedule.atEpochs(1, 2)).unitsPerLayer(4).probeExamples(8).attach()) {
                l = fl;
                MultiDataSet md = new MultiDataSet(new INDArray[]{a, b}, new INDArray[]{y});
                for (int e = 0; e < 2; e++) {
                    g.fit(new org.deeplearning4j.datasets.iterator.IteratorMultiDataSetIterator(md.asList().iterator(), 16));
                }
            }
            assertThat(l.errorCount()).isZero();
            List<FeatureSnapshot> recs = new ArrayList<>();
            for (Persistable p : storage.getAllUpdatesAfter(l.sessionId(), FeatureSnapshot.TYPE_ID, 0)) {
                recs.add(((StethoscopeRecord) p).payload(FeatureSnapshot.class));
            }
            assertThat(recs).extracting(FeatureSnapshot::layerName)
                    .containsExactly("ct", "cb", "mix", "dense", "ct", "cb", "mix", "dense");
            assertThat(recs.get(2).inputs()).containsExactly("top", EVIL);

            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#features");
                wait.until(b2 -> b2.findElements(By.cssSelector("#features-grid td.feat-cell canvas")).size() == 6);
                List<String> options = new Select(d.findElement(By.id("features-layer"))).getOptions().stream()
                        .map(WebElement::getText).toList();
                assertThat(options).containsExactly("ct (ConvolutionLayer) \u00b7 input top",
                        "cb (ConvolutionLayer) \u00b7 input " + EVIL, "mix (ConvolutionLayer) \u00b7 inputs top + " + EVIL,
                        "dense (DenseLayer) \u00b7 inputs top + " + EVIL);
                // each stem's filters, named with its input
                assertThat(d.findElements(By.cssSelector("#features-filters canvas"))).hasSize(3);
                assertThat(d.findElements(By.cssSelector("#features-filters-1 canvas"))).hasSize(3);
                assertThat(d.findElements(By.cssSelector(".feat-filters-title")).stream().map(WebElement::getText).toList())
                        .containsExactly("ct \u00b7 input top", "cb \u00b7 input " + EVIL);

                // the unit after the merge: top-1 in both inputs, captioned
                int mixLayer = recs.get(2).layer();
                new Select(d.findElement(By.id("features-layer"))).selectByValue(String.valueOf(mixLayer));
                wait.until(b2 -> b2.findElements(By.cssSelector("#features-grid td.feat-cell canvas")).size() == 4 * 2 * 2);
                assertThat(d.findElements(By.cssSelector("#features-grid td.feat-cell .feat-input-name")).stream()
                        .map(WebElement::getText).distinct().toList()).containsExactly("top", EVIL);
                d.findElement(By.cssSelector("#features-grid td.feat-cell[data-unit='0'][data-epoch='2']")).click();
                wait.until(b2 -> b2.findElements(By.cssSelector("#features-detail canvas.feat-crop")).size() == 18);
                assertThat(d.findElements(By.cssSelector("#features-detail canvas.feat-proj"))).hasSize(18);
                assertThat(d.findElement(By.id("features-detail-inputs")).getText()).endsWith("top, " + EVIL);
                assertThat(d.findElements(By.cssSelector("#features-detail .feat-entry-input .feat-input-name")).stream()
                        .map(WebElement::getText).toList()).hasSize(18).containsOnly("top", EVIL);
                assertThat(((JavascriptExecutor) d).executeScript("return window.__xss === undefined")).isEqualTo(true);
                assertThat(d.findElements(By.cssSelector("#features-grid img, #features-detail img, #features-filters-box img")))
                        .isEmpty();
            } finally {
                d.quit();
            }
        }
    }
}
