package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.TwoInputNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.AssertionFinding;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Per-example assertions on a ComputationGraph with two inputs ({@link TwoInputNets}): x is the joint form of the
 * example's inputs (top then bottom half), the training batches' examples are named by a content hash over both
 * inputs, the held-out set is split back into the inputs for the copy; the findings equal those on the one-input
 * graph with the same weights, and training is unchanged.
 */
class MultiInputAssertionsTest {
    /** Training rows whose pixel 40 (in the bottom input) is set to 5 + k. */
    static final long[] PLANTED = {3, 50, 77, 141};

    /** Severity = pixel 40 of the joint example (the bottom input's pixel 8) when above 2. */
    static double bright(INDArray x, INDArray out, INDArray y) {
        return x.getDouble(40) > 2 ? x.getDouble(40) : 0;
    }

    /** Severity = 1 when the held-out output's largest probability is below 0.2 (a check that reads the output). */
    static double unsure(INDArray x, INDArray out, INDArray y) {
        return out.maxNumber().doubleValue() < 0.2 ? 1 : 0;
    }

    @Test
    void theSameFindingsAsTheOneInputGraphWithTheJointExample() {
        DataSet train = TwoInputNets.digits(1, 200);
        for (int k = 0; k < PLANTED.length; k++) {
            train.getFeatures().putScalar(PLANTED[k], 40, 5 + k);
        }
        DataSet held = TwoInputNets.digits(2, 30);
        held.getFeatures().putScalar(7, 40, 9);
        ComputationGraph two = TwoInputNets.twoInput(7);
        ComputationGraph one = TwoInputNets.subsetEquivalent(two);
        ComputationGraph bare = two.clone();
        List<AssertionFinding> f2;
        List<AssertionFinding> f1;
        InMemoryStatsStorage s2 = new InMemoryStatsStorage();
        try (AssertionListener l = threeExampleAssertions(two, s2, held)) {
            two.addListeners(l);
            two.fit(TwoInputNets.iterator(train, 50), 2);
            f2 = AssertionListenerTest.findings(s2, l);
            assertThat(l.errorCount()).isZero();
        }
        InMemoryStatsStorage s1 = new InMemoryStatsStorage();
        try (AssertionListener l = threeExampleAssertions(one, s1, held)) {
            one.addListeners(l);
            one.fit(new ListDataSetIterator<>(train.asList(), 50), 2);
            f1 = AssertionListenerTest.findings(s1, l);
        }
        List<AssertionFinding> bright = f2.stream().filter(x -> x.detector().equals("bright")).toList();
        assertThat(bright).as("%s", f2).hasSize(2);
        for (AssertionFinding x : bright) {
            assertThat(x.source()).isEqualTo("training");
            assertThat(x.identity()).isEqualTo("content-hash");
            assertThat(x.indices()).containsExactly(141, 77, 50, 3);
            assertThat(x.flagged()).isEqualTo(4);
            assertThat(x.featureShape()).containsExactly(64);
            assertThat(x.examples().get(0).features()[40]).isEqualTo(8f, org.assertj.core.data.Offset.offset(0.1f));
        }
        List<AssertionFinding> heldBright = f2.stream().filter(x -> x.detector().equals("held-bright")).toList();
        assertThat(heldBright).hasSize(2);
        assertThat(heldBright).allSatisfy(x -> {
            assertThat(x.source()).isEqualTo("held-out");
            assertThat(x.indices()).containsExactly(7);
        });
        // the same findings (detector, unit, range, flagged examples) as the one-input graph
        assertThat(f2.stream().map(MultiInputAssertionsTest::key).toList())
                .isEqualTo(f1.stream().map(MultiInputAssertionsTest::key).toList());
        // training unchanged
        bare.fit(TwoInputNets.iterator(train, 50), 2);
        assertThat(two.params().toDoubleVector()).containsExactly(bare.params().toDoubleVector());
    }

    /** "bright" on the training batches, "held-bright" and "held-unsure" on {@code held} at every epoch. */
    private static AssertionListener threeExampleAssertions(ComputationGraph g, InMemoryStatsStorage storage, DataSet held) {
        return ModelAssertions.builder(g, storage)
                .assertExamples("bright", "Pixel 40 above 2", MultiInputAssertionsTest::bright)
                .assertExamples("held-bright", "Held-out pixel 40 above 2", MultiInputAssertionsTest::bright, held,
                        Schedule.epochs(1))
                .assertExamples("held-unsure", "Held-out output below 0.2", MultiInputAssertionsTest::unsure, held,
                        Schedule.epochs(1))
                .build();
    }

    private static String key(AssertionFinding x) {
        return x.detector() + " " + x.unit() + " " + x.from() + ".." + x.to() + " " + x.flagged() + " "
                + java.util.Arrays.toString(x.indices());
    }
}
