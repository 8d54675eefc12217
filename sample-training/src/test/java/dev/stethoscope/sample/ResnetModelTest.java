package dev.stethoscope.sample;

import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.IntegratedGradients;
import dev.stethoscope.probes.attribution.LogitNetwork;
import dev.stethoscope.probes.attribution.Lrp;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The sample's residual ComputationGraph ({@code --model resnet}) on real MNIST: its structure (two skip additions),
 * a short training that learns, and attributions on it (IG completeness on real digits).
 */
class ResnetModelTest {

    @Test
    void theResidualGraphHasTwoSkipAdditionsAndLearnsMnistInAShortTraining() throws Exception {
        MnistData mnist = MnistFixture.mnist();
        int classes = mnist.numClasses();
        Model m = Models.buildModel(Models.Kind.resnet, 7, mnist.rows(), mnist.cols(), classes);
        assertThat(m).isInstanceOf(ComputationGraph.class);
        ComputationGraph g = (ComputationGraph) m;
        assertThat(LayerSelection.layerNames(g)).containsExactly("stem", "stem-pool", "b1-conv1", "b1-conv2", "b1-relu",
                "b2-conv1", "b2-conv2", "b2-relu", "gap", "output");
        var vin = g.getConfiguration().getVertexInputs();
        assertThat(g.getConfiguration().getVertices().get("b1-add")).isInstanceOf(ElementWiseVertex.class);
        assertThat(vin.get("b1-add")).containsExactly("stem-pool", "b1-conv2");
        assertThat(vin.get("b2-add")).containsExactly("b1-relu", "b2-conv2");
        assertThatThrownBy(() -> Models.build(Models.Kind.resnet, 7, 28, 28, 10))
                .hasMessageContaining("is a ComputationGraph").hasMessageContaining("[mlp, cnn]");

        long t0 = System.nanoTime();
        LabeledImages train = mnist.train().head(1536);
        LabeledImages test = mnist.test().head(500);
        INDArray tx = test.features();
        int[] ty = test.labelValues();
        double before = accuracy(g, tx, ty);
        DataSetIterator it = train.iterator(classes, 32, true, 7);
        g.fit(it);
        double firstLoss = g.score();
        double after = accuracy(g, tx, ty);
        long t1 = System.nanoTime();
        System.out.printf("resnet on 1536 MNIST digits, 1 epoch: %,d parameters, test accuracy %.3f -> %.3f%n",
                g.numParams(), before, after);
        // one short epoch on 1536 digits (3000 digits reached 0.59 in one run): well above chance and the start
        assertThat(after).as("test accuracy after one short epoch (before: %s)", before).isGreaterThan(before + 0.15);
        assertThat(Double.isFinite(firstLoss)).isTrue();

        // attributions on the trained residual net, on real digits: IG is complete, LRP runs through both additions
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(g));
        INDArray x = tx.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3), org.nd4j.linalg.indexing.NDArrayIndex.all());
        int[] t = Arrays.copyOf(ty, 3);
        Attribution ig = new IntegratedGradients(ln, 256, 32, IntegratedGradients.Rule.GAUSS_LEGENDRE, null).attribute(x, t);
        double[] delta = new double[3];
        double[] fb = ig.extras().get("baselineScore").toDoubleVector();
        for (int i = 0; i < 3; i++) {
            delta[i] = ig.targetScores()[i] - fb[i];
            assertThat(Math.abs(ig.completenessGap()[i])).as("IG gap of digit %d (delta %s)", i, delta[i])
                    .isLessThan(0.02 * Math.max(1, Math.abs(delta[i])));
        }
        Attribution lrp = Lrp.epsilon(ln, 256, 1e-6).attribute(x, t);
        System.out.printf("IG gaps %s of deltas %s; LRP-eps sum(R) - f: %s (biases absorb relevance) of f %s; "
                        + "training+accuracy %.0f%% of the test's time, attributions %.0f%%%n",
                Arrays.toString(ig.completenessGap()), Arrays.toString(delta), Arrays.toString(lrp.completenessGap()),
                Arrays.toString(lrp.targetScores()), 100.0 * (t1 - t0) / (System.nanoTime() - t0),
                100.0 * (System.nanoTime() - t1) / (System.nanoTime() - t0));
        assertThat(lrp.maps().shape()).containsExactly(x.shape());
        assertThat(Arrays.stream(lrp.completenessGap()).allMatch(Double::isFinite)).isTrue();

        // interval bounds over the residual graph (convolutions, pooling, both additions, global pooling) are
        // available and sound on real digits at the default LASS radius: never above the margin at sampled points
        var bounds = dev.stethoscope.probes.memorization.GraphIntervalBounds.of(g);
        double r = dev.stethoscope.probes.memorization.LassParameters.defaults().radius();
        INDArray x5 = tx.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 5), org.nd4j.linalg.indexing.NDArrayIndex.all());
        INDArray lo = org.nd4j.linalg.ops.transforms.Transforms.max(x5.sub(r), 0.0);
        INDArray hi = org.nd4j.linalg.ops.transforms.Transforms.min(x5.add(r), 1.0);
        int[] pred = dev.stethoscope.probes.memorization.InputGradients.argmax(g.outputSingle(false, x5));
        double[] lb = bounds.marginLowerBounds(lo, hi, pred);
        org.nd4j.linalg.api.rng.Random rng = org.nd4j.linalg.factory.Nd4j.getRandomFactory().getNewRandomInstance(5);
        for (int s = 0; s < 20; s++) {
            INDArray pt = lo.add(hi.sub(lo).mul(org.nd4j.linalg.factory.Nd4j.rand(rng, x5.shape()).castTo(x5.dataType())));
            double[][] logp = org.nd4j.linalg.ops.transforms.Transforms.log(g.outputSingle(false, pt), true)
                    .castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleMatrix();
            for (int i = 0; i < 5; i++) {
                for (int j = 0; j < logp[i].length; j++) {
                    if (j != pred[i]) {
                        // float32 network: a tolerance for its own rounding
                        assertThat(lb[i]).as("digit %d, sample %d, class %d", i, s, j)
                                .isLessThanOrEqualTo(logp[i][pred[i]] - logp[i][j] + 1e-3);
                    }
                }
            }
        }
        int certified = 0;
        for (boolean c : bounds.certify(lo, hi, pred)) {
            certified += c ? 1 : 0;
        }
        System.out.printf("resnet interval bounds at r = %.4f: margin lower bounds %s, %d of 5 digits certified%n", r,
                Arrays.toString(lb), certified);
    }

    private static double accuracy(ComputationGraph g, INDArray x, int[] y) {
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
