package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.L2NormalizeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Attributions on ComputationGraphs: input gradients against finite differences (two inputs, add and merge
 * vertices), IG completeness, LRP conservation and its proportional split at an addition, DeepLIFT's
 * summation-to-delta through a product, shift and subset, multi-input results, and the error messages.
 */
class GraphAttributionTest {
    private static final int N = 3;
    private static final int[] TARGETS = {0, 2, 1};

    private static INDArray[] twoInputs(long seed) {
        return new INDArray[]{GraphNets.uniform(N, 4, -1, 1, seed), GraphNets.uniform(N, 3, -1, 1, seed + 1)};
    }

    private static LogitNetwork view(ComputationGraph g) {
        return new LogitNetwork(NetworkCopy.of(g));
    }

    @Test
    void inputGradientsOfATwoInputGraphEqualFiniteDifferences() {
        ComputationGraph g = GraphNets.twoInput(Activation.TANH, true, 3);
        LogitNetwork ln = view(g);
        INDArray[] xs = twoInputs(7);
        INDArray w = GraphNets.uniform(N, 3, -1, 1, 9);
        INDArray[] grads = ln.gradients(xs, w, 2); // internal batches of 2 rows: also checks the batching
        double h = 1e-6;
        for (int i = 0; i < xs.length; i++) {
            assertThat(grads[i].shape()).containsExactly(xs[i].shape());
            for (int r = 0; r < N; r++) {
                for (int j = 0; j < xs[i].size(1); j++) {
                    INDArray[] plus = dup(xs);
                    INDArray[] minus = dup(xs);
                    plus[i].putScalar(r, j, plus[i].getDouble(r, j) + h);
                    minus[i].putScalar(r, j, minus[i].getDouble(r, j) - h);
                    double fd = (weighted(ln.logits(plus, N), w) - weighted(ln.logits(minus, N), w)) / (2 * h);
                    assertThat(grads[i].getDouble(r, j)).as("d/d %s[%d,%d]", ln.inputNames().get(i), r, j)
                            .isCloseTo(fd, within(1e-7 + 1e-6 * Math.abs(fd)));
                }
            }
        }
        // the analysis ran on a copy: the training graph's parameters are untouched
        assertThat(g.params().equalsWithEps(NetworkCopy.of(g).model().params(), 0)).isTrue();
    }

