package dev.stethoscope.listeners;

import dev.stethoscope.probes.model.Activations;
import dev.stethoscope.probes.model.GraphInputs;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The joint form of a graph's several inputs ({@link GraphInputs}), which the probe-set monitors (health, linear
 * probes, similarity), assertions and the data-set builders use: sizes read from the configuration, split and joint
 * inverse to each other, and the activations of the two-input graph on the joint form equal those of the one-input
 * graph on the concatenated input.
 */
class GraphInputsTest {

    @Test
    void theJointFormSplitsBackAndFeedsTheGraphAsTheOneInputGraph() {
        ComputationGraph two = TwoInputNets.twoInput(3);
        ComputationGraph one = TwoInputNets.subsetEquivalent(two);
        DataSet d = TwoInputNets.digits(5, 30);
        assertThat(GraphInputs.inputSizes(two)).containsExactly(32, 32);
        INDArray[] parts = GraphInputs.split(two, d.getFeatures());
        assertThat(parts).hasSize(2);
        assertThat(parts[0]).isEqualTo(TwoInputNets.halves(d.getFeatures())[0]);
        assertThat(parts[1]).isEqualTo(TwoInputNets.halves(d.getFeatures())[1]);
        assertThat(GraphInputs.joint(parts)).isEqualTo(d.getFeatures());

        Map<String, INDArray> a2 = Activations.of(two, d.getFeatures());
        Map<String, INDArray> a1 = Activations.of(one, d.getFeatures());
        assertThat(a2.keySet()).containsExactly("dt", "db", "h", "out");
        for (String layer : a2.keySet()) {
            assertThat(a2.get(layer).sub(a1.get(layer)).amaxNumber().doubleValue()).as(layer).isLessThan(1e-12);
        }
        assertThatThrownBy(() -> GraphInputs.split(two, parts[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[top, bottom]").hasMessageContaining("[32, 32]")
                .hasMessageContaining("the joint array has 32");
    }

    @Test
    void anInputWhoseSizeTheConfigurationDoesNotTellIsNamed() {
        var conf = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("img", "meta")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nIn(1).nOut(2).build(), "img")
                .addLayer("gap", new GlobalPoolingLayer.Builder().build(), "conv")
                .addVertex("cat", new MergeVertex(), "gap", "meta")
                .addLayer("out", new OutputLayer.Builder().nIn(5).nOut(2).activation(Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        assertThatThrownBy(() -> GraphInputs.inputSizes(g))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input 'img'")
                .hasMessageContaining("convolutionalFlat");
    }
}
