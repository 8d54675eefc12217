package dev.stethoscope.listeners.attribution;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.Saliency;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.File;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class AttributionListenerTest {

    static DataSet blobs(int n, long seed) {
        Random r = new Random(seed);
        double[][] x = new double[n][16];
        double[][] y = new double[n][3];
        for (int i = 0; i < n; i++) {
            int c = i % 3;
            for (int j = 0; j < 16; j++) {
                x[i][j] = r.nextGaussian() * 0.5 + (j % 3 == c ? 1.0 : 0.0);
            }
            y[i][c] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(DataType.FLOAT), Nd4j.createFromArray(y).castTo(DataType.FLOAT));
    }

    static MultiLayerNetwork mlp() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(42).weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(16).nOut(12).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(12).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static ListDataSetIterator<DataSet> iterator() {
        return new ListDataSetIterator<>(blobs(60, 1).asList(), 20);
    }

    @Test
    void recordsAtCheckpointsAndTrainingUnchanged() {
        MultiLayerNetwork plain = mlp();
        plain.fit(iterator(), 3);

        MultiLayerNetwork net = mlp();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AttributionListener l = AttributionListener.builder(net, storage)
                .methods("ig", "lrp-eps", "saliency", "occlusion")
                .examplesPerClass(blobs(12, 2), 1)
                .schedule(Schedule.epochs(2).andLast().totalEpochs(3))
                .attach();
        net.fit(iterator(), 3);
        assertThat(net.params().toFloatVector()).containsExactly(plain.params().toFloatVector()); // bit-identical
        assertThat(l.errorCount()).isZero();
        assertThat(l.runs()).isEqualTo(2); // end of epoch 2 and of the last epoch

        List<Persistable> recs = storage.getAllUpdatesAfter(l.sessionId(), AttributionMaps.TYPE_ID, 0);
        assertThat(recs).hasSize(2);
        AttributionMaps r = ((StethoscopeRecord) recs.get(1)).payload(AttributionMaps.class);
        assertThat(r.methods()).containsExactly("ig", "lrp-eps", "saliency", "occlusion");
        assertThat(r.labels()).containsExactly(0, 1, 2);
        assertThat(r.height()).isEqualTo(4);
        assertThat(r.width()).isEqualTo(4);
        assertThat(r.maps()).hasSize(4);
        assertThat(r.maps()).allSatisfy(perMethod -> assertThat(perMethod).hasSize(3)
                .allSatisfy(m -> assertThat(m).hasSize(16)));
        for (int i = 0; i < 3; i++) {
            assertThat(r.gap(0, i)).isFinite();               // ig has a completeness gap
            assertThat(Math.abs(r.gap(0, i))).isLessThan(0.1 * Math.abs(r.targetScores()[i]) + 0.05);
            assertThat(r.gap(2, i)).isNaN();           // saliency has none
            for (int k = 0; k < 4; k++) {
                assertThat(r.aopc(k, i)).isFinite();
            }
            assertThat(r.randomAopc()[i]).isFinite();
        }
        // the published saliency map is the saliency of the trained network (the copy was refreshed)
        INDArray x = blobs(12, 2).getFeatures().getRows(0, 1, 2);
        Attribution fresh = new Saliency(NetworkCopy.of(net)).attribute(x, r.targets());
        for (int i = 0; i < 3; i++) {
            for (int p = 0; p < 16; p++) {
                assertThat((double) r.map(2, i)[p]).isCloseTo(fresh.maps().getDouble(i, p), within(1e-5));
            }
        }
        // binary round trip through the registry
        StethoscopeRecord rec = (StethoscopeRecord) recs.get(1);
        StethoscopeRecord back = RecordTypes.newRecord(AttributionMaps.TYPE_ID);
        back.decode(rec.encode());
        List<List<float[]>> backMaps = back.payload(AttributionMaps.class).maps();
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < 3; i++) {
                assertThat(backMaps.get(k).get(i)).containsExactly(r.map(k, i));
            }
        }
        assertThat(back.toJson()).containsKeys("maps", "completenessGap", "aopc", "randomAopc", "inputs");
        // the first record (epoch 2) differs from the last: explanations change with training
        AttributionMaps first = ((StethoscopeRecord) recs.get(0)).payload(AttributionMaps.class);
        assertThat(first.map(2, 0)).isNotEqualTo(r.map(2, 0));
    }

    @Test
    void runsWhenACheckpointListenerSaves(@TempDir File dir) {
        MultiLayerNetwork net = mlp();
        net.setListeners(new CheckpointListener.Builder(dir).saveEveryNIterations(4).keepLast(2).build());
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AttributionListener l = AttributionListener.builder(net, storage).methods("saliency")
                .examples(blobs(4, 3).getFeatures(), new int[]{0, 1, 2, 0}, new long[]{10, 11, 12, 13})
                .schedule(Schedule.onCheckpoints()).checkpointPollIterations(1)
                .attach();
        net.fit(iterator(), 2); // 6 iterations: checkpoints at iteration 4 (and maybe epoch ends), none due by epochs
        assertThat(l.errorCount()).isZero();
        assertThat(l.runs()).isGreaterThanOrEqualTo(1);
        AttributionMaps r = ((StethoscopeRecord) storage.getAllUpdatesAfter(l.sessionId(), AttributionMaps.TYPE_ID, 0).get(0))
                .payload(AttributionMaps.class);
        assertThat(r.exampleIds()).containsExactly(10, 11, 12, 13);
    }

    @Test
    void badConfigurationListsValidChoices() {
        MultiLayerNetwork net = mlp();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> AttributionListener.builder(net, storage).methods("ig", "shap")
                .examplesPerClass(blobs(6, 2), 1).build())
                .hasMessageContaining("shap").hasMessageContaining("lrp-eps");
        assertThatThrownBy(() -> AttributionListener.builder(net, storage).methods("gradcam")
                .examplesPerClass(blobs(6, 2), 1).build())
                .hasMessageContaining("convolution");
        assertThatThrownBy(() -> AttributionListener.builder(net, storage)
                .examples(Nd4j.zeros(2, 10), new int[]{0, 1}, null).build())
                .hasMessageContaining("do not fit");
        assertThatThrownBy(() -> AttributionListener.builder(net, storage).examplesAt(blobs(6, 2), 2, 9))
                .hasMessageContaining("valid 0..5");
        AttributionListener ok = AttributionListener.builder(net, storage).methods("deeplift")
                .examplesAt(blobs(6, 2), 4, 1).build();
        AttributionMaps r = ok.runNow();
        assertThat(r.exampleIds()).containsExactly(4, 1);
        assertThat(r.labels()).containsExactly(1, 1);
        assertThat(Math.abs(r.gap(0, 0))).isLessThan(1e-3); // DeepLIFT sums to the logit difference
        assertThat(net.getListeners()).isEmpty(); // built, not attached
    }

    /** The ComputationGraph equivalent of {@link #mlp()}: the same layers in a chain "in" -> "hidden" -> "out". */
    static org.deeplearning4j.nn.graph.ComputationGraph mlpGraph() {
        MultiLayerConfiguration mc = mlp().getLayerWiseConfigurations();
        org.deeplearning4j.nn.conf.ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(42)
                .updater(new Adam(1e-2)).graphBuilder().addInputs("in")
                .addLayer("hidden", mc.getConf(0).getLayer().clone(), "in")
                .addLayer("out", mc.getConf(1).getLayer().clone(), "hidden")
                .setOutputs("out").build();
        org.deeplearning4j.nn.graph.ComputationGraph g = new org.deeplearning4j.nn.graph.ComputationGraph(conf);
        g.init();
        g.setParams(mlp().params().dup());
        return g;
    }

    @Test
    void onAComputationGraphTheRecordsEqualTheEquivalentMlpsAndTrainingIsUnchanged() {
        org.deeplearning4j.nn.graph.ComputationGraph plain = mlpGraph();
        plain.fit(iterator(), 3);

        MultiLayerNetwork mlpNet = mlp();
        InMemoryStatsStorage mlpStorage = new InMemoryStatsStorage();
        AttributionListener ml = AttributionListener.builder(mlpNet, mlpStorage).methods("ig", "lrp-eps", "deeplift")
                .examplesPerClass(blobs(12, 2), 1).schedule(Schedule.epochs(3).totalEpochs(3)).attach();
        mlpNet.fit(iterator(), 3);

        org.deeplearning4j.nn.graph.ComputationGraph graph = mlpGraph();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AttributionListener l = AttributionListener.builder(graph, storage).methods("ig", "lrp-eps", "deeplift")
                .examplesPerClass(blobs(12, 2), 1).schedule(Schedule.epochs(3).totalEpochs(3)).attach();
        graph.fit(iterator(), 3);
        assertThat(graph.params().toFloatVector()).containsExactly(plain.params().toFloatVector()); // bit-identical
        assertThat(l.errorCount()).isZero();
        assertThat(l.runs()).isEqualTo(1);
        AttributionMaps r = ((StethoscopeRecord) storage.getAllUpdatesAfter(l.sessionId(), AttributionMaps.TYPE_ID, 0)
                .get(0)).payload(AttributionMaps.class);
        AttributionMaps m = ((StethoscopeRecord) mlpStorage.getAllUpdatesAfter(ml.sessionId(), AttributionMaps.TYPE_ID, 0)
                .get(0)).payload(AttributionMaps.class);
        assertThat(r.methods()).containsExactly("ig", "lrp-eps", "deeplift");
        assertThat(r.labels()).containsExactly(m.labels());
        assertThat(r.maps()).hasSameSizeAs(m.maps());
        for (int k = 0; k < r.maps().size(); k++) {
            for (int e = 0; e < r.maps().get(k).size(); e++) {
                assertThat(r.maps().get(k).get(e)).usingComparatorWithPrecision(1e-4f)
                        .containsExactly(m.maps().get(k).get(e));
            }
        }
    }
}
