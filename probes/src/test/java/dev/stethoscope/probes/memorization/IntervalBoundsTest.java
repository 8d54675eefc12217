package dev.stethoscope.probes.memorization;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Interval bounds: exact on a linear model, sound (never above the true margin anywhere in the
 * box) on an MLP and a CNN, and LASS with certification gives the same critical flags as the
 * full search.
 */
class IntervalBoundsTest {

    /** On a linear 2-class model the bound is exact: |d(x)| - r ||w_1 - w_0||_1 (box inside the range). */
    @Test
    void linearModelBoundIsTheExactWorstCaseMargin() {
        CriticalSamplesTest.linearModel();
        double[][] pts = CriticalSamplesTest.pointsAt(CriticalSamplesTest.DISTANCES, 3);
        INDArray x = Nd4j.create(pts);
        double r = CriticalSamplesTest.R;
        int[] pred = InputGradients.argmax(CriticalSamplesTest.net.output(x));
        IntervalBounds ib = IntervalBounds.of(CriticalSamplesTest.net);
        double[] lb = ib.marginLowerBounds(x.sub(r), x.add(r), pred);
        boolean[] cert = ib.certify(x.sub(r), x.add(r), pred);
        for (int i = 0; i < pts.length; i++) {
            double d = CriticalSamplesTest.decision(pts[i]);
            assertThat(lb[i]).isCloseTo(Math.abs(d) - r * CriticalSamplesTest.wdL1, within(1e-9));
            // |distance| > r (with the 1e-3 rounding tolerance) <=> certified
            assertThat(cert[i]).as("point at %s r", CriticalSamplesTest.DISTANCES[i])
                    .isEqualTo(Math.abs(CriticalSamplesTest.DISTANCES[i]) > 1.0);
        }
    }

    @Test
    void mlpBoundsAreSoundUnderRandomAndCornerSampling() {
        MultiLayerNetwork net = TinyNets.mlp(12, 16, 4, 11);
        assertSound(net, Nd4j.rand(DataType.DOUBLE, 40, 12), 0.05, 12);
    }

    @Test
    void cnnBoundsAreSoundThroughConvolutionPoolingAndPreprocessors() {
        MultiLayerNetwork net = smallCnn(Activation.RELU);
        assertSound(net, Nd4j.rand(DataType.DOUBLE, 30, 64), 0.002, 13);
        MultiLayerNetwork tanh = smallCnn(Activation.TANH);
        assertSound(tanh, Nd4j.rand(DataType.DOUBLE, 30, 64), 0.002, 14);
    }

    /**
     * For every example: the bound is at most the margin at x itself and at 300 points of the box
     * (random points and random corners); the margin z_k - z_j is read from the softmax output as
     * log p_k - log p_j. Also: some examples are certified and some are not at this radius.
     */
    private static void assertSound(MultiLayerNetwork net, INDArray x, double r, long seed) {
        Nd4j.getRandom().setSeed(seed);
        int n = (int) x.size(0);
        INDArray lo = Transforms.max(x.sub(r), 0.0);
        INDArray hi = Transforms.min(x.add(r), 1.0);
        int[] pred = InputGradients.argmax(net.output(x));
        double[] lb = IntervalBounds.of(net).marginLowerBounds(lo, hi, pred);
        double minGap = Double.POSITIVE_INFINITY;
        for (int s = 0; s < 300; s++) {
            INDArray t = Nd4j.rand(DataType.DOUBLE, x.shape());
            if (s % 2 == 1) {
                t = Transforms.round(t); // corners
            }
            INDArray pt = lo.add(hi.sub(lo).mul(t));
            if (s == 0) {
                pt = x;
            }
            INDArray logp = Transforms.log(net.output(pt), true);
            for (int i = 0; i < n; i++) {
                double zk = logp.getDouble(i, pred[i]);
                for (int j = 0; j < logp.size(1); j++) {
                    if (j != pred[i]) {
                        double margin = zk - logp.getDouble(i, j);
                        assertThat(lb[i]).as("example %d, sample %d, class %d", i, s, j).isLessThanOrEqualTo(margin + 1e-9);
                        minGap = Math.min(minGap, margin - lb[i]);
                    }
                }
            }
        }
        assertThat(minGap).isGreaterThanOrEqualTo(-1e-9);
        boolean[] cert = IntervalBounds.of(net).certify(lo, hi, pred);
        int c = 0;
        for (boolean b : cert) {
            c += b ? 1 : 0;
        }
        assertThat(c).as("certified examples").isBetween(1, n - 1);
    }

