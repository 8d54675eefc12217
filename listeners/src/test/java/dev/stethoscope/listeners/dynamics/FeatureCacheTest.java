package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class FeatureCacheTest {
    private static final int N = 20;

    /**
     * Observes examples 0..N-1 with given label 0 and logits (m, 0, 0): even examples correct
     * (m = 1 + i), odd ones wrong (m = -i), so the combined score grows with i among the odd ones.
     */
    private static TrainingDynamics dynamics() {
        TrainingDynamics d = new TrainingDynamics(N, 3);
        for (int i = 0; i < N; i++) {
            double m = i % 2 == 0 ? 1 + i : -i;
            d.observe(i, new double[]{m, 0, 0}, 0, 0);
        }
        return d;
    }

    /** Features of examples from..to-1: row i is (i/100, (i+0.5)/100), in [0, 1]. */
    private static INDArray features(int from, int to) {
        float[] v = new float[2 * (to - from)];
        for (int i = from; i < to; i++) {
            v[2 * (i - from)] = i / 100f;
            v[2 * (i - from) + 1] = (i + 0.5f) / 100f;
        }
        return Nd4j.create(v, new long[]{to - from, 2}, DataType.FLOAT);
    }

    private static long[] range(int from, int to) {
        return IntStream.range(from, to).asLongStream().toArray();
    }

    private static Set<Integer> cached(FeatureCache c) {
        Set<Integer> s = new HashSet<>();
        for (int i = 0; i < N; i++) {
            if (c.contains(i)) {
                s.add(i);
            }
        }
        return s;
    }

    @Test
    void firstEpochAdmitsExactlyTheMisclassifiedWithTheirFeatures() {
        FeatureCache c = new FeatureCache(dynamics(), 100, null, null);
        c.shapeFrom(features(0, N));
        assertThat(c.shape()).containsExactly(2L);
        c.offer(range(0, N), features(0, N));
        assertThat(cached(c)).containsExactlyInAnyOrder(1, 3, 5, 7, 9, 11, 13, 15, 17, 19);
        FeatureCache.Entry e = c.get(13);
        assertThat(e.lo()).isZero();
        assertThat(e.hi()).isEqualTo(1f);
        assertThat((e.data()[0] & 0xff) / 255f).isCloseTo(0.13f, within(0.5f / 255));
        assertThat((e.data()[1] & 0xff) / 255f).isCloseTo(0.135f, within(0.5f / 255));
        assertThat(c.get(12)).isNull(); // correct, not cached, no example source
    }

    @Test
    void featuresReadIntoAJavaArrayAreCachedAsFromTheArray() {
        FeatureCache fromArray = new FeatureCache(dynamics(), 100, null, new long[]{2});
        FeatureCache fromFloats = new FeatureCache(dynamics(), 100, null, new long[]{2});
        fromArray.offer(range(0, N), features(0, N));
        fromFloats.offer(range(0, N), features(0, N).data().asFloat()); // the training thread's hand-over copy
        assertThat(cached(fromFloats)).isEqualTo(cached(fromArray)).containsExactlyInAnyOrder(1, 3, 5, 7, 9, 11, 13, 15, 17, 19);
        for (int i : cached(fromArray)) {
            assertThat(fromFloats.get(i).data()).isEqualTo(fromArray.get(i).data());
        }
        FeatureCache wrong = new FeatureCache(dynamics(), 10, null, new long[]{3});
        assertThatThrownBy(() -> wrong.offer(range(0, 4), new float[8])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 values per example");
    }

    @Test
    void neverExceedsItsCapacityAndEvictsTheLowestScores() {
        TrainingDynamics d = dynamics();
        FeatureCache c = new FeatureCache(d, 4, null, new long[]{2});
        for (int from = 0; from < N; from += 5) {
            c.offer(range(from, from + 5), features(from, from + 5));
            assertThat(c.size()).isLessThanOrEqualTo(c.capacity());
        }
        // the last eviction (7 admitted > 4) kept capacity/2 = 2 entries: the highest combined scores
        int[] byScore = IntStream.of(15, 17, 19, 9, 7).boxed()
                .sorted((a, b) -> Double.compare(d.combinedScore(b, 1), d.combinedScore(a, 1)))
                .mapToInt(Integer::intValue).toArray();
        assertThat(cached(c)).containsExactlyInAnyOrder(byScore[0], byScore[1]).containsExactlyInAnyOrder(19, 17);
    }

    @Test
    void afterAnEpochEndAdmitsWhatReachesTheRankHalfCapacityScore() {
        TrainingDynamics d = dynamics();
        FeatureCache c = new FeatureCache(d, 8, null, new long[]{2});
        double scale = d.combinedScale();
        double[] combined = new double[N];
        for (int i = 0; i < N; i++) {
            combined[i] = d.combinedScore(i, scale);
        }
        c.admitFrom(scale, combined);
        double[] sorted = combined.clone();
        Arrays.sort(sorted);
        assertThat(c.admitThreshold()).isEqualTo(sorted[N - 4]);
        c.offer(range(0, N), features(0, N));
        // the 4 highest scores (odd 13..19), whatever their correctness
        assertThat(cached(c)).containsExactlyInAnyOrder(13, 15, 17, 19);
    }

    @Test
    void missesAreLookedUpInTheExampleSourceAndCached() {
        FeatureCache c = new FeatureCache(dynamics(), 10, i -> i == 4 ? features(4, 5) : null, new long[]{2});
        FeatureCache.Entry e = c.get(4); // a [1, 2] array: flattened, not reshaped to [99, 2]
        assertThat(e).isNotNull();
        assertThat((e.data()[1] & 0xff) / 255f).isCloseTo(0.045f, within(0.5f / 255));
        assertThat(c.contains(4)).isTrue();
        assertThat(c.size()).isEqualTo(1);
        assertThat(c.get(6)).isNull();
        assertThat(c.size()).isEqualTo(1);
    }

    @Test
    void refusesFeaturesOfAnotherShapeAndANonPositiveCapacity() {
        FeatureCache c = new FeatureCache(dynamics(), 10, null, new long[]{3});
        assertThatThrownBy(() -> c.offer(range(0, 4), features(0, 4))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 values per example");
        assertThatThrownBy(() -> new FeatureCache(dynamics(), 0, null, null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void quantisesOverTheValueRangeOrTheUnitInterval() {
        float[] v = {-2f, 3f, 0.5f, 1.234f};
        FeatureCache.Entry e = FeatureCache.quantise(v);
        assertThat(e.lo()).isEqualTo(-2f);
        assertThat(e.hi()).isEqualTo(3f);
        float step = (e.hi() - e.lo()) / 255f;
        for (int j = 0; j < v.length; j++) {
            float back = e.lo() + (e.data()[j] & 0xff) * step;
            assertThat(back).isCloseTo(v[j], within(step / 2 + 1e-6f));
        }
        assertThat(e.data()[0] & 0xff).isZero();
        assertThat(e.data()[1] & 0xff).isEqualTo(255);

        FeatureCache.Entry px = FeatureCache.quantise(new float[]{0.2f, 0.4f});
        assertThat(px.lo()).isZero();
        assertThat(px.hi()).isEqualTo(1f); // pixels keep [0, 1], not [0.2, 0.4]
        assertThat(px.data()[1] & 0xff).isEqualTo(Math.round(0.4f * 255));

        FeatureCache.Entry flat = FeatureCache.quantise(new float[]{5f, 5f});
        assertThat(flat.lo()).isEqualTo(5f);
        assertThat(flat.data()).containsOnly((byte) 0);
    }
}
