package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.L2NormalizeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link FeatureEvolutionListener} on a small residual ComputationGraph (conv stem, pool, a residual block with a
 * skip addition, global pooling, dense, output) trained on generated images: layers by vertex name, streaming top-k
 * from the graph's training passes (equal to a brute-force top-k), crops and projections, first-layer filters,
 * activation histograms, the 2-D projection, bit-identical training.
 */
class GraphFeatureEvolutionTest {
    static final int SIDE = FeatureEvolutionListenerTest.SIDE;

    static ComputationGraph graph(double lr) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(3)
                .updater(new Sgd(lr)).convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("input")
                .setInputTypes(InputType.convolutionalFlat(SIDE, SIDE, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build(), "input")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Truncate).build(), "stem")
                .addLayer("b-conv1", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build(), "pool")
                .addLayer("b-conv2", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build(), "b-conv1")
                .addVertex("b-add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "pool", "b-conv2")
                .addLayer("b-relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "b-add")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "b-relu")
                .addLayer("dense", new DenseLayer.Builder().nOut(20).activation(Activation.RELU).build(), "gap")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    static List<String> layerNames(ComputationGraph g, int[] idx) {
        List<String> out = new ArrayList<>();
        for (int i : idx) {
            out.add(g.getLayer(i).conf().getLayer().getLayerName());
        }
        return out;
    }

    /** The brute-force top-9 of {@code unit} over batches of {@code vertex}'s activations, examples numbered in order. */
    static List<double[]> bruteTop(List<INDArray> batches, int unit) {
        List<double[]> all = new ArrayList<>();
        int ex = 0;
        for (INDArray a : batches) {
            for (int i = 0; i < a.size(0); i++, ex++) {
                all.add(FeatureEvolutionListenerTest.maxOf(a, i, unit, ex));
            }
        }
        return all.stream().sorted(Comparator.<double[]>comparingDouble(v -> -v[0]).thenComparingDouble(v -> v[1]))
                .limit(9).collect(Collectors.toList());
    }

    static void assertTop(FeatureUnit u, List<double[]> top) {
        assertThat(u.values()).containsExactly(top.stream().mapToDouble(v -> v[0]).toArray());
        assertThat(u.examples()).containsExactly(top.stream().mapToLong(v -> (long) v[1]).toArray());
        assertThat(u.ys()).containsExactly(top.stream().mapToInt(v -> (int) v[2]).toArray());
        assertThat(u.xs()).containsExactly(top.stream().mapToInt(v -> (int) v[3]).toArray());
    }

    @Test
    void graphSnapshotsFromTheTrainingPassesWithoutChangingTraining() {
        DataSet d = FeatureEvolutionListenerTest.data();
        ComputationGraph bare = graph(0.05);
        bare.fit(FeatureEvolutionListenerTest.iterator(d), 3);

        ComputationGraph g = graph(0.05);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        List<String> followed = List.of("stem", "pool", "b-conv2", "dense");
        Map<String, List<INDArray>> epoch3 = new java.util.HashMap<>();
        int[] epochNow = {0};
        g.addListeners(new BaseTrainingListener() {
            @Override
            public void onEpochStart(Model model) {
                epochNow[0]++;
            }

            @Override
            public void onForwardPass(Model model, Map<String, INDArray> activations) {
                if (epochNow[0] == 3) {
                    try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                        for (String v : followed) {
                            epoch3.computeIfAbsent(v, x -> new ArrayList<>()).add(activations.get(v).dup());
                        }
                    }
                }
            }
        });
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(g, storage)
                .layers("stem", "pool", "b-conv2", "dense").schedule(Schedule.atEpochs(1, 3)).unitsPerLayer(3)
                .probeExamples(20).projectionData(d).projectionPoints(30).attach()) {
            l = fl;
            g.fit(FeatureEvolutionListenerTest.iterator(d), 3);
        }
        assertThat(l.errorCount()).isZero();
        assertThat(g.params()).isEqualTo(bare.params()); // bit-identical training
        assertThat(l.layerNames()).containsExactly("stem", "pool", "b-conv2", "dense");
        assertThat(layerNames(g, l.layers())).containsExactly("stem", "pool", "b-conv2", "dense");

        List<FeatureSnapshot> recs = FeatureEvolutionListenerTest.records(storage, l.sessionId());
        assertThat(recs).extracting(FeatureSnapshot::snapshotEpoch).containsExactly(1, 1, 1, 1, 3, 3, 3, 3);
        assertThat(recs).extracting(FeatureSnapshot::layerName)
                .containsExactly("stem", "pool", "b-conv2", "dense", "stem", "pool", "b-conv2", "dense");
        FeatureSnapshot stem3 = recs.get(4);
        assertThat(stem3.units()).extracting(FeatureUnit::unit).containsExactly(0, 1, 2, 3); // every first-layer filter
        assertThat(recs.get(6).units()).extracting(FeatureUnit::unit).containsExactly(0, 1, 2);
        assertThat(recs.get(7).units()).extracting(FeatureUnit::unit).containsExactly(0, 6, 13);
        assertThat(stem3.filters()).hasSize(4).allSatisfy(f -> assertThat(f.pixels()).hasSize(9));
        assertThat(recs.get(5).filters()).isEmpty();
        assertThat(stem3.comparedUnits()).isEqualTo(4);
        long total = java.util.Arrays.stream(stem3.activations().bins()).sum() + stem3.activations().underflow()
                + stem3.activations().overflow() + stem3.activations().nan();
        assertThat(total).isEqualTo(20L * 4 * SIDE * SIDE); // 20 probe examples, 4 channels of 10x10 (Same)

        // the top-k of epoch 3 equal a brute-force top-k over the same training forward passes
        assertThat(epoch3.get("stem")).hasSize(5);
        for (int li = 0; li < followed.size(); li++) {
            FeatureSnapshot r = recs.get(4 + li);
            for (FeatureUnit u : r.units()) {
                assertTop(u, bruteTop(epoch3.get(followed.get(li)), u.unit()));
                assertThat(u.crops()).hasSize(9);
                assertThat(u.projections()).hasSize(9);
            }
        }
        // b-conv2 (after a pool and two 3x3 convolutions): crops of its 10x10 field, clipped at the border
        FeatureUnit bu = recs.get(6).units().get(0);
        assertThat(bu.crops()).allSatisfy(c -> assertThat(c.height()).isBetween(6, 10));
        assertThat(bu.projections()).anySatisfy(p -> {
            double n = 0;
            for (float v : p.pixels()) {
                n += Math.abs(v);
            }
            assertThat(n).isPositive();
        });
        // dense units see the whole input
        assertThat(recs.get(7).units().get(0).crops()).allSatisfy(c -> assertThat(c.height()).isEqualTo(SIDE));
        // the 2-D projection of the last followed layer
        List<FeatureProjection> proj = FeatureEvolutionListenerTest.projections(storage, l.sessionId());
        assertThat(proj).hasSize(2).allSatisfy(p -> assertThat(p.layerName()).isEqualTo("dense"));
    }

    /**
     * With a zero learning rate every training pass computes the activations an inference pass does (no dropout, no
     * normalisation): the streamed top-k of each unit equal those of one brute-force forward pass over all examples.
     */
    @Test
    void topActivatingExamplesEqualABruteForceForwardPass() {
        DataSet d = FeatureEvolutionListenerTest.data();
        ComputationGraph g = graph(0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(g, storage)
                .layers("stem", "b-conv1", "b-conv2", "dense").schedule(Schedule.epochs(1)).probeExamples(0).attach()) {
            l = fl;
            g.fit(FeatureEvolutionListenerTest.iterator(d), 1);
        }
        assertThat(l.errorCount()).isZero();
        Map<String, INDArray> all = g.feedForward(d.getFeatures(), false);
        List<FeatureSnapshot> recs = FeatureEvolutionListenerTest.records(storage, l.sessionId());
        assertThat(recs).extracting(FeatureSnapshot::layerName).containsExactly("stem", "b-conv1", "b-conv2", "dense");
        int units = 0;
        for (FeatureSnapshot r : recs) {
            for (FeatureUnit u : r.units()) {
                List<double[]> top = bruteTop(List.of(all.get(r.layerName())), u.unit());
                assertThat(u.examples()).as(r.layerName() + " unit " + u.unit())
                        .containsExactly(top.stream().mapToLong(v -> (long) v[1]).toArray());
                for (int j = 0; j < 9; j++) {
                    assertThat(u.values()[j]).isCloseTo(top.get(j)[0], org.assertj.core.data.Offset.offset(1e-9));
                }
                units++;
            }
        }
        assertThat(units).isEqualTo(4 + 4 + 4 + 16);
    }

    @Test
    void badGraphConfigurationListsVertexNames() {
        ComputationGraph g = graph(0.05);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThat(layerNames(g, FeatureEvolutionListener.builder(g, storage).build().layers()))
                .containsExactlyInAnyOrder("stem", "b-conv1", "b-conv2", "dense"); // no pooling by default
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(g, storage).layers("nope").build())
                .hasMessageContaining("valid vertex names").hasMessageContaining("'stem'")
                .hasMessageContaining("'b-conv2'").hasMessageContaining("'dense'");
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(g, storage).layers("out").build())
                .hasMessageContaining("valid vertex names");
        assertThat(FeatureEvolutionListener.supports(g)).isTrue();

        ComputationGraphConfiguration odd = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).graphBuilder()
                .addInputs("in")
                .addLayer("d", new DenseLayer.Builder().nIn(4).nOut(4).build(), "in")
                .addVertex("norm", new L2NormalizeVertex(), "d")
                .addLayer("out", new OutputLayer.Builder().nIn(4).nOut(2).activation(Activation.SOFTMAX).build(), "norm")
                .setOutputs("out").build();
        ComputationGraph og = new ComputationGraph(odd);
        og.init();
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(og, storage).build())
                .hasMessageContaining("'norm'").hasMessageContaining("L2NormalizeVertex");
        assertThat(FeatureEvolutionListener.supports(og)).isFalse();
    }
}