    static MultiLayerNetwork smallCnn(Activation act) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(21).dataType(DataType.DOUBLE).weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(act).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(10).activation(act).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(8, 8, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * With no noise (beta = 0) each example's LASS path does not depend on the others, so
     * certification must leave every flag and every iteration count unchanged; it must also
     * actually skip examples. The MLP is first trained a little so margins vary.
     */
    @Test
    void certificationChangesNothingButTheWork() {
        MultiLayerNetwork net = TinyNets.mlp(12, 16, 3, 5);
        net.setListeners();
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 200, 12);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, 200, 3);
        for (int i = 0; i < 200; i++) {
            // three classes from the sign pattern of two feature sums
            double a = x.getRow(i).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 6)).sumNumber().doubleValue();
            double b = x.getRow(i).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(6, 12)).sumNumber().doubleValue();
            y.putScalar(i, a > 3.2 ? 0 : b > 3 ? 1 : 2, 1.0);
        }
        for (int e = 0; e < 60; e++) {
            net.fit(new DataSet(x, y));
        }
        MultiLayerNetwork copy = InputGradients.analysisCopy(net).multiLayer();
        LassParameters p = LassParameters.defaults().withRadius(0.03).withAlpha(0.006).withBeta(0)
                .withMaxIterations(15);
        CsrResult with = CriticalSamples.search(copy, x, p, 64, true);
        CsrResult without = CriticalSamples.search(copy, x, p.withCertification(false), 64, true);
        assertThat(with.certificationNote()).isNull();
        assertThat(with.numCertified()).isBetween(1, 199);
        assertThat(without.numCertified()).isZero();
        assertThat(with.critical()).isEqualTo(without.critical());
        assertThat(with.iterationsUsed()).isEqualTo(without.iterationsUsed());
        assertThat(with.numCritical()).isGreaterThan(0);
        for (int i = 0; i < 200; i++) {
            if (with.certified()[i]) {
                assertThat(without.critical()[i]).isFalse();
                assertThat(with.perturbed().getRow(i)).isEqualTo(x.getRow(i));
            }
        }
    }

    @Test
    void unsupportedLayersAreNamedAndTheSearchStillRuns() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(2).dataType(DataType.DOUBLE).updater(new Adam(1e-3)).list()
                .layer(new DenseLayer.Builder().nIn(6).nOut(5).activation(Activation.RELU).build())
                .layer(new BatchNormalization.Builder().nOut(5).build())
                .layer(new OutputLayer.Builder().nIn(5).nOut(2).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        assertThat(IntervalBounds.unsupportedReason(net)).contains("layer 1").contains("BatchNormalization");
        MultiLayerNetwork swish = TinyNets.mlp(4, 3, 2, 1);
        ((org.deeplearning4j.nn.conf.layers.BaseLayer) swish.getLayerWiseConfigurations().getConf(0).getLayer())
                .setActivationFn(Activation.SWISH.getActivationFunction());
        assertThat(IntervalBounds.unsupportedReason(swish)).contains("not monotone");
        // a leaky ReLU with a negative slope decreases; a sigmoid output can tie two different logits
        MultiLayerNetwork leaky = TinyNets.mlp(4, 3, 2, 1);
        ((org.deeplearning4j.nn.conf.layers.BaseLayer) leaky.getLayerWiseConfigurations().getConf(0).getLayer())
                .setActivationFn(new org.nd4j.linalg.activations.impl.ActivationLReLU(-0.1));
        assertThat(IntervalBounds.unsupportedReason(leaky)).contains("layer 0").contains("not monotone");
        ((org.deeplearning4j.nn.conf.layers.BaseLayer) leaky.getLayerWiseConfigurations().getConf(0).getLayer())
                .setActivationFn(new org.nd4j.linalg.activations.impl.ActivationLReLU(0.1));
        assertThat(IntervalBounds.unsupportedReason(leaky)).isNull();
        ((org.deeplearning4j.nn.conf.layers.BaseLayer) leaky.getLayerWiseConfigurations().getConf(1).getLayer())
                .setActivationFn(Activation.SIGMOID.getActivationFunction());
        assertThat(IntervalBounds.unsupportedReason(leaky)).contains("layer 1").contains("softmax, identity");
        CsrResult res = CriticalSamples.search(InputGradients.analysisCopy(net).multiLayer(),
                Nd4j.rand(DataType.DOUBLE, 5, 6), LassParameters.defaults().withMaxIterations(3), 0, false);
        assertThat(res.certificationNote()).contains("BatchNormalization");
        assertThat(res.numCertified()).isZero();
    }
}
