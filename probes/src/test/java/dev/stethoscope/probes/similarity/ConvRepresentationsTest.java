package dev.stethoscope.probes.similarity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConvRepresentationsTest {

    private static INDArray conv(Random rnd, int n, int c, int h, int w) {
        return Mats.gaussian(rnd, n, c * h * w).reshape('c', n, c, h, w);
    }

    @Test
    void flattenMakesChannelPositionNeurons() {
        INDArray act = conv(new Random(1), 5, 3, 4, 2);
        INDArray m = ConvRepresentations.toNeuronsByPoints(act, ConvMode.FLATTEN, 100, 0);
        assertThat(m.shape()).containsExactly(24, 5);
        // neuron (c=2, y=1, x=1) is row 2*8 + 1*2 + 1 = 19, example 3 is column 3
        assertThat(m.getDouble(19, 3)).isEqualTo(act.getDouble(3, 2, 1, 1));
    }

    @Test
    void positionsMakeChannelNeuronsOverExamplePositionPoints() {
        INDArray act = conv(new Random(2), 5, 3, 4, 2);
        INDArray m = ConvRepresentations.toNeuronsByPoints(act, ConvMode.POSITIONS_AS_POINTS, 1000, 0);
        assertThat(m.shape()).containsExactly(3, 40);
        // channel 1, example 4, position (y=2, x=1) is point 4*8 + 2*2 + 1 = 37
        assertThat(m.getDouble(1, 37)).isEqualTo(act.getDouble(4, 1, 2, 1));
    }

    @Test
    void positionsAreSubsampledDeterministically() {
        INDArray act = conv(new Random(3), 20, 3, 6, 6);
        INDArray m1 = ConvRepresentations.toNeuronsByPoints(act, ConvMode.POSITIONS_AS_POINTS, 100, 42);
        INDArray m2 = ConvRepresentations.toNeuronsByPoints(act, ConvMode.POSITIONS_AS_POINTS, 100, 42);
        INDArray m3 = ConvRepresentations.toNeuronsByPoints(act, ConvMode.POSITIONS_AS_POINTS, 100, 43);
        assertThat(m1.shape()).containsExactly(3, 100);
        assertThat(m1).isEqualTo(m2);
        assertThat(m1).isNotEqualTo(m3);
        int[] idx = ConvRepresentations.samplePoints(720, 100, 42);
        assertThat(idx).doesNotHaveDuplicates().isSorted();
        assertThat(m1.getDouble(2, 10)).isEqualTo(act.getDouble(idx[10] / 36, 2, (idx[10] % 36) / 6, idx[10] % 6));
    }

    @Test
    void denseActivationsAreTransposedAndPoolingAverages() {
        INDArray dense = Nd4j.createFromArray(new double[][]{{1, 2, 3}, {4, 5, 6}});
        assertThat(ConvRepresentations.toNeuronsByPoints(dense, ConvMode.POSITIONS_AS_POINTS, 10, 0).shape())
                .containsExactly(3, 2);
        INDArray act = conv(new Random(4), 2, 3, 2, 2);
        INDArray gap = ConvRepresentations.globalAveragePool(act);
        assertThat(gap.shape()).containsExactly(2, 3);
        double mean = (act.getDouble(1, 2, 0, 0) + act.getDouble(1, 2, 0, 1) + act.getDouble(1, 2, 1, 0)
                + act.getDouble(1, 2, 1, 1)) / 4;
        assertThat(gap.getDouble(1, 2)).isCloseTo(mean, org.assertj.core.api.Assertions.within(1e-12));
        assertThatThrownBy(() -> ConvMode.parse("pixels")).hasMessageContaining("flatten, positions");
    }

    /** Subsampled to the same count, layers of different spatial size still have different data points. */
    @Test
    void positionsOfDifferentSpatialSizeAreNotCompared() {
        Random rnd = new Random(5);
        INDArray big = conv(rnd, 30, 3, 8, 8);
        INDArray small = conv(rnd, 30, 4, 4, 4);
        INDArray small2 = conv(rnd, 30, 2, 4, 4);
        java.util.Map<String, INDArray> acts = new java.util.LinkedHashMap<>();
        acts.put("big", big);
        acts.put("small", small);
        acts.put("small2", small2);
        java.util.List<String> names = java.util.List.of("big", "small", "small2");
        java.util.List<Representation> reps = LayerRepresentations.prepare(acts, names, ConvMode.POSITIONS_AS_POINTS, 200, 1);
        assertThat(reps).allSatisfy(r -> assertThat(r.dataPoints()).isEqualTo(200));
        SimilarityMatrix m = LayerRepresentations.matrix(names, reps, names, reps, SimilarityMethod.CKA,
                SimilarityOptions.defaults());
        assertThat(m.get("big", "small")).isNaN();
        assertThat(m.get("small", "small2")).isBetween(0.0, 1.0);
        assertThat(m.undefinedPairs()).isEqualTo(4);
        assertThatThrownBy(() -> Similarity.compute(SimilarityMethod.SVCCA, reps.get(0), reps.get(1), SimilarityOptions.defaults()))
                .hasMessageContaining("different data points");
        // flattened, every layer is over the same 30 examples
        java.util.List<Representation> flat = LayerRepresentations.prepare(acts, names, ConvMode.FLATTEN, 200, 1);
        assertThat(LayerRepresentations.matrix(names, flat, names, flat, SimilarityMethod.CKA, SimilarityOptions.defaults())
                .undefinedPairs()).isZero();
    }
}
