package dev.stethoscope.probes.dynamics;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Quality of a suspect ranking against a set of known flipped (mislabeled)
 * examples (METHODS.md section 7, "Evaluation").
 *
 * <p>Scores are indexed by example index, higher = more suspicious; examples
 * whose score is NaN (never observed) are left out of every metric. Ties in
 * the top-k are broken by the lower example index, so results are
 * deterministic.
 */
public final class RankingMetrics {
    private RankingMetrics() {
    }

    /**
     * Example indices ordered from most to least suspicious (NaN scores left out;
     * ties by lower index).
     */
    public static int[] ranking(double[] scores) {
        return IntStream.range(0, scores.length)
                .filter(i -> !Double.isNaN(scores[i]))
                .boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> scores[i]).reversed().thenComparingInt(i -> i))
                .mapToInt(Integer::intValue)
                .toArray();
    }

    /** The k most suspicious example indices (fewer if fewer were observed). */
    public static int[] topK(double[] scores, int k) {
        int[] r = ranking(scores);
        return Arrays.copyOf(r, Math.min(k, r.length));
    }

    /** Fraction of the top k that are flipped. */
    public static double precisionAtK(double[] scores, boolean[] flipped, int k) {
        check(scores, flipped);
        int[] top = topK(scores, k);
        if (top.length == 0) {
            return Double.NaN;
        }
        return (double) hits(top, flipped) / top.length;
    }

    /** Fraction of the flipped (observed) examples that are in the top k. */
    public static double recallAtK(double[] scores, boolean[] flipped, int k) {
        check(scores, flipped);
        long positives = IntStream.range(0, scores.length).filter(i -> flipped[i] && !Double.isNaN(scores[i])).count();
        if (positives == 0) {
            return Double.NaN;
        }
        return (double) hits(topK(scores, k), flipped) / positives;
    }

    /**
     * Area under the ROC curve of the scores for separating flipped from clean
     * examples: the probability that a random flipped example scores higher than
     * a random clean one, ties counting one half (Mann-Whitney U with midranks).
     * NaN if either class is empty.
     */
    public static double auroc(double[] scores, boolean[] flipped) {
        check(scores, flipped);
        int[] idx = IntStream.range(0, scores.length).filter(i -> !Double.isNaN(scores[i])).toArray();
        Integer[] order = Arrays.stream(idx).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> scores[i]));
        double rankSumPos = 0;
        long pos = 0;
        int m = order.length;
        int start = 0;
        while (start < m) {
            int end = start;
            while (end + 1 < m && scores[order[end + 1]] == scores[order[start]]) {
                end++;
            }
            double midrank = (start + end) / 2.0 + 1; // 1-based
            for (int j = start; j <= end; j++) {
                if (flipped[order[j]]) {
                    rankSumPos += midrank;
                    pos++;
                }
            }
            start = end + 1;
        }
        long neg = m - pos;
        if (pos == 0 || neg == 0) {
            return Double.NaN;
        }
        return (rankSumPos - pos * (pos + 1) / 2.0) / ((double) pos * neg);
    }

    /** A boolean mask of length n with the given indices set. */
    public static boolean[] mask(int n, long[] indices) {
        boolean[] m = new boolean[n];
        for (long i : indices) {
            if (i < 0 || i >= n) {
                throw new IllegalArgumentException("Index " + i + " outside [0, " + n + ")");
            }
            m[(int) i] = true;
        }
        return m;
    }

    private static int hits(int[] top, boolean[] flipped) {
        int h = 0;
        for (int i : top) {
            if (flipped[i]) {
                h++;
            }
        }
        return h;
    }

    private static void check(double[] scores, boolean[] flipped) {
        if (scores.length != flipped.length) {
            throw new IllegalArgumentException(scores.length + " scores but a flipped mask of " + flipped.length);
        }
    }
}
