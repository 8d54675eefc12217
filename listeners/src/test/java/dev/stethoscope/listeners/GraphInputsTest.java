package dev.stethoscope.listeners;

import dev.stethoscope.probes.model.Activations;
import dev.stethoscope.probes.model.GraphInputs;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;
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

        // the monitors that hold the joint form refuse such a graph when they are built, not at an analysis point
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        INDArray joint = Nd4j.rand(DataType.FLOAT, 4, 1 * 6 * 6 + 3);
        DataSet probe = new DataSet(joint, Nd4j.eye(2).repeat(0, 2).castTo(DataType.FLOAT));
        List<ThrowingCallable> builds = List.of(
                () -> HealthListener.builder(g, storage).build(),
                () -> LinearProbeListener.builder(g, storage).probeData(probe).build(),
                () -> SvccaListener.builder(g, storage).probeInputs(joint).build(),
                () -> ModelAssertions.builder(g, storage).validation(probe).build());
        for (ThrowingCallable b : builds) {
            assertThatThrownBy(b).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot follow this graph with several inputs")
                    .hasMessageContaining("input 'img'");
        }
    }

    @Test
    void aProbeSetNotInTheJointFormIsRefusedWhenTheMonitorIsBuilt() {
        ComputationGraph two = TwoInputNets.twoInput(3);
        DataSet d = TwoInputNets.digits(5, 30);
        INDArray oneHalf = TwoInputNets.halves(d.getFeatures())[0];
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThatThrownBy(() -> LinearProbeListener.builder(two, storage)
                .probeData(new DataSet(oneHalf, d.getLabels())).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[top, bottom]").hasMessageContaining("64 values per example").hasMessageContaining("not 32");
        assertThatThrownBy(() -> SvccaListener.builder(two, storage).probeInputs(oneHalf).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not 32");
        // the joint form is accepted
        assertThat(LinearProbeListener.builder(two, storage).probeData(d).build()).isNotNull();
        assertThat(SvccaListener.builder(two, storage).probeInputs(d.getFeatures()).build()).isNotNull();
    }
}
