package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The ND4J-to-plain-values helpers against hand-computed references. */
class SignalsTest {

    @Test
    void saturationIsPreActivationBeyondFive() {
        // pre-activations -6, -4, 0, 4.9, 5.1, 7: three beyond +-5
        double[] z = {-6, -4, 0, 4.9, 5.1, 7};
        INDArray pre = Nd4j.createFromArray(z).reshape(1, 6);
        INDArray tanh = new ActivationTanH().getActivation(pre.dup(), false);
        INDArray sigmoid = new ActivationSigmoid().getActivation(pre.dup(), false);
        assertThat(Signals.saturatedFraction(tanh, new ActivationTanH())).isEqualTo(0.5);
        assertThat(Signals.saturatedFraction(sigmoid, new ActivationSigmoid())).isEqualTo(0.5);
        assertThat(Signals.saturatedFraction(tanh, new ActivationReLU())).isNaN();
    }

    @Test
    void zeroFractionNonFiniteAndClasses() {
        INDArray a = Nd4j.createFromArray(new double[][]{{0, 1, 0, 2}, {0, 0, 3, Double.NaN}});
        assertThat(Signals.zeroFraction(a)).isEqualTo(4 / 8.0);
        assertThat(Signals.nonFiniteCount(a)).isEqualTo(1);
        assertThat(Signals.rectified(new ActivationReLU())).isTrue();
        assertThat(Signals.rectified(new ActivationReLU(null, null, 0.1))).isFalse();
        assertThat(Signals.classes(Nd4j.createFromArray(new double[][]{{0.1, 0.7, 0.2}, {0.5, 0.2, 0.3}}))).containsExactly(1, 0);
        assertThat(Signals.classes(Nd4j.createFromArray(new double[][]{{0.2}, {0.8}}))).containsExactly(0, 1);
    }

    @Test
    void countingPassesMatchTheElementwiseComparisons() {
        // the counting passes (no temporaries) against eq/gte/lte arrays, with values next to the bounds:
        // tiny non-zeros, -0, NaN, infinities, float and double
        double t5 = Math.tanh(5);
        double s5 = 1 / (1 + Math.exp(5));
        double[] v = {0, -0.0, 1e-30, -1e-30, 1e-7, 1e-5, 2e-5, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
                t5, -t5, Math.nextDown(t5), 1 - s5, s5, Math.nextUp(s5), 0.5, 1.0, -1.0, 1.0000001, 3};
        for (DataType type : new DataType[]{DataType.DOUBLE, DataType.FLOAT}) {
            INDArray a = Nd4j.createFromArray(v).castTo(type).reshape(3, 7);
            double n = a.length();
            assertThat(Signals.zeroFraction(a)).as(type + " zeros").isEqualTo(a.eq(0.0).castTo(DataType.INT64).sumNumber().doubleValue() / n)
                    .isEqualTo(2 / n);
            double tanhRef = org.nd4j.linalg.ops.transforms.Transforms.abs(a, true).gte(t5).castTo(DataType.INT64).sumNumber().doubleValue();
            assertThat(Signals.saturatedFraction(a, new ActivationTanH())).as(type + " tanh").isEqualTo(tanhRef / n);
            double sigRef = a.lte(s5).castTo(DataType.INT64).sumNumber().doubleValue() + a.gte(1 - s5).castTo(DataType.INT64).sumNumber().doubleValue();
            assertThat(Signals.saturatedFraction(a, new ActivationSigmoid())).as(type + " sigmoid").isEqualTo(sigRef / n);
        }
    }

    @Test
    void layerNormsGroupParametersByLayerInIndexOrder() {
        Map<String, INDArray> p = new HashMap<>();
        p.put("10_W", Nd4j.createFromArray(3.0, 4.0));
        p.put("2_W", Nd4j.createFromArray(1.0, 2.0));
        p.put("2_b", Nd4j.createFromArray(2.0));
        Signals.LayerNorms n = Signals.layerNorms(p);
        assertThat(n.names()).containsExactly("layer 2", "layer 10"); // numeric, not lexical, order
        assertThat(n.norms()[0]).isCloseTo(3.0, within(1e-12));
        assertThat(n.norms()[1]).isCloseTo(5.0, within(1e-12));
        assertThat(n.counts()).containsExactly(3L, 2L);
    }

