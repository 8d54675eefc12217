package dev.stethoscope.listeners.attribution;

import dev.stethoscope.listeners.TwoInputNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.PayloadCodec;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Attributions on a ComputationGraph with two inputs (the top and bottom halves of MNIST-like digits,
 * {@link TwoInputNets}): one map per input, named, equal (split) to those of the one-input network with the same
 * weights (the block-form MultiLayerNetwork); IG completeness summed over both inputs; LRP conservation through the
 * merge.
 */
class MultiInputAttributionTest {
    private static final DataSet TRAIN = TwoInputNets.digits(1, 200);
    private static final DataSet HELD_OUT = TwoInputNets.digits(2, 40);
    private static final String[] METHODS = {"ig", "lrp-eps", "saliency", "grad-x-input", "deeplift"};
    private static ComputationGraph graph;

    @BeforeAll
    static void train() {
        graph = TwoInputNets.twoInput(7);
        for (int e = 0; e < 5; e++) {
            for (int s = 0; s < TRAIN.numExamples(); s += 50) {
                graph.fit(TwoInputNets.split((DataSet) TRAIN.getRange(s, s + 50)));
            }
        }
    }

    private static AttributionMaps onGraph(ComputationGraph g, String... methods) {
        return onGraph(g, dev.stethoscope.probes.attribution.Attributors.Options.defaults(), methods);
    }

    private static AttributionMaps onGraph(ComputationGraph g, dev.stethoscope.probes.attribution.Attributors.Options o,
                                           String... methods) {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AttributionListener l = AttributionListener.builder(g, storage).methods(methods).options(o)
                .examplesPerClass(TwoInputNets.split(HELD_OUT), 1)
                .imageShape("top", 1, 4, 8).imageShape("bottom", 1, 4, 8)
                .schedule(Schedule.never()).build();
        return l.runNow();
    }

    @Test
    void oneMapPerInputEqualToTheOneInputNetworkSplitInHalves() {
        AttributionMaps two = onGraph(graph, METHODS);
        MultiLayerNetwork block = TwoInputNets.blockEquivalent(graph);
        AttributionMaps one = AttributionListener.builder(block, new InMemoryStatsStorage()).methods(METHODS)
                .examplesPerClass(HELD_OUT, 1).imageShape(1, 8, 8).schedule(Schedule.never()).build().runNow();

        assertThat(two.inputNames()).containsExactly("top", "bottom");
        assertThat(two.inputName()).isEqualTo("top");
        assertThat(two.height()).isEqualTo(4);
        assertThat(two.width()).isEqualTo(8);
        AttributionMaps.InputMaps bottom = two.otherInputs().get(0);
        assertThat(bottom.height()).isEqualTo(4);
        assertThat(bottom.width()).isEqualTo(8);
        assertThat(one.inputName()).isNull();
        assertThat(one.otherInputs()).isEmpty();

        assertThat(two.exampleIds()).containsExactly(one.exampleIds());
        assertThat(two.targets()).containsExactly(one.targets());
        assertThat(two.targetScores()).containsExactly(one.targetScores(), within(1e-9));
        int n = one.exampleIds().length;
        assertThat(n).isEqualTo(10);
        double largest = 0;
        for (int k = 0; k < METHODS.length; k++) {
            for (int i = 0; i < n; i++) {
                float[] whole = one.map(k, i);
                float[] top = two.map(k, i);
                float[] bot = bottom.maps().get(k).get(i);
                for (int p = 0; p < 32; p++) {
                    assertThat((double) top[p]).as(METHODS[k] + " example " + i + " top pixel " + p)
                            .isCloseTo(whole[p], within(1e-5 + 1e-4 * Math.abs(whole[p])));
                    assertThat((double) bot[p]).as(METHODS[k] + " example " + i + " bottom pixel " + p)
                            .isCloseTo(whole[32 + p], within(1e-5 + 1e-4 * Math.abs(whole[32 + p])));
                    largest = Math.max(largest, Math.abs(whole[p]) + Math.abs(whole[32 + p]));
                }
                // the inputs the panel shows are the halves of the image
                for (int p = 0; p < 32; p++) {
                    assertThat(two.inputs().get(i)[p]).isEqualTo(one.inputs().get(i)[p]);
                    assertThat(bottom.inputs().get(i)[p]).isEqualTo(one.inputs().get(i)[32 + p]);
                }
                double g1 = one.gap(k, i);
                double g2 = two.gap(k, i);
                if (Double.isNaN(g1)) {
                    assertThat(g2).isNaN();
                } else {
                    assertThat(g2).as(METHODS[k] + " completeness gap, example " + i).isCloseTo(g1, within(1e-6));
                }
            }
        }
        assertThat(largest).as("the maps are not all zero").isGreaterThan(1e-3);
        // AOPC per input: each half deleted with the other kept; both defined
        for (double[] a : bottom.aopc()) {
            assertThat(java.util.Arrays.stream(a).allMatch(Double::isFinite)).isTrue();
        }
        assertThat(java.util.Arrays.stream(bottom.randomAopc()).allMatch(Double::isFinite)).isTrue();
    }

