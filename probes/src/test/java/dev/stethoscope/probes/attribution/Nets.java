package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
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

/** Small real DL4J networks and synthetic data for the attribution tests. */
final class Nets {
    private Nets() {
    }

    /** The IG paper's example f = ReLU(ReLU(x1) - 1 - ReLU(x2)), as a 3-layer DL4J network (double precision). */
    static MultiLayerNetwork igPaperNet() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(1).list()
                .layer(new DenseLayer.Builder().nIn(2).nOut(2).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nIn(2).nOut(1).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(1).nOut(1)
                        .activation(Activation.IDENTITY).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.getLayer(0).setParam("W", Nd4j.createFromArray(new double[][]{{1, 0}, {0, 1}}));
        net.getLayer(0).setParam("b", Nd4j.createFromArray(new double[][]{{0, 0}}));
        net.getLayer(1).setParam("W", Nd4j.createFromArray(new double[][]{{1}, {-1}}));
        net.getLayer(1).setParam("b", Nd4j.createFromArray(new double[][]{{-1}}));
        net.getLayer(2).setParam("W", Nd4j.createFromArray(new double[][]{{1}}));
        net.getLayer(2).setParam("b", Nd4j.createFromArray(new double[][]{{0}}));
        return net;
    }

    /** Gaussian blobs: {@code classes} centres in {@code dim} dimensions. */
    static DataSet blobs(int n, int dim, int classes, long seed) {
        Random r = new Random(seed);
        double[][] centres = new double[classes][dim];
        Random rc = new Random(7);
        for (double[] c : centres) {
            for (int j = 0; j < dim; j++) {
                c[j] = rc.nextGaussian() * 1.5;
            }
        }
        double[][] x = new double[n][dim];
        double[][] y = new double[n][classes];
        for (int i = 0; i < n; i++) {
            int c = i % classes;
            for (int j = 0; j < dim; j++) {
                x[i][j] = centres[c][j] + r.nextGaussian();
            }
            y[i][c] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(DataType.FLOAT), Nd4j.createFromArray(y).castTo(DataType.FLOAT));
    }

    /** A ReLU MLP dim-16-16-classes (biases optional), trained briefly on blobs. */
    static MultiLayerNetwork trainedMlp(int dim, int classes, boolean bias, DataType dt, int iterations) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(dt).seed(12)
                .weightInit(WeightInit.XAVIER).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(dim).nOut(16).hasBias(bias).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nIn(16).nOut(16).hasBias(bias).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(classes).hasBias(bias)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        DataSet ds = blobs(120, dim, classes, 3);
        ds.setFeatures(ds.getFeatures().castTo(dt));
        ds.setLabels(ds.getLabels().castTo(dt));
        for (int i = 0; i < iterations; i++) {
            net.fit(ds);
        }
        return net;
    }

    /** A small CNN on 1 x h x w flat input: conv3x3(4) ReLU, max 2x2, conv3x3(4, Same) ReLU, dense 8, out. */
    static MultiLayerNetwork cnn(int h, int w, int classes, DataType dt, PoolingType pool) {
        return cnn(h, w, classes, dt, pool, true);
    }

    /** As {@link #cnn(int, int, int, DataType, PoolingType)}, biases optional. */
    static MultiLayerNetwork cnn(int h, int w, int classes, DataType dt, PoolingType pool, boolean bias) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(dt).seed(5)
                .weightInit(WeightInit.XAVIER).updater(new Adam(1e-2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).hasBias(bias).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).convolutionMode(ConvolutionMode.Same)
                        .hasBias(bias).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nOut(8).hasBias(bias).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(classes).hasBias(bias)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(h, w, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * Images (flat, h*w) of uniform noise in [0, 0.5]; class 1 iff a bright 3x3 patch at rows r0..r0+2,
     * cols c0..c0+2 is present (value 1), class 0 otherwise.
     */
    static DataSet planted(int n, int h, int w, int r0, int c0, long seed) {
        Random r = new Random(seed);
        double[][] x = new double[n][h * w];
        double[][] y = new double[n][2];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < h * w; j++) {
                x[i][j] = r.nextDouble() * 0.5;
            }
            int c = i % 2;
            if (c == 1) {
                for (int a = r0; a < r0 + 3; a++) {
                    for (int b = c0; b < c0 + 3; b++) {
                        x[i][a * w + b] = 1.0;
                    }
                }
            }
            y[i][c] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(DataType.FLOAT), Nd4j.createFromArray(y).castTo(DataType.FLOAT));
    }

    /** Argmax targets of a network's output. */
    static int[] predicted(MultiLayerNetwork net, INDArray x) {
        INDArray o = net.output(x);
        return o.argMax(1).toIntVector();
    }

    /**
     * A hand-set detector of a bright 3x3 patch on h x w images in [0, 1]: conv3x3 with channel 0 = window
     * mean - 0.6 (ReLU), channel 1 dead (zero weights, bias -1); max-pool 2x2; a hidden unit summing channel 0;
     * class 1's logit = that sum, class 0's = its negative + 0.1.
     */
    static MultiLayerNetwork brightPatchDetector(int h, int w) {
        MultiLayerNetwork net = cnnNoSecondConv(h, w);
        INDArray cw = net.getLayer(0).getParam("W");
        cw.assign(0);
        cw.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0), org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.all()).assign(1.0 / 9);
        net.getLayer(0).getParam("b").assign(Nd4j.createFromArray(new float[][]{{-0.6f, -1f}}));
        INDArray dw = net.getLayer(2).getParam("W"); // [2*ph*pw, 1]
        dw.assign(0);
        long per = dw.size(0) / 2;
        dw.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, per), org.nd4j.linalg.indexing.NDArrayIndex.all()).assign(1);
        net.getLayer(2).getParam("b").assign(0);
        net.getLayer(3).getParam("W").assign(Nd4j.createFromArray(new float[][]{{-1f, 1f}}));
        net.getLayer(3).getParam("b").assign(Nd4j.createFromArray(new float[][]{{0.1f, 0f}}));
        return net;
    }

    private static MultiLayerNetwork cnnNoSecondConv(int h, int w) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).seed(5).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(1).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(h, w, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
