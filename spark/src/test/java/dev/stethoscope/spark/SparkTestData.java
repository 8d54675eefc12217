package dev.stethoscope.spark;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Generated data (Gaussian blobs, some labels flipped) and a small MLP for the Spark tests. */
final class SparkTestData {
    static final int FEATURES = 20;
    static final int CLASSES = 4;

    private SparkTestData() {
    }

    /** {@code n} single-example DataSets, features in (0, 1); every 10th label is flipped to the next class. */
    static List<DataSet> blobs(int n, long seed) {
        Random centers = new Random(7);
        double[][] c = new double[CLASSES][FEATURES];
        for (double[] row : c) {
            for (int j = 0; j < FEATURES; j++) {
                row[j] = centers.nextGaussian() * 1.5;
            }
        }
        Random r = new Random(seed);
        List<DataSet> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(CLASSES);
            float[] x = new float[FEATURES];
            for (int j = 0; j < FEATURES; j++) {
                x[j] = (float) (1 / (1 + Math.exp(-(c[k][j] + r.nextGaussian())))); // in (0, 1), as pixels
            }
            int label = i % 10 == 3 ? (k + 1) % CLASSES : k;
            float[] y = new float[CLASSES];
            y[label] = 1;
            out.add(new DataSet(Nd4j.create(x, new long[]{1, FEATURES}), Nd4j.create(y, new long[]{1, CLASSES})));
        }
        return out;
    }

    /** All of {@code examples} in one DataSet. */
    static DataSet merged(List<DataSet> examples) {
        return DataSet.merge(examples);
    }

    /**
     * A residual 20-{@code hidden}-4 ComputationGraph (dense, dense, their sum, softmax output), one input
     * and one output, as the one-JVM graph monitors support; initialised.
     */
    static org.deeplearning4j.nn.graph.ComputationGraph graph(int hidden, long seed) {
        var conf = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).updater(new Sgd(0.1)).weightInit(WeightInit.XAVIER)
                .graphBuilder().addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(FEATURES).nOut(hidden).activation(Activation.RELU).build(), "in")
                .addLayer("d2", new DenseLayer.Builder().nIn(hidden).nOut(hidden).activation(Activation.RELU).build(), "d1")
                .addVertex("sum", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(
                        org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add), "d1", "d2")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build(), "sum")
                .setOutputs("out").build();
        var g = new org.deeplearning4j.nn.graph.ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * The examples as minibatches of {@code batch} rows in order, each row carrying its position in
     * {@code examples} as its id (what a SparkComputationGraph trains on: one element per minibatch).
     */
    static List<DataSet> indexedBatches(List<DataSet> examples, int batch) {
        List<DataSet> out = new ArrayList<>();
        for (int start = 0; start < examples.size(); start += batch) {
            List<DataSet> rows = new ArrayList<>();
            long[] ids = new long[Math.min(batch, examples.size() - start)];
            for (int i = 0; i < ids.length; i++) {
                rows.add(examples.get(start + i));
                ids[i] = start + i;
            }
            DataSet ds = DataSet.merge(rows);
            dev.stethoscope.listeners.data.ExampleIndex.attach(ds, ids);
            out.add(ds);
        }
        return out;
    }

    /** 20-{@code hidden}-4 MLP, ReLU, softmax, SGD; initialised. */
    static MultiLayerNetwork mlp(int hidden, long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).updater(new Sgd(0.1)).weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(hidden).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
