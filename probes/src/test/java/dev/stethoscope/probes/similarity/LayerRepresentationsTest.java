package dev.stethoscope.probes.similarity;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LayerRepresentationsTest {

    private static MultiLayerNetwork mlp(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT).list()
                .layer(new DenseLayer.Builder().name("h1").nIn(6).nOut(10).activation(Activation.TANH).build())
                .layer(new DenseLayer.Builder().name("h2").nIn(10).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder().name("out").nIn(8).nOut(3).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    @Test
    void networkAgainstItselfHasUnitDiagonalAndBatchingDoesNotMatter() {
        MultiLayerNetwork a = mlp(1);
        INDArray x = Mats.gaussian(new Random(1), 200, 6).castTo(DataType.FLOAT);
        SimilarityMatrix m = LayerRepresentations.compareNetworks(a, List.of(), a, List.of(), x,
                SimilarityMethod.CKA, SimilarityOptions.defaults(), ConvMode.FLATTEN, 1000, 0);
        assertThat(m.rows()).containsExactly("h1", "h2", "out");
        for (int i = 0; i < 3; i++) {
            assertThat(m.values()[i][i]).isCloseTo(1.0, within(1e-9));
        }
        // activations computed in batches of 7 equal those in one batch
        INDArray one = LayerRepresentations.activations(a, x, List.of("h2"), 1000).get("h2");
        INDArray batched = LayerRepresentations.activations(a, x, List.of("h2"), 7).get("h2");
        assertThat(batched).isEqualTo(one);
    }

    @Test
    void differentNetworksAreLessSimilarThanANetworkWithItself() {
        MultiLayerNetwork a = mlp(1);
        MultiLayerNetwork b = mlp(2);
        INDArray x = Mats.gaussian(new Random(2), 300, 6).castTo(DataType.FLOAT);
        SimilarityMatrix ab = LayerRepresentations.compareNetworks(a, List.of("h1", "h2"), b, List.of("h1", "h2"), x,
                SimilarityMethod.SVCCA, SimilarityOptions.defaults(), ConvMode.FLATTEN, 1000, 0);
        assertThat(ab.get("h1", "h1")).isLessThan(0.999).isGreaterThan(0.0);
        assertThat(ab.undefinedPairs()).isZero();
        assertThat(ab.flatten()).hasSize(4);
    }
}
