package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Random;

/** Small ComputationGraphs for the graph tests (double precision). */
final class GraphNets {
    private GraphNets() {
    }

    /**
     * Two inputs "a" [n, 4] and "b" [n, 3]: da = dense(a, 5), db = dense(b, 5), sum = da + db, cat = merge(sum, b),
     * h = dense(cat, 6), sc = 0.5 * h, out = output(sc, 3). Every path crosses an addition or a merge; "b" feeds
     * two vertices.
     */
    static ComputationGraph twoInput(Activation act, boolean bias, long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(seed)
                .weightInit(WeightInit.XAVIER).updater(new Adam(1e-2)).graphBuilder()
                .addInputs("a", "b")
                .addLayer("da", new DenseLayer.Builder().nIn(4).nOut(5).hasBias(bias).activation(act).build(), "a")
                .addLayer("db", new DenseLayer.Builder().nIn(3).nOut(5).hasBias(bias).activation(act).build(), "b")
                .addVertex("sum", new ElementWiseVertex(ElementWiseVertex.Op.Add), "da", "db")
                .addVertex("cat", new MergeVertex(), "sum", "b")
                .addLayer("h", new DenseLayer.Builder().nIn(8).nOut(6).hasBias(bias).activation(act).build(), "cat")
                .addVertex("sc", new ScaleVertex(0.5), "h")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(6).nOut(3).hasBias(bias)
                        .activation(Activation.SOFTMAX).build(), "sc")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * One input [n, 4] through a multiplicative gate and a shift: p = dense(in, 5), q = dense(in, 5) (sigmoid),
     * prod = p * q, s = prod + 0.25 (ShiftVertex), sub = columns 1..4 of s, out = output(sub, 3).
     */
    static ComputationGraph gated(Activation act, long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(seed)
                .weightInit(WeightInit.XAVIER).updater(new Adam(1e-2)).graphBuilder()
                .addInputs("in")
                .addLayer("p", new DenseLayer.Builder().nIn(4).nOut(5).activation(act).build(), "in")
                .addLayer("q", new DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.SIGMOID).build(), "in")
                .addVertex("prod", new ElementWiseVertex(ElementWiseVertex.Op.Product), "p", "q")
                .addVertex("s", new ShiftVertex(0.25), "prod")
                .addVertex("sub", new SubsetVertex(1, 4), "s")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "sub")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * A small residual CNN on flat 1 x h x w input: stem conv3x3(4, Same) ReLU; block: conv3x3(4, Same) ReLU,
     * conv3x3(4, Same) identity, add with the stem, ReLU; max pool 2x2; global average pooling; dense 8 ReLU; output.
     */
    static ComputationGraph residual(int h, int w, int classes, boolean bias) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(8)
                .weightInit(WeightInit.XAVIER).updater(new Adam(1e-2)).convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(h, w, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(4).hasBias(bias).activation(Activation.RELU).build(), "in")
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(4).hasBias(bias).activation(Activation.RELU).build(), "stem")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(4).hasBias(bias).activation(Activation.IDENTITY).build(), "c1")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "stem", "c2")
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Truncate).build(), "relu")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "pool")
                .addLayer("fc", new DenseLayer.Builder().nOut(8).hasBias(bias).activation(Activation.RELU).build(), "gap")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(classes).hasBias(bias)
                        .activation(Activation.SOFTMAX).build(), "fc")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /** Uniform random [n, d] in [lo, hi). */
    static INDArray uniform(int n, int d, double lo, double hi, long seed) {
        Random r = new Random(seed);
        double[][] x = new double[n][d];
        for (double[] row : x) {
            for (int j = 0; j < d; j++) {
                row[j] = lo + (hi - lo) * r.nextDouble();
            }
        }
        return Nd4j.createFromArray(x);
    }
}
