package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.TestGraphs;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Critical samples (LASS with interval-bound certification) on a ComputationGraph: a graph that is a chain of an
 * MLP's (or a CNN's) layers with the same parameters gives the MLP's bounds, CSR flags, iterations and certified
 * examples; on a residual graph (add vertex, a vertex feeding two consumers, merge, scale, global pooling) the
 * bounds are sound; unsupported vertices are named and the search still runs.
 */
class GraphCriticalSamplesTest {

    /** An MLP trained a little on three classes, so that margins vary (as in IntervalBoundsTest). */
    private static MultiLayerNetwork trainedMlp(INDArray x) {
        MultiLayerNetwork net = TinyNets.mlp(12, 16, 3, 5);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, x.size(0), 3);
        for (int i = 0; i < x.size(0); i++) {
            double a = x.getRow(i).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 6)).sumNumber().doubleValue();
            double b = x.getRow(i).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(6, 12)).sumNumber().doubleValue();
            y.putScalar(i, a > 3.2 ? 0 : b > 3 ? 1 : 2, 1.0);
        }
        for (int e = 0; e < 60; e++) {
            net.fit(new DataSet(x, y));
        }
        return net;
    }

    @Test
    void aGraphEquivalentToAnMlpHasTheMlpsCriticalSamples() {
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 60, 12);
        MultiLayerNetwork mlp = trainedMlp(x);
        ComputationGraph graph = TestGraphs.asGraph(mlp);
        INDArray before = graph.params().dup();
        MultiLayerNetwork mc = InputGradients.analysisCopy(mlp).multiLayer();
        ComputationGraph gc = (ComputationGraph) InputGradients.analysisCopy(graph).model();
        for (LassParameters p : new LassParameters[]{
                LassParameters.defaults().withRadius(0.03).withAlpha(0.006).withBeta(0).withMaxIterations(15),
                LassParameters.defaults().withRadius(0.03).withAlpha(0.006).withBeta(0.002).withMaxIterations(15)
                        .withSeed(9).withCertification(false)}) {
            CsrResult m = CriticalSamples.search(mc, x, p, 50, true);
            CsrResult g = CriticalSamples.search(gc, x, p, 50, true);
            assertThat(g.certificationNote()).isNull();
            assertThat(g.critical()).as("critical flags, %s", p).isEqualTo(m.critical());
            assertThat(g.iterationsUsed()).isEqualTo(m.iterationsUsed());
            assertThat(g.certified()).isEqualTo(m.certified());
            assertThat(g.originalClass()).isEqualTo(m.originalClass());
            assertThat(g.criticalSampleRatio()).isEqualTo(m.criticalSampleRatio());
            assertThat(g.perturbed().sub(m.perturbed()).amaxNumber().doubleValue()).isLessThan(1e-12);
            if (p.certify()) {
                assertThat(m.numCertified()).isBetween(1, 59);
            }
            assertThat(m.numCritical()).isPositive();
        }
        // the search dispatches on the copy's kind, and the training graph is untouched
        CsrResult viaCopy = CriticalSamples.search(InputGradients.analysisCopy(graph), x,
                LassParameters.defaults().withRadius(0.03).withAlpha(0.006).withBeta(0).withMaxIterations(15), 50, false);
        assertThat(viaCopy.critical()).isEqualTo(CriticalSamples.search(mc, x,
                LassParameters.defaults().withRadius(0.03).withAlpha(0.006).withBeta(0).withMaxIterations(15), 50, false)
                .critical());
        assertThat(graph.params()).isEqualTo(before);

        // loss sensitivity per class: the same matrix
        INDArray y = InputGradients.oneHot(InputGradients.argmax(mlp.output(x)), 3, x);
        double[][] mm = LossSensitivity.perClassMatrix(mc, x, y);
        double[][] gm = LossSensitivity.perClassMatrix(gc, x, y);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                if (Double.isNaN(mm[i][j])) {
                    assertThat(gm[i][j]).isNaN();
                } else {
                    assertThat(gm[i][j]).isCloseTo(mm[i][j], within(1e-9 * Math.max(1, mm[i][j])));
                }
            }
        }
    }

    @Test
    void aChainGraphOfACnnHasTheCnnsBoundsThroughPreprocessorsAndPooling() {
        MultiLayerNetwork cnn = IntervalBoundsTest.smallCnn(Activation.RELU);
        ComputationGraph graph = TestGraphs.asGraph(cnn);
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 30, 64);
        INDArray lo = Transforms.max(x.sub(0.002), 0.0);
        INDArray hi = Transforms.min(x.add(0.002), 1.0);
        int[] pred = InputGradients.argmax(cnn.output(x));
        double[] m = IntervalBounds.of(cnn).marginLowerBounds(lo, hi, pred);
        double[] g = GraphIntervalBounds.of(graph).marginLowerBounds(lo, hi, pred);
        for (int i = 0; i < m.length; i++) {
            assertThat(g[i]).isCloseTo(m[i], within(1e-12 * Math.max(1, Math.abs(m[i]))));
        }
        assertThat(GraphIntervalBounds.of(graph).certify(lo, hi, pred)).isEqualTo(IntervalBounds.of(cnn).certify(lo, hi, pred));
    }

    /**
     * A residual CNN on flat 1 x 6 x 6 input: stem conv ReLU; c1 conv ReLU; c2 conv identity; add(stem, c2); ReLU;
     * max pool; a second branch merges global average and max pooling; scale by -0.5 then a dense layer; output.
     */
    static ComputationGraph residual(long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(seed)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(6, 6, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU).build(), "in")
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU).build(), "stem")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.IDENTITY).build(), "c1")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "stem", "c2")
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Truncate).build(), "relu")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "pool")
                .addLayer("gmp", new GlobalPoolingLayer.Builder(PoolingType.MAX).build(), "relu")
                .addVertex("cat", new MergeVertex(), "gap", "gmp")
                .addVertex("neg", new ScaleVertex(-0.5), "cat")
                .addLayer("fc", new DenseLayer.Builder().nOut(8).activation(Activation.TANH).build(), "neg")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "fc")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * Sound on a residual graph: the bound never exceeds the margin at x and at 60 points of the box (random
     * points and corners); some examples are certified and some are not.
     */
    @Test
    void residualGraphBoundsAreSound() {
        ComputationGraph net = residual(17);
        Nd4j.getRandom().setSeed(5);
        int n = 20;
        INDArray x = Nd4j.rand(DataType.DOUBLE, n, 36);
        double r = 0.01;
        INDArray lo = Transforms.max(x.sub(r), 0.0);
        INDArray hi = Transforms.min(x.add(r), 1.0);
        int[] pred = InputGradients.argmax(net.outputSingle(x));
        assertThat(GraphIntervalBounds.unsupportedReason(net)).isNull();
        double[] lb = GraphIntervalBounds.of(net).marginLowerBounds(lo, hi, pred);
        for (int s = 0; s < 60; s++) {
            INDArray t = Nd4j.rand(DataType.DOUBLE, x.shape());
            if (s % 2 == 1) {
                t = Transforms.round(t);
            }
            INDArray pt = s == 0 ? x : lo.add(hi.sub(lo).mul(t));
            double[][] logp = Transforms.log(net.outputSingle(pt), true).toDoubleMatrix();
            for (int i = 0; i < n; i++) {
                double zk = logp[i][pred[i]];
                for (int j = 0; j < logp[i].length; j++) {
                    if (j != pred[i] && lb[i] > zk - logp[i][j] + 1e-9) {
                        throw new AssertionError("bound " + lb[i] + " above the margin " + (zk - logp[i][j])
                                + ": example " + i + ", sample " + s + ", class " + j);
                    }
                }
            }
        }
        // the certificate is not vacuous: at r / 10 examples are certified, at r not all are
        int tight = count(GraphIntervalBounds.of(net).certify(Transforms.max(x.sub(r / 10), 0.0),
                Transforms.min(x.add(r / 10), 1.0), pred));
        assertThat(tight).as("certified examples at r / 10").isPositive();
        assertThat(count(GraphIntervalBounds.of(net).certify(lo, hi, pred))).as("certified examples at r").isLessThan(n);
        // and LASS on the graph runs with certification and finds critical examples at a larger radius
        CsrResult res = CriticalSamples.search((ComputationGraph) InputGradients.analysisCopy(net).model(), x,
                LassParameters.defaults().withRadius(0.2).withAlpha(0.04).withBeta(0).withMaxIterations(10), 0, false);
        assertThat(res.certificationNote()).isNull();
        assertThat(res.numCritical()).isPositive();
    }

    private static int count(boolean[] b) {
        int c = 0;
        for (boolean v : b) {
            c += v ? 1 : 0;
        }
        return c;
    }

    @Test
    void unsupportedVerticesAreNamedAndMultiInputGraphsAreRefused() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(2)
                .graphBuilder().addInputs("in")
                .addLayer("p", new DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.RELU).build(), "in")
                .addLayer("q", new DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.SIGMOID).build(), "in")
                .addVertex("gate", new ElementWiseVertex(ElementWiseVertex.Op.Product), "p", "q")
                .addLayer("out", new OutputLayer.Builder().nIn(5).nOut(2).activation(Activation.SOFTMAX).build(), "gate")
                .setOutputs("out").build();
        ComputationGraph gated = new ComputationGraph(conf);
        gated.init();
        assertThat(GraphIntervalBounds.unsupportedReason(gated)).contains("'gate'").contains("Product");
        CsrResult res = CriticalSamples.search((ComputationGraph) InputGradients.analysisCopy(gated).model(),
                Nd4j.rand(DataType.DOUBLE, 5, 4), LassParameters.defaults().withMaxIterations(3), 0, false);
        assertThat(res.certificationNote()).contains("gate");
        assertThat(res.numCertified()).isZero();

        ComputationGraphConfiguration two = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).graphBuilder()
                .addInputs("a", "b")
                .addVertex("cat", new MergeVertex(), "a", "b")
                .addLayer("out", new OutputLayer.Builder().nIn(6).nOut(2).activation(Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        ComputationGraph g2 = new ComputationGraph(two);
        g2.init();
        // bounds over several inputs (one box each) are supported; the one-array search refuses a two-input graph
        // (the INDArray[] search takes it: MultiInputMemorizationTest)
        assertThat(GraphIntervalBounds.unsupportedReason(g2)).isNull();
        assertThatThrownBy(() -> CriticalSamples.search(g2, Nd4j.rand(DataType.DOUBLE, 2, 3), LassParameters.defaults(), 0,
                false)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("inputs [a, b]");
    }
}