    @Test
    void integratedGradientsAreCompleteOverBothInputs() {
        AttributionMaps r = onGraph(graph, dev.stethoscope.probes.attribution.Attributors.Options.defaults()
                .withSteps(300), "ig");
        AttributionMaps.InputMaps bottom = r.otherInputs().get(0);
        for (int i = 0; i < r.exampleIds().length; i++) {
            double sum = 0;
            for (float v : r.map(0, i)) {
                sum += v;
            }
            double sumTop = sum;
            for (float v : bottom.maps().get(0).get(i)) {
                sum += v;
            }
            // gap = sum over both inputs - (f_c(x) - f_c(0)): within 5 % of the explained change (300 steps), or
            // of 1 % of the logit when the change is small
            double change = sum - r.gap(0, i);
            assertThat(Math.abs(r.gap(0, i))).as("IG gap, example " + i)
                    .isLessThanOrEqualTo(Math.max(0.05 * Math.abs(change), 0.01 * Math.abs(r.targetScores()[i])));
            assertThat(Math.abs(sumTop - sum)).as("the bottom half carries relevance too").isGreaterThan(1e-4);
        }
    }

    @Test
    void lrpConservesRelevanceThroughTheMergeWithoutBiases() {
        ComputationGraph g = graph.clone();
        for (String p : g.paramTable().keySet()) {
            if (p.endsWith("_b")) {
                g.setParam(p, g.getParam(p).mul(0));
            }
        }
        AttributionMaps r = onGraph(g, "lrp-eps");
        for (int i = 0; i < r.exampleIds().length; i++) {
            double top = 0;
            double bottom = 0;
            for (float v : r.map(0, i)) {
                top += v;
            }
            for (float v : r.otherInputs().get(0).maps().get(0).get(i)) {
                bottom += v;
            }
            // without biases every layer passes on all its relevance: top + bottom = f_c(x)
            assertThat(top + bottom).as("relevance of both inputs, example " + i)
                    .isCloseTo(r.targetScores()[i], within(1e-3 * Math.abs(r.targetScores()[i]) + 1e-5));
            assertThat(r.gap(0, i)).isCloseTo(0, within(1e-3 * Math.abs(r.targetScores()[i]) + 1e-5));
        }
    }

    @Test
    void theRecordGoesThroughTheStorageWithItsInputNames() throws Exception {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        AttributionListener l = AttributionListener.builder(graph, storage).methods("saliency")
                .examplesPerClass(TwoInputNets.split(HELD_OUT), 1).schedule(Schedule.never()).build();
        AttributionMaps r = l.runNow();
        // without imageShape: 32 values per half, not a square: one row of 32
        assertThat(r.height()).isEqualTo(1);
        assertThat(r.width()).isEqualTo(32);
        List<Persistable> recs = storage.getAllUpdatesAfter(l.sessionId(), AttributionMaps.TYPE_ID, 0);
        assertThat(recs).hasSize(1);
        AttributionMaps back = ((StethoscopeRecord) recs.get(0)).payload(AttributionMaps.class);
        assertThat(back.inputNames()).containsExactly("top", "bottom");
        assertThat(PayloadCodec.toJson(back)).isEqualTo(PayloadCodec.toJson(r));
        assertThat(l.settings().get("inputs")).isEqualTo("top,bottom");
    }

    @Test
    void singleInputMethodsAndMissingInputsAreRefusedAtAttach() {
        assertThatThrownBy(() -> AttributionListener.builder(graph, new InMemoryStatsStorage())
                .methods("ig", "occlusion", "gradcam").examplesPerClass(TwoInputNets.split(HELD_OUT), 1).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[occlusion, gradcam]")
                .hasMessageContaining("inputs [top, bottom]")
                .hasMessageContaining("lrp-eps");
        INDArray first = TwoInputNets.halves(HELD_OUT.getFeatures())[0];
        assertThatThrownBy(() -> AttributionListener.builder(graph, new InMemoryStatsStorage())
                .examples(first, new int[(int) first.size(0)], null).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("takes 2 input array(s) [top, bottom]")
                .hasMessageContaining("the joint array has 32");
        assertThatThrownBy(() -> AttributionListener.builder(graph, new InMemoryStatsStorage())
                .examplesPerClass(TwoInputNets.split(HELD_OUT), 1).imageShape("left", 1, 4, 8).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Inputs: [top, bottom]");
    }
}
