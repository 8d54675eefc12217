package dev.stethoscope.sample;

import dev.stethoscope.probes.attribution.InputAttributions;
import dev.stethoscope.probes.attribution.IntegratedGradients;
import dev.stethoscope.probes.attribution.LogitNetwork;
import dev.stethoscope.probes.attribution.Lrp;
import dev.stethoscope.probes.model.GraphInputs;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.data.JointSplitIterator;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sample's two-input ComputationGraph ({@code --model twoview}) on real MNIST: each digit's top and bottom halves
 * as two inputs whose joint form is the flat image, a short training that learns, and attributions per input on it:
 * IG completeness over both inputs together, LRP-epsilon conservation (exact with the biases set to zero, where no
 * relevance is absorbed).
 */
class TwoviewModelTest {

    @Test
    void theTwoInputGraphSplitsEachDigitIntoHalvesLearnsAndIsExplainedPerInput() throws Exception {
        MnistData mnist = MnistFixture.mnist();
        int classes = mnist.numClasses();
        ComputationGraph g = (ComputationGraph) Models.buildModel(Models.Kind.twoview, 7, mnist.rows(), mnist.cols(), classes);
        assertThat(g.getConfiguration().getNetworkInputs()).containsExactly("top", "bottom");
        assertThat(g.getConfiguration().getVertices().get("merge")).isInstanceOf(MergeVertex.class);
        assertThat(g.getConfiguration().getVertexInputs().get("merge")).containsExactly("top-pool", "bottom-pool");
        assertThat(GraphInputs.inputSizes(g)).containsExactly(14 * 28, 14 * 28);

        LabeledImages train = mnist.train().head(1536);
        LabeledImages test = mnist.test().head(500);
        INDArray tx = test.features();
        // the joint form of the halves is the image: the split's first input is rows 0..13 of each digit
        INDArray[] halves = GraphInputs.split(g, tx);
        assertThat(halves[0]).isEqualTo(tx.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 14 * 28)));
        assertThat(halves[1]).isEqualTo(tx.get(NDArrayIndex.all(), NDArrayIndex.interval(14 * 28, 28 * 28)));
        int[] ty = test.labelValues();
        double before = accuracy(g, halves, ty);
        g.fit(new JointSplitIterator(train.iterator(classes, 32, true, 7), g));
        double after = accuracy(g, halves, ty);
        System.out.printf("twoview on 1536 MNIST digits, 1 epoch: %,d parameters, test accuracy %.3f -> %.3f%n",
                g.numParams(), before, after);
        assertThat(after).as("test accuracy after one short epoch (before: %s)", before).isGreaterThan(before + 0.3);

        // IG over both inputs: the maps of the two halves together add up to f(x) - f(0)
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(g));
        int n = 5;
        INDArray[] xs = {halves[0].get(NDArrayIndex.interval(0, n), NDArrayIndex.all()),
                halves[1].get(NDArrayIndex.interval(0, n), NDArrayIndex.all())};
        int[] t = Arrays.copyOf(ty, n);
        InputAttributions ig = new IntegratedGradients(ln, 256, 64, IntegratedGradients.Rule.GAUSS_LEGENDRE, null)
                .attributeInputs(xs, t);
        assertThat(ig.inputs()).containsExactly("top", "bottom");
        INDArray f0 = ln.logits(new INDArray[]{Nd4j.zerosLike(xs[0]), Nd4j.zerosLike(xs[1])}, 256);
        double[] delta = new double[n];
        double[] share = new double[n];
        for (int i = 0; i < n; i++) {
            double top = ig.maps().get(0).getRow(i).sumNumber().doubleValue();
            double bottom = ig.maps().get(1).getRow(i).sumNumber().doubleValue();
            delta[i] = ig.targetScores()[i] - f0.getDouble(i, t[i]);
            share[i] = top / (top + bottom);
            assertThat(Math.abs(top + bottom - delta[i])).as("IG sum over both halves of digit %d", i)
                    .isLessThan(0.01 * Math.max(1, Math.abs(delta[i])));
            assertThat(ig.completenessGap()[i]).isCloseTo(top + bottom - delta[i], org.assertj.core.data.Offset.offset(1e-3));
        }
        // LRP-epsilon: relevance over both halves; biases absorb some, so sum(R) - f is reported, and on a copy with
        // every bias zero nothing is absorbed: sum(R) == f(x)
        InputAttributions lrp = Lrp.epsilon(ln, 256, 1e-6).attributeInputs(xs, t);
        ComputationGraph unbiased = g.clone();
        unbiased.paramTable().forEach((k, v) -> {
            if (k.endsWith("_b")) {
                v.assign(0);
            }
        });
        LogitNetwork ln0 = new LogitNetwork(NetworkCopy.of(unbiased));
        InputAttributions lrp0 = Lrp.epsilon(ln0, 256, 1e-9).attributeInputs(xs, t);
        double[] rel0 = new double[n];
        for (int i = 0; i < n; i++) {
            double sum = lrp0.maps().get(0).getRow(i).sumNumber().doubleValue() + lrp0.maps().get(1).getRow(i).sumNumber().doubleValue();
            rel0[i] = (sum - lrp0.targetScores()[i]) / Math.abs(lrp0.targetScores()[i]);
            assertThat(Math.abs(rel0[i])).as("LRP conservation without biases, digit %d", i).isLessThan(1e-3);
            assertThat(lrp.maps().get(0).getRow(i).length()).isEqualTo(14 * 28);
        }
        System.out.printf("twoview IG: |sum(top)+sum(bottom) - (f(x)-f(0))| = %s of deltas %s; top half's share of the "
                        + "relevance %s; LRP-eps sum(R) - f: %s of f %s (biases absorb relevance); without biases "
                        + "(sum(R) - f)/|f|: %s%n",
                Arrays.toString(ig.completenessGap()), Arrays.toString(delta), Arrays.toString(share),
                Arrays.toString(lrp.completenessGap()), Arrays.toString(lrp.targetScores()), Arrays.toString(rel0));
        assertThat(Arrays.stream(lrp.completenessGap()).allMatch(Double::isFinite)).isTrue();
    }

    private static double accuracy(ComputationGraph g, INDArray[] x, int[] y) {
        INDArray p = g.outputSingle(false, x).argMax(1);
        int ok = 0;
        for (int i = 0; i < y.length; i++) {
            if (p.getInt(i) == y[i]) {
                ok++;
            }
        }
        return ok / (double) y.length;
    }
}
