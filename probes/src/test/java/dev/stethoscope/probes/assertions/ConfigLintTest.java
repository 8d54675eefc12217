package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.exception.DL4JInvalidConfigException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The configuration lint on real DL4J configurations and batches. */
class ConfigLintTest {

    static MultiLayerConfiguration conf(Activation out, LossFunction loss, IUpdater updater) {
        return conf(out, loss, updater, false);
    }

    /** @param dl4jValidation whether DL4J's own output layer validation runs (it rejects some pairs at build time) */
    static MultiLayerConfiguration conf(Activation out, LossFunction loss, IUpdater updater, boolean dl4jValidation) {
        return new NeuralNetConfiguration.Builder().seed(1).updater(updater).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(loss).nIn(8).nOut(3).activation(out).build())
                .validateOutputLayerConfig(dl4jValidation)
                .build();
    }

    static List<Finding> lint(Activation out, LossFunction loss) {
        return ConfigLint.check(conf(out, loss, new Adam(1e-3)));
    }

    @Test
    void softmaxWithCrossEntropyIsClean() {
        assertThat(lint(Activation.SOFTMAX, LossFunction.MCXENT)).isEmpty();
        assertThat(lint(Activation.SOFTMAX, LossFunction.NEGATIVELOGLIKELIHOOD)).isEmpty();
        assertThat(lint(Activation.SIGMOID, LossFunction.XENT)).isEmpty();
        assertThat(lint(Activation.IDENTITY, LossFunction.MSE)).isEmpty();
    }

    @Test
    void mismatchedOutputAndLossAreErrors() {
        for (Object[] bad : new Object[][]{
                {Activation.SOFTMAX, LossFunction.MSE},
                {Activation.SIGMOID, LossFunction.MCXENT},
                {Activation.IDENTITY, LossFunction.MCXENT},
                {Activation.IDENTITY, LossFunction.XENT},
                {Activation.SOFTMAX, LossFunction.L1}}) {
            List<Finding> f = lint((Activation) bad[0], (LossFunction) bad[1]);
            assertThat(f).as(bad[0] + "+" + bad[1]).hasSize(1);
            assertThat(f.get(0).detector()).isEqualTo(ConfigLint.LOSS_ACTIVATION);
            assertThat(f.get(0).severity()).isEqualTo(Severity.ERROR);
            assertThat(f.get(0).unit()).isEqualTo(WindowUnit.ATTACH);
        }
        // DL4J's own build-time validation rejects some of these pairs but lets softmax+MSE through
        assertThatThrownBy(() -> conf(Activation.SIGMOID, LossFunction.MCXENT, new Adam(1e-3), true))
                .isInstanceOf(DL4JInvalidConfigException.class);
        assertThat(ConfigLint.check(conf(Activation.SOFTMAX, LossFunction.MSE, new Adam(1e-3), true))).hasSize(1);
        assertThat(lint(Activation.SIGMOID, LossFunction.MCXENT).get(0).message()).contains("sigmoid").contains("SOFTMAX");
        assertThat(lint(Activation.SOFTMAX, LossFunction.XENT).get(0).severity()).isEqualTo(Severity.WARNING);
    }

    @Test
    void learningRateOutsideItsRangeWarns() {
        List<Finding> high = ConfigLint.check(conf(Activation.SOFTMAX, LossFunction.MCXENT, new Sgd(10)));
        assertThat(high).hasSize(1);
        assertThat(high.get(0).detector()).isEqualTo(ConfigLint.LEARNING_RATE);
        assertThat(high.get(0).severity()).isEqualTo(Severity.WARNING);
        assertThat(high.get(0).message()).contains("layer0, layer1").contains("diverge");
        assertThat(ConfigLint.check(conf(Activation.SOFTMAX, LossFunction.MCXENT, new Sgd(1e-8))).get(0).message()).contains("barely move");
        assertThat(ConfigLint.check(conf(Activation.SOFTMAX, LossFunction.MCXENT, new Sgd(0.01)))).isEmpty();
        assertThat(ConfigLint.check(conf(Activation.SOFTMAX, LossFunction.MCXENT, new Sgd(1e-7)))).isEmpty();
        // JSON round trip (how train --config will bring a configuration) keeps the verdicts
        MultiLayerConfiguration json = MultiLayerConfiguration.fromJson(conf(Activation.SOFTMAX, LossFunction.MSE, new Sgd(10)).toJson());
        assertThat(ConfigLint.check(json)).extracting(Finding::detector)
                .containsExactlyInAnyOrder(ConfigLint.LOSS_ACTIVATION, ConfigLint.LEARNING_RATE);
    }

    @Test
    void computationGraphOutputsAndLearningRates() {
        ComputationGraphConfiguration graph = new NeuralNetConfiguration.Builder().seed(1).updater(new Sgd(1.0)).graphBuilder()
                .addInputs("in")
                .addLayer("hidden", new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.RELU).build(), "in")
                .addLayer("good", new OutputLayer.Builder(LossFunction.MCXENT).nIn(8).nOut(3).activation(Activation.SOFTMAX).build(), "hidden")
                .addLayer("bad", new OutputLayer.Builder(LossFunction.MSE).nIn(8).nOut(3).activation(Activation.SOFTMAX).build(), "hidden")
                .setOutputs("good", "bad")
                .build();
        List<Finding> f = ConfigLint.check(graph);
        assertThat(f).extracting(Finding::detector).containsExactlyInAnyOrder(ConfigLint.LOSS_ACTIVATION, ConfigLint.LEARNING_RATE);
        assertThat(f).filteredOn(x -> x.detector().equals(ConfigLint.LOSS_ACTIVATION)).singleElement()
                .satisfies(x -> assertThat(x.message()).contains("Output bad"));
        assertThat(ConfigLint.check(ComputationGraphConfiguration.fromJson(graph.toJson()))).hasSize(2);
    }

    @Test
    void firstBatchInputRange() {
        assertThat(ConfigLint.checkInput(Nd4j.rand(DataType.FLOAT, 16, 784))).isEmpty();
        assertThat(ConfigLint.checkInput(Nd4j.randn(DataType.FLOAT, 16, 20).muli(1.2))).isEmpty(); // standardised-ish
        List<Finding> raw = ConfigLint.checkInput(Nd4j.rand(DataType.FLOAT, 16, 784).muli(255));
        assertThat(raw).hasSize(1);
        assertThat(raw.get(0).severity()).isEqualTo(Severity.WARNING);
        assertThat(raw.get(0).message()).contains("unnormalised");
        var nan = Nd4j.rand(DataType.FLOAT, 4, 5);
        nan.putScalar(2, 3, Float.NaN);
        List<Finding> n = ConfigLint.checkInput(nan);
        assertThat(n).hasSize(1);
        assertThat(n.get(0).severity()).isEqualTo(Severity.ERROR);
        assertThat(n.get(0).message()).contains("1 NaN");
    }
}
