package dev.stethoscope.probes.memorization;

import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.deeplearning4j.datasets.iterator.ExistingDataSetIterator;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class RandomizationTest {
    static final int N = 2000;
    static final int D = 16;
    static final int K = 10;
    static final double[][] FEATURES = new double[N][D];
    static final int[] CLASSES = new int[N];

    static {
        Random r = new Random(1);
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < D; j++) {
                FEATURES[i][j] = i * 100 + j; // every value distinct: permutations are visible
            }
            CLASSES[i] = r.nextInt(K);
        }
    }

    /** Batches of the examples in the given order, each with RecordMetaDataIndex metadata. */
    static DataSetIterator iterator(List<Integer> order, int batch) {
        List<DataSet> batches = new ArrayList<>();
        for (int s = 0; s < order.size(); s += batch) {
            List<Integer> ids = order.subList(s, Math.min(order.size(), s + batch));
            double[][] f = new double[ids.size()][];
            int[] c = new int[ids.size()];
            List<RecordMetaDataIndex> meta = new ArrayList<>();
            for (int i = 0; i < ids.size(); i++) {
                f[i] = FEATURES[ids.get(i)];
                c[i] = CLASSES[ids.get(i)];
                meta.add(new RecordMetaDataIndex(ids.get(i), null, RandomizationTest.class));
            }
            INDArray x = Nd4j.create(f).castTo(DataType.FLOAT);
            DataSet ds = new DataSet(x, InputGradients.oneHot(c, K, x));
            ds.setExampleMetaData(meta);
            batches.add(ds);
        }
        return new ExistingDataSetIterator(batches);
    }

    static List<Integer> inOrder() {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            l.add(i);
        }
        return l;
    }

    static List<Integer> shuffled(long seed) {
        List<Integer> l = inOrder();
        Collections.shuffle(l, new Random(seed));
        return l;
    }

    /** Example index to (features, label) after one pass. */
    static Map<Long, Object[]> collect(DataSetIterator it) {
        Map<Long, Object[]> m = new HashMap<>();
        it.reset();
        while (it.hasNext()) {
            DataSet ds = it.next();
            assertThat(ds.getExampleMetaData()).hasSize(ds.numExamples());
            double[][] f = ds.getFeatures().toDoubleMatrix();
            int[] c = InputGradients.argmax(ds.getLabels());
            for (int i = 0; i < ds.numExamples(); i++) {
                long idx = ((RecordMetaDataIndex) ds.getExampleMetaData().get(i)).getIndex();
                m.put(idx, new Object[]{f[i], c[i]});
            }
        }
        return m;
    }

    @Test
    void labelCorruptionChangesLabelsAtTheRightRateAndIsStableAcrossEpochsAndOrders() {
        double p = 0.4;
        RandomizedIterator a = new RandomizedIterator(iterator(inOrder(), 64), Randomization.corruptLabels(p, 7));
        Map<Long, Object[]> first = collect(a);
        Map<Long, Object[]> second = collect(a); // second epoch
        Map<Long, Object[]> otherOrder = collect(new RandomizedIterator(iterator(shuffled(3), 50),
                Randomization.corruptLabels(p, 7)));
        int changed = 0;
        for (long i = 0; i < N; i++) {
            int label = (int) first.get(i)[1];
            assertThat(second.get(i)[1]).isEqualTo(label);
            assertThat(otherOrder.get(i)[1]).isEqualTo(label);
            assertThat((double[]) first.get(i)[0]).containsExactly(FEATURES[(int) i]);
            if (label != CLASSES[(int) i]) {
                changed++;
            }
        }
        // replaced with prob p by a uniform class: changed with prob p (K-1)/K = 0.36; 4.5 sigma band
        double expected = p * (K - 1) / K;
        double sigma = Math.sqrt(expected * (1 - expected) / N);
        assertThat(changed / (double) N).isCloseTo(expected, within(4.5 * sigma));
        // another seed gives another corruption
        Map<Long, Object[]> otherSeed = collect(new RandomizedIterator(iterator(inOrder(), 64),
                Randomization.corruptLabels(p, 8)));
        long differ = otherSeed.entrySet().stream().filter(e -> !e.getValue()[1].equals(first.get(e.getKey())[1])).count();
        assertThat(differ).isGreaterThan(N / 5);
    }

    @Test
    void randomLabelsAreUniformAndIndependentOfTheTrueLabel() {
        Map<Long, Object[]> m = collect(new RandomizedIterator(iterator(inOrder(), 100), Randomization.randomLabels(1)));
        int[] counts = new int[K];
        int same = 0;
        for (long i = 0; i < N; i++) {
            int c = (int) m.get(i)[1];
            counts[c]++;
            if (c == CLASSES[(int) i]) {
                same++;
            }
        }
        // agreement with the true label at chance (1/K): 4.5 sigma band
        double sigma = Math.sqrt(0.1 * 0.9 / N);
        assertThat(same / (double) N).isCloseTo(0.1, within(4.5 * sigma));
        // each class about N/K = 200 (sd ~13.4)
        for (int c : counts) {
            assertThat(c).isBetween(140, 260);
        }
    }

    @Test
    void shuffledPixelsUseOnePermutationForEveryImage() {
        Randomization t = Randomization.shuffledPixels(5);
        Map<Long, Object[]> m = collect(new RandomizedIterator(iterator(shuffled(9), 33), t));
        int[] perm = ((Randomization.PixelPermutation) t).sharedPermutation(D);
        assertThat(perm).isNotEqualTo(identity(D));
        for (long i = 0; i < N; i++) {
            double[] f = (double[]) m.get(i)[0];
            for (int j = 0; j < D; j++) {
                assertThat(f[j]).isEqualTo(FEATURES[(int) i][perm[j]]);
            }
            assertThat(m.get(i)[1]).isEqualTo(CLASSES[(int) i]);
        }
        // "test" data with the same seed gets the same permutation
        Map<Long, Object[]> test = collect(new RandomizedIterator(iterator(inOrder(), 7), Randomization.shuffledPixels(5)));
        assertThat((double[]) test.get(42L)[0]).containsExactly((double[]) m.get(42L)[0]);
    }

    @Test
    void randomPixelsUseADifferentPermutationPerImageStableAcrossEpochs() {
        RandomizedIterator it = new RandomizedIterator(iterator(inOrder(), 64), Randomization.randomPixels(5));
        Map<Long, Object[]> m = collect(it);
        Map<Long, Object[]> again = collect(it);
        java.util.Set<String> perms = new java.util.HashSet<>();
        for (long i = 0; i < N; i++) {
            double[] f = (double[]) m.get(i)[0];
            // a permutation of the image's own pixels
            double[] sorted = f.clone();
            Arrays.sort(sorted);
            assertThat(sorted).containsExactly(FEATURES[(int) i]);
            int[] perm = new int[D];
            for (int j = 0; j < D; j++) {
                perm[j] = (int) Math.round(f[j] - i * 100);
            }
            perms.add(Arrays.toString(perm));
            assertThat((double[]) again.get(i)[0]).containsExactly(f);
        }
        // 16! permutations: 2000 draws essentially never collide
        assertThat(perms.size()).isGreaterThan(N - 5);
    }

    @Test
    void gaussianPixelsMatchTheDataMomentsAndAreDeterministic() {
        double[] mv = Randomization.featureMeanAndVariance(iterator(inOrder(), 100));
        // direct computation
        double s = 0;
        double s2 = 0;
        for (double[] row : FEATURES) {
            for (double v : row) {
                s += v;
                s2 += v * v;
            }
        }
        double mean = s / (N * D);
        assertThat(mv[0]).isCloseTo(mean, within(1e-6 * Math.abs(mean)));
        assertThat(mv[1]).isCloseTo(s2 / (N * D) - mean * mean, within(1e-6 * mv[1]));

        Randomization g = Randomization.gaussianLike(iterator(inOrder(), 100), 3);
        Map<Long, Object[]> m = collect(new RandomizedIterator(iterator(inOrder(), 100), g));
        Map<Long, Object[]> m2 = collect(new RandomizedIterator(iterator(shuffled(2), 80), g));
        double gs = 0;
        double gs2 = 0;
        for (long i = 0; i < N; i++) {
            double[] f = (double[]) m.get(i)[0];
            assertThat((double[]) m2.get(i)[0]).containsExactly(f);
            for (double v : f) {
                gs += v;
                gs2 += v * v;
            }
        }
        int count = N * D;
        double gm = gs / count;
        double gv = gs2 / count - gm * gm;
        double sd = Math.sqrt(mv[1]);
        // mean within 4.5 standard errors; variance within 5%
        assertThat(gm).isCloseTo(mv[0], within(4.5 * sd / Math.sqrt(count)));
        assertThat(gv / mv[1]).isCloseTo(1.0, within(0.05));
    }

    @Test
    void batchesWithoutIndicesFailClearlyUnlessPositionalIndicesAreAllowed() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 10, D);
        DataSet ds = new DataSet(x, InputGradients.oneHot(new int[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, K, x));
        assertThatThrownBy(() -> new RandomizedIterator(new ExistingDataSetIterator(List.of(ds)),
                Randomization.randomLabels(1)).next())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("RecordMetaDataIndex");
        RandomizedIterator positional = new RandomizedIterator(new ExistingDataSetIterator(List.of(ds)),
                Randomization.randomLabels(1), true);
        INDArray l1 = positional.next().getLabels();
        positional.reset();
        assertThat(positional.next().getLabels()).isEqualTo(l1);
        assertThatThrownBy(() -> Randomization.corruptLabels(1.5, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    static int[] identity(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        return p;
    }
}
