package dev.stethoscope.sample.bench;

import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.RankingMetrics;
import dev.stethoscope.probes.dynamics.SuspectScore;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Per-example monitors added with {@code addListeners} alone, on real MNIST (issue 15, part A). */
class ExampleIdentityMnistTest {

    private static float[][] images(LabeledImages t, int n) {
        byte[] px = t.images().rawPixels();
        int d = t.images().pixelsPerImage();
        float[][] x = new float[n][d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                x[i][j] = (px[i * d + j] & 0xff) / 255f;
            }
        }
        return x;
    }

    /** Example indices by decreasing score. */
    private static int[] ranking(double[] s) {
        return java.util.stream.IntStream.range(0, s.length).boxed()
                .sorted((p, q) -> Double.compare(s[q], s[p])).mapToInt(Integer::intValue).toArray();
    }

    /**
     * The README's plain program: an MLP fed by DL4J's ListDataSetIterator, the suspects monitor added with
     * {@code addListeners}, {@code fit(iterator, epochs)} unchanged. It trains to the end and the planted
     * mislabel is the first suspect.
     */
    @Test
    void plainProgramWithAddListenersTrainsToTheEndAndRanksThePlantedMislabelFirst() {
        LabeledImages train = MnistFixture.mnist().train();
        int n = 500;
        int planted = 321;
        float[][] x = images(train, n);
        int[] y = train.labelValues();
        List<DataSet> examples = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            INDArray label = Nd4j.zeros(DataType.FLOAT, 1, 10);
            label.putScalar(0, i == planted ? (y[i] + 1) % 10 : y[i], 1.0);
            examples.add(new DataSet(Nd4j.create(new float[][]{x[i]}), label));
        }
        MultiLayerNetwork net = Models.build(Models.Kind.mlp, 42, 28, 28, 10);
        TrainingDynamicsListener suspects = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                .numExamples(n).featureShape(1, 28, 28).build();
        net.addListeners(suspects);
        net.fit(new ListDataSetIterator<>(examples, 50), 6);
        suspects.flush();

        assertThat(net.getEpochCount()).isEqualTo(6);
        assertThat(suspects.identitySource()).isEqualTo(ExampleIdentity.Source.CONTENT_HASH);
        assertThat(suspects.identityLost()).isNull();
        assertThat(suspects.errorCount()).isZero();
        Suspects r = suspects.lastRecord();
        // the iterator does not shuffle: the content-hash index is the position in the list
        assertThat(r.indices()[0]).isEqualTo(planted);
        assertThat(r.suspects().get(0).given()).isEqualTo((y[planted] + 1) % 10);
        // the raw example travels in the record, taken from the training batches
        float[] f = r.suspects().get(0).features();
        assertThat(f).hasSize(784);
        for (int j = 0; j < 784; j++) {
            assertThat(Math.abs(f[j] - x[planted][j])).isLessThanOrEqualTo(0.5f / 255 + 1e-6f);
        }
    }

    /**
     * The hidden-noise benchmark's setup on a slice (1000 examples, 20 % symmetric noise, reshuffled every epoch):
     * the content hash, mapped back to data-set indices, gives the scores (up to the last bits: the epoch-level
     * statistics sum the examples in another order) and the ranking of tracked indices.
     */
    @Test
    void contentHashGivesTheRankingOfTrackedIndicesUnderShuffling() {
        LabeledImages train = MnistFixture.mnist().train();
        int n = 1000;
        INDArray x = Nd4j.create(images(train, n));
        int[] noisy = java.util.Arrays.copyOf(train.labelValues(), n);
        long[] flipped = SuspectQualityBenchmark.injectSymmetricNoise(noisy, 0.2, 10, 7);
        int[] firstOrder = new SuspectQualityBenchmark.ShuffledIterator(x, noisy, 128, 7).order.clone();

        MultiLayerNetwork a = Models.build(Models.Kind.mlp, 7, 28, 28, 10);
        TrainingDynamicsListener tracked = TrainingDynamicsListener.builder(a, new InMemoryStatsStorage())
                .numExamples(n).attach();
        a.fit(tracked.track(new SuspectQualityBenchmark.ShuffledIterator(x, noisy, 128, 7)), 3);

        MultiLayerNetwork b = Models.build(Models.Kind.mlp, 7, 28, 28, 10);
        TrainingDynamicsListener hashed = TrainingDynamicsListener.builder(b, new InMemoryStatsStorage())
                .numExamples(n).build();
        b.addListeners(hashed);
        b.fit(new SuspectQualityBenchmark.ShuffledIterator(x, noisy, 128, 7, false), 3);

        assertThat(tracked.identitySource()).isEqualTo(ExampleIdentity.Source.TRACKED_INDEX);
        assertThat(hashed.identitySource()).isEqualTo(ExampleIdentity.Source.CONTENT_HASH);
        assertThat(hashed.identityLost()).isNull();
        TrainingDynamics ta = tracked.dynamics();
        TrainingDynamics tb = hashed.dynamics();
        assertThat(tb.observations()).isEqualTo(3L * n);
        double[] sa = ta.scores(SuspectScore.COMBINED);
        double[] sb = SuspectQualityBenchmark.byDataIndex(tb.scores(SuspectScore.COMBINED), firstOrder);
        for (int i = 0; i < n; i++) {
            assertThat(sb[i]).as("combined score of example %d", i).isCloseTo(sa[i], within(1e-9));
        }
        assertThat(ranking(sb)).containsExactly(ranking(sa));
        for (int h = 0; h < n; h++) {
            assertThat(tb.givenLabel(h)).isEqualTo(noisy[firstOrder[h]]);
        }
        boolean[] mask = RankingMetrics.mask(n, flipped);
        double auroc = RankingMetrics.auroc(sa, mask);
        assertThat(RankingMetrics.auroc(sb, mask)).isEqualTo(auroc);
        assertThat(RankingMetrics.precisionAtK(sb, mask, flipped.length))
                .isEqualTo(RankingMetrics.precisionAtK(sa, mask, flipped.length));
        assertThat(auroc).isGreaterThan(0.9);
    }
}
