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
