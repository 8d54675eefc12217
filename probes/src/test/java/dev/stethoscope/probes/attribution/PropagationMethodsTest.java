package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PropagationMethodsTest {

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }

    @Test
    void engineForwardAndGradientMatchDl4j() {
        for (PoolingType pool : new PoolingType[]{PoolingType.MAX, PoolingType.AVG}) {
            MultiLayerNetwork net = Nets.cnn(7, 9, 3, DataType.DOUBLE, pool);
            LogitNetwork ln = new LogitNetwork(NetworkCopy.of(net));
            Propagation p = Propagation.of(ln.copy().multiLayer(), "test");
            INDArray x = Nd4j.rand(DataType.DOUBLE, 4, 63);
            List<INDArray> acts = p.forward(x);
            INDArray logits = ln.logits(x, 16);
            assertThat(maxAbsDiff(acts.get(acts.size() - 1), logits)).as(pool.name()).isLessThan(1e-10);
            INDArray w = Nd4j.rand(DataType.DOUBLE, 4, 3);
            INDArray g = p.propagate(acts, acts.size() - 1, w, 0, Propagation.GRADIENT, null);
            assertThat(maxAbsDiff(g, ln.gradient(x, w, 16))).as(pool.name()).isLessThan(1e-10);
            // softmax of the engine's logits is DL4J's output
            INDArray probs = p.outputActivation().getActivation(acts.get(acts.size() - 1).dup(), false);
            assertThat(maxAbsDiff(probs, net.output(x))).isLessThan(1e-10);
        }
    }

    @Test
    void lrpEpsilonConservesOnBiasFreeReluNets() {
        MultiLayerNetwork mlp = Nets.trainedMlp(8, 3, false, DataType.DOUBLE, 20);
        MultiLayerNetwork cnn = Nets.cnn(8, 8, 3, DataType.DOUBLE, PoolingType.MAX, false);
        INDArray xm = Nets.blobs(5, 8, 3, 11).getFeatures().castTo(DataType.DOUBLE);
        INDArray xc = Nd4j.rand(DataType.DOUBLE, 3, 64);
        for (Object[] c : new Object[][]{{mlp, xm}, {cnn, xc}}) {
            MultiLayerNetwork net = (MultiLayerNetwork) c[0];
            INDArray x = (INDArray) c[1];
            int[] t = Nets.predicted(net, x);
            Lrp lrp = Lrp.epsilon(NetworkCopy.of(net), 1e-9);
            Attribution a = lrp.attribute(x, t);
            INDArray sums = a.extras().get("relevanceSums");
            for (int i = 0; i < t.length; i++) {
                double f = a.targetScores()[i];
                for (int k = 0; k < sums.size(1); k++) {
                    assertThat(sums.getDouble(i, k)).as("example %d level %d", i, k).isCloseTo(f, within(1e-6 * Math.abs(f) + 1e-9));
                }
                assertThat(Math.abs(a.completenessGap()[i])).isLessThan(1e-6 * Math.abs(f) + 1e-9);
            }
        }
    }

    @Test
    void lrpEpsilonWithBiasesAbsorbsSome() {
        MultiLayerNetwork mlp = Nets.trainedMlp(8, 3, true, DataType.DOUBLE, 20);
        INDArray x = Nets.blobs(4, 8, 3, 12).getFeatures().castTo(DataType.DOUBLE);
        int[] t = Nets.predicted(mlp, x);
        Attribution a = Lrp.epsilon(NetworkCopy.of(mlp), 0.01).attribute(x, t);
        // level "logits" holds exactly f_c
        INDArray sums = a.extras().get("relevanceSums");
        for (int i = 0; i < t.length; i++) {
            assertThat(sums.getDouble(i, sums.size(1) - 1)).isCloseTo(a.targetScores()[i], within(1e-12));
        }
        assertThat(a.maps().shape()).isEqualTo(x.shape());
    }

    @Test
    void lrpAlphaBetaConservesAsDefined() {
        MultiLayerNetwork mlp = Nets.trainedMlp(8, 3, false, DataType.DOUBLE, 20);
        INDArray x = Nets.blobs(6, 8, 3, 13).getFeatures().castTo(DataType.DOUBLE);
        int[] t = Nets.predicted(mlp, x);
        NetworkCopy copy = NetworkCopy.of(mlp);
        // alpha=1, beta=0 on a bias-free ReLU net with f_c > 0: every level sums to f_c
        Attribution a10 = Lrp.alphaBeta(copy, 1, 0).attribute(x, t);
        INDArray sums = a10.extras().get("relevanceSums");
        for (int i = 0; i < t.length; i++) {
            double f = a10.targetScores()[i];
            assertThat(f).isPositive();
            for (int k = 0; k < sums.size(1); k++) {
                assertThat(sums.getDouble(i, k)).isCloseTo(f, within(1e-9 * Math.abs(f)));
            }
        }
        // alpha=2, beta=1: at each linear step sum_i R_i = sum_j (2 [z_j^+ > 0] - [z_j^- < 0]) R_j
        Lrp a21 = Lrp.alphaBeta(copy, 2, 1);
        assertThat(a21.name()).isEqualTo("lrp-a2b1");
        List<INDArray> levels = a21.relevanceLevels(x, t);
        List<INDArray> acts = a21.propagation().forward(x);
        List<Propagation.Step> steps = a21.propagation().steps();
        int checked = 0;
        for (int k = 0; k < steps.size(); k++) {
            if (!(steps.get(k) instanceof Propagation.Linear lin)) {
                continue;
            }
            INDArray in = acts.get(k);
            INDArray inP = Transforms.max(in, 0.0, true);
            INDArray inN = Transforms.min(in, 0.0, true);
            INDArray zp = lin.apply(inP, Propagation.Part.POS, null).addi(lin.apply(inN, Propagation.Part.NEG, null));
            INDArray zn = lin.apply(inP, Propagation.Part.NEG, null).addi(lin.apply(inN, Propagation.Part.POS, null));
            INDArray factor = zp.gt(0).castTo(DataType.DOUBLE).muli(2).subi(zn.lt(0).castTo(DataType.DOUBLE));
            INDArray expected = levels.get(k + 1).mul(factor).sum(1);
            INDArray actual = levels.get(k).reshape(x.size(0), -1).sum(1);
            assertThat(maxAbsDiff(expected, actual)).isLessThan(1e-9);
            checked++;
        }
        assertThat(checked).isEqualTo(3);
    }

    @Test
    void deepLiftSumsToDelta() {
        // IG paper network: DeepLIFT-rescale gives the same (1.5, -0.5) at (3, 1)
        Attribution p = new DeepLift(NetworkCopy.of(Nets.igPaperNet())).attribute(
                Nd4j.createFromArray(new double[][]{{3, 1}}), new int[]{0});
        assertThat(p.maps().getDouble(0, 0)).isCloseTo(1.5, within(1e-12));
        assertThat(p.maps().getDouble(0, 1)).isCloseTo(-0.5, within(1e-12));
        // a trained MLP with biases, a non-zero baseline
        MultiLayerNetwork mlp = Nets.trainedMlp(8, 3, true, DataType.DOUBLE, 20);
        INDArray x = Nets.blobs(5, 8, 3, 14).getFeatures().castTo(DataType.DOUBLE);
        INDArray baseline = Nd4j.rand(DataType.DOUBLE, 1, 8).subi(0.5);
        int[] t = {0, 1, 2, 1, 0};
        Attribution a = new DeepLift(new LogitNetwork(NetworkCopy.of(mlp)), 2, baseline).attribute(x, t);
        for (int i = 0; i < t.length; i++) {
            double delta = a.targetScores()[i] - a.extras().get("baselineScore").getDouble(i);
            assertThat(a.maps().getRow(i).sumNumber().doubleValue()).isCloseTo(delta, within(1e-9));
            assertThat(Math.abs(a.completenessGap()[i])).isLessThan(1e-9);
        }
    }

    @Test
    void guidedBackpropAndDeconvnetFollowTheirReluRules() {
        MultiLayerNetwork mlp = Nets.trainedMlp(6, 3, true, DataType.DOUBLE, 15);
        INDArray x = Nets.blobs(4, 6, 3, 15).getFeatures().castTo(DataType.DOUBLE);
        int[] t = {2, 0, 1, 2};
        NetworkCopy copy = NetworkCopy.of(mlp);
        INDArray guided = new GuidedBackprop(copy).attribute(x, t).maps();
        INDArray deconv = GuidedBackprop.deconvnet(copy).attribute(x, t).maps();
        INDArray w1 = mlp.getLayer(0).getParam("W");
        INDArray b1 = mlp.getLayer(0).getParam("b");
        INDArray w2 = mlp.getLayer(1).getParam("W");
        INDArray b2 = mlp.getLayer(1).getParam("b");
        INDArray w3 = mlp.getLayer(2).getParam("W");
        for (int i = 0; i < t.length; i++) {
            INDArray xi = x.getRow(i).reshape(1, 6);
            INDArray z1 = xi.mmul(w1).addi(b1);
            INDArray z2 = Transforms.relu(z1, true).mmul(w2).addi(b2);
            INDArray g3 = w3.getColumn(t[i]).reshape(1, 16);
            // guided: gate by forward z > 0 and backward signal > 0
            INDArray s2 = Transforms.relu(g3, true).muli(z2.gt(0).castTo(DataType.DOUBLE));
            INDArray s1 = Transforms.relu(s2.mmul(w2.transpose()), true).muli(z1.gt(0).castTo(DataType.DOUBLE));
            assertThat(maxAbsDiff(s1.mmul(w1.transpose()), guided.getRow(i).reshape(1, 6))).isLessThan(1e-12);
            // deconvnet: positive part of the backward signal only
            INDArray d2 = Transforms.relu(g3, true);
            INDArray d1 = Transforms.relu(d2.mmul(w2.transpose()), true);
            assertThat(maxAbsDiff(d1.mmul(w1.transpose()), deconv.getRow(i).reshape(1, 6))).isLessThan(1e-12);
        }
    }

    @Test
    void unsupportedLayerFailsAtConstructionNamingIt() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.RELU).build())
                .layer(new BatchNormalization.Builder().nOut(5).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(5).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        NetworkCopy copy = NetworkCopy.of(net);
        assertThatThrownBy(() -> Lrp.epsilon(copy, 1e-6))
                .hasMessageContaining("layer 1").hasMessageContaining("BatchNormalization")
                .hasMessageContaining("DenseLayer");
        assertThatThrownBy(() -> new Saliency(copy)).hasMessageContaining("BatchNormalization");
        // LRP on a tanh net: rules are defined for ReLU/identity only
        MultiLayerConfiguration tanh = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(5).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork tn = new MultiLayerNetwork(tanh);
        tn.init();
        assertThatThrownBy(() -> Lrp.alphaBeta(NetworkCopy.of(tn), 2, 1)).hasMessageContaining("tanh");
    }
}
