package dev.stethoscope.listeners;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Random;

/** Small real networks and data for listener tests. */
public final class TestNets {
    private TestNets() {
    }

    /** MLP in -> h1 (ReLU) -> h2 (ReLU) -> out (softmax). */
    public static MultiLayerNetwork mlp(long seed, int in, int h1, int h2, int out) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(1e-2))
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(in).nOut(h1).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("dense2").nIn(h1).nOut(h2).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(h2).nOut(out)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Gaussian blobs, one per class, as a DataSet with one-hot labels. */
    public static DataSet blobs(long seed, int n, int dim, int classes) {
        Random r = new Random(seed);
        float[][] centres = new float[classes][dim];
        for (int c = 0; c < classes; c++) {
            for (int d = 0; d < dim; d++) {
                centres[c][d] = (float) (r.nextGaussian() * 2);
            }
        }
        INDArray x = Nd4j.create(DataType.FLOAT, n, dim);
        INDArray y = Nd4j.create(DataType.FLOAT, n, classes);
        for (int i = 0; i < n; i++) {
            int c = i % classes;
            for (int d = 0; d < dim; d++) {
                x.putScalar(i, d, centres[c][d] + r.nextGaussian());
            }
            y.putScalar(i, c, 1f);
        }
        return new DataSet(x, y);
    }

    /**
     * The ComputationGraph equivalent of {@code mln}: its layers (cloned) and preprocessors in a chain
     * "in" -&gt; "L0" -&gt; ... -&gt; "L{n-1}", with the same parameters (a chain's parameters are in the same order).
     */
    public static org.deeplearning4j.nn.graph.ComputationGraph asGraph(MultiLayerNetwork mln) {
        org.deeplearning4j.nn.conf.MultiLayerConfiguration mc = mln.getLayerWiseConfigurations();
        org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder b =
                new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().seed(mc.getConf(0).getSeed())
                        .dataType(mln.params().dataType()).graphBuilder().addInputs("in");
        String prev = "in";
        for (int i = 0; i < mc.getConfs().size(); i++) {
            b.addLayer("L" + i, mc.getConf(i).getLayer().clone(), mc.getInputPreProcess(i), prev);
            prev = "L" + i;
        }
        org.deeplearning4j.nn.graph.ComputationGraph g = new org.deeplearning4j.nn.graph.ComputationGraph(
                b.setOutputs(prev).build());
        g.init();
        g.setParams(mln.params().dup());
        return g;
    }
}