    @Test
    void classesReadInJavaEqualNd4jsArgMax() {
        INDArray big = Nd4j.rand(DataType.FLOAT, 300, 10);
        big.putScalar(new long[]{120, 3}, 5f);
        big.putScalar(new long[]{120, 7}, 5f); // a tie: the first column wins, as in ND4J
        INDArray rows = big.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(100, 228), org.nd4j.linalg.indexing.NDArrayIndex.all());
        INDArray[] cases = {big, rows, big.castTo(DataType.DOUBLE), rows.castTo(DataType.DOUBLE), big.dup('f'),
                big.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(2, 7)),
                Nd4j.rand(DataType.FLOAT, 1, 4)};
        for (INDArray c : cases) {
            assertThat(Signals.classes(c)).as(c.ordering() + " " + c.dataType() + " view " + c.isView())
                    .containsExactly(c.argMax(1).castTo(DataType.INT32).toIntVector());
        }
        assertThat(Signals.rowArgMaxInJava(rows)).isNotNull(); // the fast path is taken for a view of whole rows
        assertThat(Signals.classes(rows)[20]).isEqualTo(3);
        assertThat(Signals.rowArgMaxInJava(big.dup('f'))).isNull();
    }

    @Test
    void flatLayerNormsEqualThePerParameterNorms() {
        MultiLayerNetwork net = RealFaultsMain.mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, RealTrainingTest.FEATURES);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 8, net.getOutputLayer().getParam("W").size(1));
        y.putScalar(0, 1, 1);
        net.setInput(x);
        net.setLabels(y);
        net.computeGradientAndScore();
        Signals.LayerNorms flat = Signals.layerNorms(net, false);
        Signals.LayerNorms map = Signals.layerNorms(net.paramTable());
        assertThat(flat.names()).containsExactly(map.names());
        assertThat(flat.counts()).containsExactly(map.counts());
        for (int i = 0; i < map.norms().length; i++) {
            assertThat(flat.norms()[i]).isCloseTo(map.norms()[i], within(1e-5 * map.norms()[i]));
        }
        Signals.LayerNorms g = Signals.layerNorms(net, true);
        Signals.LayerNorms gMap = Signals.layerNorms(net.gradient().gradientForVariable());
        assertThat(g.names()).containsExactly(gMap.names());
        for (int i = 0; i < gMap.norms().length; i++) {
            assertThat(g.norms()[i]).isPositive().isCloseTo(gMap.norms()[i], within(1e-5 * gMap.norms()[i]));
        }
    }

    @Test
    void activationsOfARealNetworkWithAndWithoutTheOutput() {
        MultiLayerNetwork net = RealFaultsMain.mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, RealTrainingTest.FEATURES);
        List<INDArray> ff = net.feedForward(x, false);
        Signals.ActivationSignals all = Signals.activations(ff, net.getLayerWiseConfigurations());
        assertThat(all.zeroFractions()[0]).isCloseTo(Signals.zeroFraction(ff.get(1)), within(0.0)).isBetween(0.0, 1.0);
        assertThat(all.zeroFractions()[2]).isNaN(); // softmax
        assertThat(all.nonFinite()).isZero();
        Signals.ActivationSignals noOutput = Signals.activations(ff.subList(0, ff.size() - 1), net.getLayerWiseConfigurations());
        assertThat(noOutput.zeroFractions()[1]).isEqualTo(all.zeroFractions()[1]);
        assertThat(noOutput.saturatedFractions()[2]).isNaN();
        assertThatThrownBy(() -> Signals.activations(ff.subList(0, 2), net.getLayerWiseConfigurations()))
                .hasMessageContaining("Expected 4 arrays");
    }
}
