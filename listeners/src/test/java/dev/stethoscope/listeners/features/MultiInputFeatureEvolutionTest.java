package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.TwoInputNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.probes.features.DeconvProjection;
import dev.stethoscope.probes.features.ReceptiveField;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link FeatureEvolutionListener} on a ComputationGraph with two image inputs: the 8x8 two-half digits of
 * {@link TwoInputNets} as "top" and "bottom" (4x8 each, flat), one convolution-pooling stem per input, a merge, a
 * convolution after the merge, a dense layer. The top-k equal a brute-force forward pass; each layer names the inputs
 * that reach it; a unit after the merge has crops and projections in both inputs, and those projections equal the
 * deconvnet projection of the whole inputs with the network at the snapshot; the first-layer filters of each stem are
 * published; training is bit-identical with and without the listener.
 */
class MultiInputFeatureEvolutionTest {
    static final int H = TwoInputNets.SIDE / 2;
    static final int W = TwoInputNets.SIDE;

    static ComputationGraph graph(double lr) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(3)
                .updater(new Sgd(lr)).weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Truncate)
                .graphBuilder()
                .addInputs("top", "bottom")
                .setInputTypes(InputType.convolutionalFlat(H, W, 1), InputType.convolutionalFlat(H, W, 1))
                .addLayer("ct", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Same).build(), "top")
                .addLayer("cb", new ConvolutionLayer.Builder(3, 3).nOut(3).activation(Activation.RELU)
                        .convolutionMode(ConvolutionMode.Same).build(), "bottom")
                .addLayer("pt", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(1, 1).build(), "ct")
                .addLayer("pb", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(1, 1).build(), "cb")
                .addVertex("cat", new MergeVertex(), "pt", "pb")
                .addLayer("mix", new ConvolutionLayer.Builder(2, 2).nOut(4).activation(Activation.RELU).build(), "cat")
                .addLayer("dense", new DenseLayer.Builder().nOut(12).activation(Activation.RELU).build(), "mix")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(TwoInputNets.CLASSES)
                        .activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    static final List<String> FOLLOWED = List.of("ct", "cb", "mix", "dense");

    @Test
    void snapshotsInEveryInputThatReachesAUnitWithoutChangingTraining() {
        DataSet d = TwoInputNets.digits(5, 160);
        ComputationGraph bare = graph(0.05);
        bare.fit(TwoInputNets.iterator(d, 16), 2);

        ComputationGraph g = graph(0.05);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(g, storage)
                .schedule(Schedule.atEpochs(1, 2)).unitsPerLayer(4).probeExamples(20)
                .projectionData(d).projectionPoints(40).attach()) {
            l = fl;
            g.fit(TwoInputNets.iterator(d, 16), 2);
        }
        assertThat(l.errorCount()).isZero();
        assertThat(g.params()).isEqualTo(bare.params()); // bit-identical training
        assertThat(l.layerNames()).containsExactly("ct", "cb", "mix", "dense"); // the default layers
        List<FeatureSnapshot> recs = FeatureEvolutionListenerTest.records(storage, l.sessionId());
        assertThat(recs).extracting(FeatureSnapshot::layerName).containsExactly("ct", "cb", "mix", "dense",
                "ct", "cb", "mix", "dense");
        List<FeatureSnapshot> last = recs.subList(4, 8);
        assertThat(last.get(0).inputs()).containsExactly("top");
        assertThat(last.get(1).inputs()).containsExactly("bottom");
        assertThat(last.get(2).inputs()).containsExactly("top", "bottom");
        assertThat(last.get(3).inputs()).containsExactly("top", "bottom");
        // first-layer filters of each stem: every filter followed, 3 filters of 3x3
        for (FeatureSnapshot stem : last.subList(0, 2)) {
            assertThat(stem.units()).extracting(FeatureUnit::unit).containsExactly(0, 1, 2);
            assertThat(stem.filters()).hasSize(3).allSatisfy(f -> assertThat(f.pixels()).hasSize(9));
            assertThat(stem.units()).allSatisfy(u -> assertThat(u.otherInputs()).isEmpty());
        }
        assertThat(last.get(0).units().get(0).input()).isEqualTo("top");
        assertThat(last.get(1).units().get(0).input()).isEqualTo("bottom");
        assertThat(last.get(2).filters()).isEmpty();
        // probe histogram: 20 probe examples x 4 channels x 2x6 positions of mix (4x8, pool to 3x7, 2x2 conv)
        FeatureSnapshot mix = last.get(2);
        long total = java.util.Arrays.stream(mix.activations().bins()).sum() + mix.activations().underflow()
                + mix.activations().overflow() + mix.activations().nan();
        assertThat(total).isEqualTo(20L * 4 * 2 * 6);

        // a unit after the merge: crops and projections in both inputs, equal to the whole inputs' projection
        ReceptiveField rf = ReceptiveField.of(g, new int[][]{{1, H, W}, {1, H, W}});
        DeconvProjection dp = new DeconvProjection(g);
        INDArray[] halves = TwoInputNets.halves(d.getFeatures());
        int compared = 0;
        double mass = 0;
        for (FeatureSnapshot s : last) {
            int layer = rf.layerIndex(s.layerName());
            for (FeatureUnit u : s.units()) {
                int m = u.values().length;
                assertThat(m).isEqualTo(9);
                assertThat(u.crops()).hasSize(m);
                assertThat(u.projections()).hasSize(m);
                List<List<FeatureImage>> crops = new java.util.ArrayList<>();
                List<List<FeatureImage>> projs = new java.util.ArrayList<>();
                crops.add(u.crops());
                projs.add(u.projections());
                u.otherInputs().forEach(o -> {
                    crops.add(o.crops());
                    projs.add(o.projections());
                });
                assertThat(crops).hasSize(s.inputs().size());
                INDArray[] xs = {rows(halves[0], u.examples()), rows(halves[1], u.examples())};
                int[] units = new int[m];
                java.util.Arrays.fill(units, u.unit());
                INDArray[] whole = dp.project(xs, layer, units, u.ys(), u.xs());
                for (int q = 0; q < s.inputs().size(); q++) {
                    int input = s.inputs().get(q).equals("top") ? 0 : 1;
                    for (int j = 0; j < m; j++) {
                        ReceptiveField.Window w = clip(rf.window(layer, input, -1, u.ys()[j], u.xs()[j]));
                        FeatureImage c = crops.get(q).get(j);
                        FeatureImage p = projs.get(q).get(j);
                        assertThat(new int[]{c.y0(), c.x0(), c.height(), c.width()})
                                .containsExactly(w.y0(), w.x0(), w.height(), w.width());
                        INDArray want = whole[input].get(NDArrayIndex.point(j), NDArrayIndex.point(0),
                                NDArrayIndex.interval(w.y0(), w.y1() + 1), NDArrayIndex.interval(w.x0(), w.x1() + 1));
                        INDArray pix = xs[input].getRow(j).reshape(H, W).get(
                                NDArrayIndex.interval(w.y0(), w.y1() + 1), NDArrayIndex.interval(w.x0(), w.x1() + 1));
                        for (int y = 0; y < w.height(); y++) {
                            for (int x = 0; x < w.width(); x++) {
                                assertThat((double) p.pixels()[y * w.width() + x]).isCloseTo(want.getDouble(y, x),
                                        org.assertj.core.data.Offset.offset(1e-5));
                                assertThat((double) c.pixels()[y * w.width() + x]).isCloseTo(pix.getDouble(y, x),
                                        org.assertj.core.data.Offset.offset(1e-6));
                            }
                        }
                        mass += Math.abs(want.sumNumber().doubleValue());
                        compared++;
                    }
                }
            }
        }
        assertThat(compared).isEqualTo(9 * (3 + 3 + 4 * 2 + 4 * 2));
        assertThat(mass).isPositive();
        // mix's field (3x3 Same conv, 2x2 pool, 2x2 conv: 5x5, clipped) is smaller than an input, dense sees both whole
        assertThat(mix.units().get(0).crops()).allSatisfy(c -> assertThat(c.height() * c.width()).isLessThan(H * W));
        assertThat(last.get(3).units().get(0).otherInputs().get(0).crops())
                .allSatisfy(c -> assertThat(new int[]{c.height(), c.width()}).containsExactly(H, W));
        List<FeatureProjection> proj = FeatureEvolutionListenerTest.projections(storage, l.sessionId());
        assertThat(proj).hasSize(2).allSatisfy(p -> assertThat(p.xs()).hasSize(40));
    }

    /**
     * With a zero learning rate every training pass computes what an inference pass does: the streamed top-k of every
     * unit equal those of one brute-force forward pass over all examples (indices: the data set's rows, named by the
     * content of both inputs).
     */
    @Test
    void topActivatingExamplesEqualABruteForceForwardPass() {
        DataSet d = TwoInputNets.digits(7, 160);
        ComputationGraph g = graph(0.0);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(g, storage).layers("ct", "cb", "mix", "dense")
                .schedule(Schedule.epochs(1)).probeExamples(0).attach()) {
            l = fl;
            g.fit(TwoInputNets.iterator(d, 16), 1);
        }
        assertThat(l.errorCount()).isZero();
        Map<String, INDArray> all = g.feedForward(TwoInputNets.halves(d.getFeatures()), false);
        int units = 0;
        for (FeatureSnapshot r : FeatureEvolutionListenerTest.records(storage, l.sessionId())) {
            for (FeatureUnit u : r.units()) {
                List<double[]> top = GraphFeatureEvolutionTest.bruteTop(List.of(all.get(r.layerName())), u.unit());
                assertThat(u.examples()).as(r.layerName() + " unit " + u.unit())
                        .containsExactly(top.stream().mapToLong(v -> (long) v[1]).toArray());
                assertThat(u.ys()).containsExactly(top.stream().mapToInt(v -> (int) v[2]).toArray());
                assertThat(u.xs()).containsExactly(top.stream().mapToInt(v -> (int) v[3]).toArray());
                for (int j = 0; j < 9; j++) {
                    assertThat(u.values()[j]).isCloseTo(top.get(j)[0], org.assertj.core.data.Offset.offset(1e-9));
                }
                units++;
            }
        }
        assertThat(units).isEqualTo(3 + 3 + 4 + 12);
    }

    @Test
    void aGraphWithSeveralInputsRefusesASingleInputShape() {
        ComputationGraph g = graph(0.05);
        assertThat(FeatureEvolutionListener.supports(g)).isTrue();
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(g, new InMemoryStatsStorage()).inputShape(1, 4, 8).build())
                .hasMessageContaining("[top, bottom]");
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(g, new InMemoryStatsStorage())
                .projectionData(new DataSet(Nd4j.zeros(5, 32), Nd4j.zeros(5, 10))).build())
                .hasMessageContaining("joint form");
    }

    private static INDArray rows(INDArray x, long[] ex) {
        int[] r = new int[ex.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = (int) ex[i];
        }
        return x.getRows(r);
    }

    private static ReceptiveField.Window clip(ReceptiveField.Window w) {
        return new ReceptiveField.Window(Math.max(0, w.y0()), Math.min(H - 1, w.y1()), Math.max(0, w.x0()),
                Math.min(W - 1, w.x1()));
    }
}
