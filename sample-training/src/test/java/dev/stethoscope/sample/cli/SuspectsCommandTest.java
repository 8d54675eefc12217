package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.sample.Main;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.File;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class SuspectsCommandTest {


    @Test
    void writesEveryExampleSortedByCombinedScoreWithTheMarksThatSurvivedReopening(@TempDir File dir) throws Exception {
        // 200 examples in 2 well separated classes; 6 labels flipped
        int n = 200;
        Random rnd = new Random(4);
        INDArray x = Nd4j.create(DataType.FLOAT, n, 5);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 2);
        long[] flipped = {3, 40, 77, 110, 150, 199};
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            for (int j = 0; j < 5; j++) {
                x.putScalar(i, j, (c == 0 ? 0.25 : 0.75) + 0.05 * rnd.nextGaussian());
            }
            boolean flip = java.util.Arrays.binarySearch(flipped, i) >= 0;
            y.putScalar(i, flip ? 1 - c : c, 1.0);
        }
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.FLOAT).updater(new Adam(0.02)).list()
                .layer(new DenseLayer.Builder().nIn(5).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        File run = new File(dir, "stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(run);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, storage).numExamples(n)
                .flippedIndices(flipped).topK(10).failFast(true).attach();
        net.fit(l.track(IndexedArrayIterator.builder(x, y).batchSize(25).shuffle(3).build()), 8);
        l.close(); // publishes the last epoch's records
        String session = l.sessionId();
        SuspectExport.putMark(storage, session, new SuspectMark(40, 0, "mislabeled", 1), 7);
        SuspectExport.putMark(storage, session, new SuspectMark(5, 1, "fine", -1), 7);
        SuspectExport.putMark(storage, session, new SuspectMark(77, 0, "mislabeled", 1), 7);
        SuspectExport.putMark(storage, session, new SuspectMark(77, 0, "clear", -1), 7); // withdrawn
        storage.close();

        File csv = new File(dir, "out/suspects.csv");
        assertThat(Main.run("suspects", run.getPath(), "--out", csv.getPath())).isEqualTo(0);
        List<String> lines = Files.readAllLines(csv.toPath());
        assertThat(lines.get(0)).isEqualTo(SuspectExport.HEADER);
        assertThat(lines).hasSize(n + 1);
        List<String> header = List.of(lines.get(0).split(","));
        int iIndex = header.indexOf("index");
        int iCombined = header.indexOf("combined");
        int iMark = header.indexOf("mark");
        int iCorrected = header.indexOf("corrected");
        int iFlipped = header.indexOf("flipped");
        double prev = Double.POSITIVE_INFINITY;
        int flippedInTop6 = 0;
        for (int r = 1; r < lines.size(); r++) {
            String[] f = lines.get(r).split(",", -1);
            assertThat(f).hasSize(header.size());
            double c = Double.parseDouble(f[iCombined]);
            assertThat(c).isLessThanOrEqualTo(prev);
            prev = c;
            if (r <= 6 && f[iFlipped].equals("1")) {
                flippedInTop6++;
            }
            long idx = Long.parseLong(f[iIndex]);
            String expectedMark = idx == 40 ? "mislabeled" : idx == 5 ? "fine" : "";
            assertThat(f[iMark]).as("mark of %d", idx).isEqualTo(expectedMark);
            assertThat(f[iCorrected]).isEqualTo(idx == 40 ? "1" : "");
        }
        assertThat(flippedInTop6).isGreaterThanOrEqualTo(5);

        File marked = new File(dir, "marked.csv");
        assertThat(Main.run("suspects", run.getPath(), "--out", marked.getPath(), "--marked-only")).isEqualTo(0);
        List<String> m = Files.readAllLines(marked.toPath());
        assertThat(m).hasSize(3);
        assertThat(m.subList(1, 3)).anySatisfy(s -> assertThat(s.split(",")[iIndex]).isEqualTo("40"))
                .anySatisfy(s -> assertThat(s.split(",")[iIndex]).isEqualTo("5"));
    }

    @Test
    void aRunWithoutSuspectsGivesAClearError(@TempDir File dir) throws Exception {
        File run = new File(dir, "empty.dl4j");
        new FileStatsStorage(run).close();
        assertThat(Main.run("suspects", run.getPath(), "--out", new File(dir, "x.csv").getPath())).isEqualTo(1);
        assertThat(Main.run("suspects", new File(dir, "missing.dl4j").getPath(), "--out", "x.csv")).isEqualTo(1);
    }
}
