package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.similarity.SimilarityMethod;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
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
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The similarity panel's warnings, end to end: PWCCA (every direction) of a 40-unit layer over 32 probe
 * points is under-determined, which the page must say and mark, next to the note on PWCCA's weighting side.
 */
class SimilarityWarningsUiTest {

    @Test
    void underdeterminedPwccaIsWarnedAndMarked() throws Exception {
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            server.attach(storage);
            MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                    .seed(2).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                    .layer(new DenseLayer.Builder().name("wide").nIn(6).nOut(40).activation(Activation.TANH).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(40).nOut(2)
                            .activation(Activation.SOFTMAX).build())
                    .build();
            MultiLayerNetwork net = new MultiLayerNetwork(conf);
            net.init();
            Random r = new Random(4);
            INDArray x = Nd4j.create(DataType.FLOAT, 96, 6);
            INDArray y = Nd4j.zeros(DataType.FLOAT, 96, 2);
            for (int i = 0; i < 96; i++) {
                for (int j = 0; j < 6; j++) {
                    x.putScalar(i, j, r.nextGaussian() + (i % 2 == 0 ? 1 : -1));
                }
                y.putScalar(i, i % 2, 1);
            }
            SvccaListener s = SvccaListener.builder(net, storage).probeInputs(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(64, 96)).dup())
                    .method(SimilarityMethod.PWCCA).schedule(Schedule.epochs(1).andLast().totalEpochs(2)).async(false).attach();
            net.fit(new ListDataSetIterator<>(new DataSet(x, y).asList().subList(0, 64), 16), 2);
            s.close();
            // the record itself carries both flags for the wide layer against its earlier snapshots
            SimilarityTable fin = storage.getAllUpdatesAfter(s.sessionId(), SimilarityTable.TYPE_ID, 0).stream()
                    .map(p -> ((StethoscopeRecord) p).payload(SimilarityTable.class)).filter(q -> q.kind().equals(SimilarityTable.VS_FINAL))
                    .findFirst().orElseThrow();
            assertThat(fin.flags()[0] & SimilarityTable.UNDERDETERMINED).isNotZero(); // epoch 0 vs final, layer "wide"
            assertThat(fin.flags()[0] & SimilarityTable.FEW_POINTS).isNotZero();

            ChromeDriver d = Browser.start();
            try {
                JavascriptExecutor js = d;
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#similarity");
                wait.until(q -> !q.findElements(By.id("similarity-warning-under")).isEmpty());
                assertThat(d.findElement(By.id("similarity-warning")).getText())
                        .contains("under-determined").contains("dimension counting").contains("32 data points");
                assertThat(d.findElement(By.id("similarity-pwcca-note")).isDisplayed()).isTrue();
                assertThat(d.findElement(By.id("similarity-pwcca-note")).getText()).contains("fewer CCA directions")
                        .contains("pwcca.py");
                Object triangles = js.executeScript("var s = echarts.getInstanceByDom(document.getElementById('chart-sim-dynamics'))"
                        + ".getOption().series[0].data; return s.filter(function (p) { return p.symbol === 'triangle'; }).length;");
                assertThat(((Number) triangles).intValue()).isPositive();
            } finally {
                d.quit();
            }
        }
    }
}
