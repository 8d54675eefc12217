package dev.stethoscope.probes.dynamics;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RankingMetricsTest {

    @Test
    void precisionAndRecallAtK() {
        double[] s = {0.9, 0.1, 0.8, 0.7, 0.2, Double.NaN};
        boolean[] f = {true, false, false, true, true, true};
        // ranking: 0, 2, 3, 4, 1 (5 unobserved)
        assertThat(RankingMetrics.ranking(s)).containsExactly(0, 2, 3, 4, 1);
        assertThat(RankingMetrics.precisionAtK(s, f, 2)).isCloseTo(0.5, within(1e-12));
        assertThat(RankingMetrics.precisionAtK(s, f, 3)).isCloseTo(2 / 3.0, within(1e-12));
        // 3 observed flipped examples (0, 3, 4)
        assertThat(RankingMetrics.recallAtK(s, f, 3)).isCloseTo(2 / 3.0, within(1e-12));
        assertThat(RankingMetrics.recallAtK(s, f, 4)).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void aurocMatchesPairCountingWithTies() {
        Random rnd = new Random(7);
        int n = 300;
        double[] s = new double[n];
        boolean[] f = new boolean[n];
        for (int i = 0; i < n; i++) {
            f[i] = rnd.nextDouble() < 0.3;
            // coarse values so there are many ties
            s[i] = Math.round((rnd.nextGaussian() + (f[i] ? 1 : 0)) * 2) / 2.0;
        }
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (f[i] && !f[j]) {
                    pairs++;
                    wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                }
            }
        }
        assertThat(RankingMetrics.auroc(s, f)).isCloseTo(wins / pairs, within(1e-12));
        assertThat(RankingMetrics.auroc(s, f)).isGreaterThan(0.6);
    }

    @Test
    void perfectAndReversedRankings() {
        double[] s = {5, 4, 3, 2, 1};
        assertThat(RankingMetrics.auroc(s, new boolean[]{true, true, false, false, false})).isEqualTo(1.0);
        assertThat(RankingMetrics.auroc(s, new boolean[]{false, false, false, true, true})).isEqualTo(0.0);
        assertThat(RankingMetrics.auroc(s, new boolean[5])).isNaN();
        assertThat(RankingMetrics.mask(4, new long[]{1, 3})).containsExactly(false, true, false, true);
    }

    @Test
    void topKAgreesWithTheFullRankingIncludingTies() {
        Random rnd = new Random(3);
        double[] s = new double[500];
        for (int i = 0; i < s.length; i++) {
            s[i] = i % 17 == 0 ? Double.NaN : Math.round(rnd.nextGaussian() * 3) / 3.0;
        }
        int[] full = RankingMetrics.ranking(s);
        for (int k : new int[]{1, 10, 57, 400, 1000}) {
            assertThat(RankingMetrics.topK(s, k)).containsExactly(java.util.Arrays.copyOf(full, Math.min(k, full.length)));
        }
        assertThat(RankingMetrics.kthLargest(s, 10)).isEqualTo(s[full[9]]);
        boolean[] f = new boolean[s.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = i % 3 == 0;
        }
        for (int k : new int[]{1, 10, 57, 400}) {
            long expected = java.util.Arrays.stream(java.util.Arrays.copyOf(full, k)).filter(i -> f[i]).count();
            assertThat(RankingMetrics.hitsAtK(s, f, k)).isEqualTo((int) expected);
        }
    }
}