    @Test
    void inputGradientsOfTheResidualNetEqualFiniteDifferences() {
        ComputationGraph g = GraphNets.residual(6, 6, 3, true);
        LogitNetwork ln = view(g);
        INDArray x = GraphNets.uniform(2, 36, 0, 1, 4);
        INDArray w = GraphNets.uniform(2, 3, -1, 1, 5);
        INDArray grad = ln.gradient(x, w, 8);
        double h = 1e-6;
        int checked = 0;
        for (int r = 0; r < 2; r++) {
            for (int j = 0; j < 36; j += 5) {
                INDArray p = x.dup();
                INDArray m = x.dup();
                p.putScalar(r, j, p.getDouble(r, j) + h);
                m.putScalar(r, j, m.getDouble(r, j) - h);
                double fd = (weighted(ln.logits(p, 8), w) - weighted(ln.logits(m, 8), w)) / (2 * h);
                assertThat(grad.getDouble(r, j)).as("pixel %d of example %d", j, r)
                        .isCloseTo(fd, within(1e-6 + 1e-5 * Math.abs(fd)));
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(10);
        // the engine's own chain rule over the graph (used by Grad-CAM) gives the same gradient as DL4J's backward pass
        GraphPropagation gp = GraphPropagation.of((ComputationGraph) ln.copy().model(), "test");
        List<INDArray> acts = gp.forward(x);
        INDArray[] sig = gp.propagate(acts, w.dup(), 0, Propagation.GRADIENT, GraphPropagation.GRADIENT);
        assertClose(gp.atInputs(sig, acts)[0], grad, 1e-9, "engine chain rule vs DL4J backward");
        assertClose(acts.get(acts.size() - 1), ln.logits(x, 8), 1e-9, "engine forward vs DL4J output");
    }

    @Test
    void integratedGradientsAreCompleteOverBothInputsOfAGraphWithAddAndMerge() {
        LogitNetwork ln = view(GraphNets.twoInput(Activation.TANH, true, 3));
        IntegratedGradients ig = new IntegratedGradients(ln, 128, 24, IntegratedGradients.Rule.GAUSS_LEGENDRE, null);
        InputAttributions r = ig.attributeInputs(twoInputs(11), TARGETS);
        assertThat(r.inputs()).containsExactly("a", "b");
        assertThat(r.maps().get(0).shape()).containsExactly(N, 4);
        assertThat(r.maps().get(1).shape()).containsExactly(N, 3);
        for (int e = 0; e < N; e++) {
            assertThat(Math.abs(r.completenessGap()[e])).as("IG gap, example %d", e).isLessThan(1e-8);
            // both inputs receive attribution
            assertThat(r.maps().get(0).getRow(e).norm1Number().doubleValue()).isGreaterThan(1e-6);
            assertThat(r.maps().get(1).getRow(e).norm1Number().doubleValue()).isGreaterThan(1e-6);
        }
        // with too few steps the quadrature is visibly incomplete: the check above can fail
        InputAttributions coarse = new IntegratedGradients(ln, 128, 1, IntegratedGradients.Rule.RIEMANN_LEFT, null)
                .attributeInputs(twoInputs(11), TARGETS);
        double worst = 0;
        for (double gap : coarse.completenessGap()) {
            worst = Math.max(worst, Math.abs(gap));
        }
        assertThat(worst).isGreaterThan(1e-4);
    }

    @Test
    void lrpConservesRelevanceThroughAddAndMergeAndSplitsTheAdditionInProportion() {
        // no biases: every unit of relevance reaching the logit must arrive at the inputs
        LogitNetwork ln = view(GraphNets.twoInput(Activation.RELU, false, 5));
        INDArray[] xs = twoInputs(13);
        for (Lrp lrp : List.of(Lrp.epsilon(ln, 128, 1e-9), Lrp.alphaBeta(ln, 128, 1, 0))) {
            InputAttributions r = lrp.attributeInputs(xs, TARGETS);
            for (int e = 0; e < N; e++) {
                assertThat(Math.abs(r.completenessGap()[e])).as("%s conservation, example %d (f = %s)", lrp.name(), e,
                        r.targetScores()[e]).isLessThan(1e-6 * Math.max(1, Math.abs(r.targetScores()[e])));
                assertThat(Math.abs(r.targetScores()[e])).isGreaterThan(1e-3);
            }
        }
        // at the addition: R(da) + R(db) = R(sum) and R(da) / R(db) = da / db element-wise
        Lrp lrp = Lrp.epsilon(ln, 128, 1e-9);
        GraphPropagation gp = lrp.graphPropagation();
        INDArray x0 = xs[0];
        INDArray x1 = xs[1];
        // relevanceLevels takes one input array; run the engine with the attributor's own rules on both inputs
        List<INDArray> acts = gp.forward(x0, x1);
        INDArray z = acts.get(acts.size() - 1);
        INDArray r0 = Nd4j.zeros(z.dataType(), z.shape());
        for (int i = 0; i < N; i++) {
            r0.putScalar(i, TARGETS[i], z.getDouble(i, TARGETS[i]));
        }
        INDArray[] sig = gp.propagate(acts, r0, 0, lrp::step, lrp::combine);
        int sum = nodeOf(gp, "sum");
        int da = gp.layerEnd("da");
        int db = gp.layerEnd("db");
        assertClose(sig[da].add(sig[db]), sig[sum], 1e-7, "R(da) + R(db) = R(sum)");
        assertClose(sig[da].mul(acts.get(db)), sig[db].mul(acts.get(da)), 1e-9, "R(da) db = R(db) da");
        assertThat(sig[da].norm1Number().doubleValue()).isGreaterThan(1e-6);
    }

    @Test
    void lrpConservesRelevanceOnTheResidualNetAndLrpRefusesAProductNamingTheVertex() {
        LogitNetwork ln = view(GraphNets.residual(6, 6, 3, false));
        INDArray x = GraphNets.uniform(N, 36, 0, 1, 21);
        Attribution r = Lrp.epsilon(ln, 128, 1e-9).attribute(x, TARGETS);
        for (int e = 0; e < N; e++) {
            assertThat(Math.abs(r.completenessGap()[e])).as("conservation, example %d", e)
                    .isLessThan(1e-6 * Math.max(1, Math.abs(r.targetScores()[e])));
        }
        assertThat(r.extras().get("relevanceSums").size(1)).isEqualTo(
                Lrp.epsilon(ln, 128, 1e-9).graphPropagation().nodes().size());
        assertThatThrownBy(() -> Lrp.epsilon(view(GraphNets.gated(Activation.RELU, 2)), 128, 1e-6))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Product at vertex 'prod'");
    }

    @Test
    void deepLiftSumsToDeltaThroughAProductAShiftAndASubset() {
        LogitNetwork ln = view(GraphNets.gated(Activation.TANH, 4));
        INDArray x = GraphNets.uniform(N, 4, -1, 1, 31);
        INDArray base = GraphNets.uniform(1, 4, -0.2, 0.2, 32);
        Attribution r = new DeepLift(ln, 128, base).attribute(x, TARGETS);
        double[] fb = r.extras().get("baselineScore").toDoubleVector();
        for (int e = 0; e < N; e++) {
            assertThat(Math.abs(r.completenessGap()[e])).as("summation-to-delta, example %d (delta %s)", e,
                    r.targetScores()[e] - fb[e]).isLessThan(1e-9);
        }
        // with the baseline equal to x every contribution is 0 (the check above can fail: the maps are not trivial)
        assertThat(r.maps().norm1Number().doubleValue()).isGreaterThan(1e-3);
    }

    @Test
    void multiInputResultsForEveryMethodThatSupportsThemAndAClearRefusalForTheOthers() {
        LogitNetwork ln = view(GraphNets.twoInput(Activation.RELU, true, 5));
        INDArray[] xs = twoInputs(17);
        Attributors.Options o = Attributors.Options.defaults().withSteps(8);
        for (String name : Attributors.NAMES) {
            if (Attributors.MULTI_INPUT.contains(name)) {
                InputAttributions r = Attributors.create(name, ln, o).attributeInputs(xs, TARGETS);
                assertThat(r.method()).isEqualTo(name);
                assertThat(r.maps(("a")).shape()).containsExactly(N, 4);
                assertThat(r.maps(("b")).shape()).containsExactly(N, 3);
                assertThat(r.targetScores()).hasSize(N);
            } else if (name.equals("gradcam")) {
                assertThatThrownBy(() -> Attributors.create(name, ln, o))
                        .hasMessageContaining("needs a convolution layer");
            } else {
                Attributor a = Attributors.create(name, ln, o);
                assertThatThrownBy(() -> a.attributeInputs(xs, TARGETS))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(name + " explains a single input array")
                        .hasMessageContaining(Attributors.MULTI_INPUT.toString());
                assertThatThrownBy(() -> a.attribute(xs[0], TARGETS))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("inputs [a, b]");
            }
        }
        // saliency per input equals |gradient| per input
        INDArray[] g = ln.gradients(xs, oneHot(TARGETS, 3), 128);
        InputAttributions s = Attributors.create("saliency", ln, o).attributeInputs(xs, TARGETS);
        assertClose(s.maps("b"), Transforms_abs(g[1]), 1e-12, "saliency of input b");
    }

    @Test
    void unknownAndUnsupportedVerticesAreNamedWithTheValidChoices() {
        ComputationGraph res = GraphNets.residual(6, 6, 3, true);
        LogitNetwork ln = view(res);
        assertThatThrownBy(() -> new GradCam(ln, 8, "nope"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Unknown layer vertex 'nope'")
                .hasMessageContaining("[stem, c1, c2, relu, pool, gap, fc, out]");
        assertThatThrownBy(() -> new GradCam(ln, 8, "fc"))
                .hasMessageContaining("vertex 'fc' is not one");
        assertThat(Attributors.lastConvLayer(res)).isEqualTo("c2");
        assertThatThrownBy(() -> LayerSelection.resolve(res, List.of("c9")))
                .hasMessageContaining("Unknown layer 'c9'")
                .hasMessageContaining("[stem, c1, c2, relu, pool, gap, fc, out]");
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE)
                .graphBuilder().addInputs("in")
                .addLayer("d", new DenseLayer.Builder().nIn(4).nOut(4).activation(Activation.RELU).build(), "in")
                .addVertex("norm", new L2NormalizeVertex(), "d")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "norm")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        LogitNetwork l2 = view(g);
        assertThatThrownBy(() -> Lrp.epsilon(l2, 8, 1e-6))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("LRP does not support vertex 'norm': L2NormalizeVertex")
                .hasMessageContaining("Supported vertices");
        // gradient methods still work there: DL4J's own backward pass
        Attribution s = new Saliency(l2, 8).attribute(GraphNets.uniform(2, 4, -1, 1, 3), new int[]{0, 1});
        assertThat(s.maps().norm1Number().doubleValue()).isGreaterThan(0);
    }

    private static INDArray Transforms_abs(INDArray a) {
        return org.nd4j.linalg.ops.transforms.Transforms.abs(a, true);
    }

    private static INDArray oneHot(int[] t, int classes) {
        INDArray w = Nd4j.zeros(DataType.DOUBLE, t.length, classes);
        for (int i = 0; i < t.length; i++) {
            w.putScalar(i, t[i], 1.0);
        }
        return w;
    }

    static int nodeOf(GraphPropagation gp, String vertex) {
        for (int k = 0; k < gp.nodes().size(); k++) {
            if (gp.nodes().get(k).vertex().equals(vertex)) {
                return k;
            }
        }
        throw new AssertionError("no node " + vertex);
    }

    private static double weighted(INDArray z, INDArray w) {
        return z.mul(w).sumNumber().doubleValue();
    }

    private static INDArray[] dup(INDArray[] xs) {
        INDArray[] r = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            r[i] = xs[i].dup();
        }
        return r;
    }

    static void assertClose(INDArray actual, INDArray expected, double rel, String what) {
        assertThat(actual.shape()).as(what + " shape").containsExactly(expected.shape());
        double scale = Math.max(1e-12, Math.abs(expected.maxNumber().doubleValue()));
        scale = Math.max(scale, Math.abs(expected.minNumber().doubleValue()));
        double diff = actual.castTo(DataType.DOUBLE).sub(expected.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
        assertThat(diff).as(what + " (max |expected| " + scale + ")").isLessThanOrEqualTo(rel * scale);
    }
}
