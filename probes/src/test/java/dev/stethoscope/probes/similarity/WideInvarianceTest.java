package dev.stethoscope.probes.similarity;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Invariances of METHODS.md at real widths (512 neurons, 2000-8000 points): each fails on a wrong SVD. */
class WideInvarianceTest {

    @Test
    void ckaIsInvariantToOrthogonalMapsAndScaling() {
        INDArray x = WideMats.pair(512, 8, 2000, 21)[0];
        INDArray q = Mats.orthogonal(new Random(21), 512);
        Representation rx = Representation.of(x);
        SimilarityOptions o = SimilarityOptions.defaults();
        assertThat(Similarity.compute(SimilarityMethod.CKA, rx, Representation.of(q.mmul(x)), o).value())
                .as("CKA(X, QX)").isCloseTo(1.0, within(1e-9));
        assertThat(Similarity.compute(SimilarityMethod.CKA, rx, Representation.of(x.mul(3.7)), o).value())
                .as("CKA(X, cX)").isCloseTo(1.0, within(1e-9));
        // and a different layer is not 1: the test can tell
        INDArray y = WideMats.pair(512, 8, 2000, 22)[0];
        assertThat(Similarity.compute(SimilarityMethod.CKA, rx, Representation.of(y), o).value()).isLessThan(0.99);
    }

    @Test
    void svccaIsInvariantToInvertibleMaps() {
        INDArray x = WideMats.pair(512, 8, 2000, 23)[0];
        // A = Q1 diag(d) Q2 with d in [0.5, 2]: invertible, condition number 4
        Random rnd = new Random(23);
        double[] d = new double[512];
        for (int i = 0; i < d.length; i++) {
            d[i] = 0.5 + 1.5 * rnd.nextDouble();
        }
        INDArray a = Mats.orthogonal(rnd, 512).mulRowVector(Nd4j.createFromArray(d).reshape(1, 512))
                .mmul(Mats.orthogonal(rnd, 512));
        SimilarityResult r = Similarity.compute(SimilarityMethod.SVCCA, Representation.of(x), Representation.of(a.mmul(x)),
                SimilarityOptions.defaults().withKeepFraction(1.0));
        assertThat(r.directionsA()).isEqualTo(r.directionsB()).isGreaterThan(400); // 52 dead units
        assertThat(r.value()).as("SVCCA(X, AX), all directions").isCloseTo(1.0, within(1e-6));
        assertThat(r.correlations()[r.correlations().length - 1]).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void aLayerIsSimilarToItselfOneSgdStepLater() {
        int in = 64;
        int points = 2000;
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(5).dataType(DataType.DOUBLE).updater(new Sgd(0.05)).weightInit(WeightInit.RELU)
                .list()
                .layer(new DenseLayer.Builder().nIn(in).nOut(512).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(512).nOut(10)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray features = WideMats.gaussian(31, points, in);
        INDArray labels = Nd4j.create(DataType.DOUBLE, points, 10);
        int[] cls = features.mmul(WideMats.gaussian(32, in, 10)).argMax(1).toIntVector();
        for (int i = 0; i < points; i++) {
            labels.putScalar(i, cls[i], 1.0);
        }
        DataSet batch = new DataSet(features.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 200)),
                labels.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 200)));
        for (int i = 0; i < 10; i++) {
            net.fit(batch);
        }
        INDArray before = net.feedForwardToLayer(0, features, false).get(1).transpose().dup();
        net.fit(batch);
        INDArray after = net.feedForwardToLayer(0, features, false).get(1).transpose().dup();
        Representation rb = Representation.of(before);
        Representation ra = Representation.of(after);
        double svcca = Similarity.compute(SimilarityMethod.SVCCA, rb, ra, SimilarityOptions.defaults()).value();
        double cka = Similarity.compute(SimilarityMethod.CKA, rb, ra, SimilarityOptions.defaults()).value();
        assertThat(svcca).as("SVCCA one SGD step apart").isGreaterThan(0.98).isLessThan(1.0);
        assertThat(cka).as("CKA one SGD step apart").isGreaterThan(0.999).isLessThan(1.0);
    }

    @Test
    void independentRandomLayersAreNearZeroWithManyPoints() {
        int n = 256;
        int m = 32 * n;
        Representation a = Representation.of(WideMats.gaussian(41, n, m));
        Representation b = Representation.of(WideMats.gaussian(42, n, m));
        SimilarityOptions o = SimilarityOptions.defaults();
        // bias of independent Gaussians (docs/PROBES_AND_SIMILARITY.md): CKA ~ n / (n + m), mean canonical
        // correlation ~ 0.85 / sqrt(m / n)
        assertThat(Similarity.compute(SimilarityMethod.SVCCA, a, b, o).value()).isCloseTo(0.85 / Math.sqrt(32), within(0.02));
        assertThat(Similarity.compute(SimilarityMethod.CKA, a, b, o).value()).isCloseTo((double) n / (n + m), within(0.01));
        assertThat(Similarity.compute(SimilarityMethod.CKA_DEBIASED, a, b, o).value()).isCloseTo(0.0, within(0.005));
    }
}
