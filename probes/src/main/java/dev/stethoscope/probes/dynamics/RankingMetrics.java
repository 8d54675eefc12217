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

    /**
     * The k most suspicious example indices, most suspicious first (fewer if
     * fewer were observed); same order as the head of {@link #ranking}, in
     * O(n log n) primitive sorting (no boxing), so it is cheap for N = 60000.
     */
    public static int[] topK(double[] scores, int k) {
        double[] sorted = finiteSortedDescending(scores);
        int m = Math.min(k, sorted.length);
        if (m <= 0) {
            return new int[0];
        }
        double kth = sorted[m - 1];
        int[] out = new int[m];
        int c = 0;
        for (int i = 0; i < scores.length && c < m; i++) {
            if (!Double.isNaN(scores[i]) && scores[i] > kth) {
                out[c++] = i;
            }
        }
        for (int i = 0; i < scores.length && c < m; i++) {
            if (scores[i] == kth) {
                out[c++] = i;
            }
        }
        Integer[] boxed = Arrays.stream(out).boxed().toArray(Integer[]::new);
        Arrays.sort(boxed, Comparator.<Integer>comparingDouble(i -> scores[i]).reversed().thenComparingInt(i -> i));
        return Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
    }

    /**
     * The value of the k-th largest non-NaN score (1-based; the smallest if
     * fewer), NaN if there is none.
     */
    public static double kthLargest(double[] scores, int k) {
        double[] sorted = finiteSortedDescending(scores);
        if (sorted.length == 0 || k <= 0) {
            return Double.NaN;
        }
        return sorted[Math.min(k, sorted.length) - 1];
    }

    private static double[] finiteSortedDescending(double[] scores) {
        double[] v = Arrays.stream(scores).filter(x -> !Double.isNaN(x)).toArray();
        Arrays.sort(v);
        for (int i = 0, j = v.length - 1; i < j; i++, j--) {
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return v;
    }

    /** Fraction of the top k that are flipped. */
    public static double precisionAtK(double[] scores, boolean[] flipped, int k) {
        check(scores, flipped);
        int m = Math.min(k, (int) Arrays.stream(scores).filter(x -> !Double.isNaN(x)).count());
        if (m <= 0) {
            return Double.NaN;
        }
        return (double) hitsAtK(scores, flipped, k) / m;
    }

    /** Fraction of the flipped (observed) examples that are in the top k. */
    public static double recallAtK(double[] scores, boolean[] flipped, int k) {
        check(scores, flipped);
        long positives = IntStream.range(0, scores.length).filter(i -> flipped[i] && !Double.isNaN(scores[i])).count();
        if (positives == 0) {
            return Double.NaN;
        }
        return (double) hitsAtK(scores, flipped, k) / positives;
    }

    /**
     * Number of flipped examples among the top k (same top k as {@link #topK}),
     * without sorting indices: everything above the k-th score, then ties at it
     * by lower index.
     */
    public static int hitsAtK(double[] scores, boolean[] flipped, int k) {
        double[] sorted = finiteSortedDescending(scores);
        int m = Math.min(k, sorted.length);
        if (m <= 0) {
            return 0;
        }
        double kth = sorted[m - 1];
        int taken = 0;
        int hits = 0;
        for (int i = 0; i < scores.length; i++) {
            if (!Double.isNaN(scores[i]) && scores[i] > kth) {
                taken++;
                if (flipped[i]) {
                    hits++;
                }
            }
        }
        for (int i = 0; i < scores.length && taken < m; i++) {
            if (scores[i] == kth) {
                taken++;
                if (flipped[i]) {
                    hits++;
                }
            }
        }
        return hits;
    }

    /**
     * Area under the ROC curve of the scores for separating flipped from clean
     * examples: the probability that a random flipped example scores higher than
     * a random clean one, ties counting one half (Mann-Whitney U). NaN if either
     * class is empty.
     */
    public static double auroc(double[] scores, boolean[] flipped) {
        check(scores, flipped);
        int np = 0;
        int nn = 0;
        for (int i = 0; i < scores.length; i++) {
            if (!Double.isNaN(scores[i])) {
                if (flipped[i]) {
                    np++;
                } else {
                    nn++;
                }
            }
        }
        if (np == 0 || nn == 0) {
            return Double.NaN;
        }
        double[] pos = new double[np];
        double[] neg = new double[nn];
        np = 0;
        nn = 0;
        for (int i = 0; i < scores.length; i++) {
            if (!Double.isNaN(scores[i])) {
                if (flipped[i]) {
                    pos[np++] = scores[i];
                } else {
                    neg[nn++] = scores[i];
                }
            }
        }
        Arrays.sort(pos);
        Arrays.sort(neg);
        // for each positive: negatives strictly below count 1, equal count 1/2
        double wins = 0;
        int below = 0;
        int belowOrEqual = 0;
        for (double p : pos) {
            while (below < nn && neg[below] < p) {
                below++;
            }
            if (belowOrEqual < below) {
                belowOrEqual = below;
            }
            while (belowOrEqual < nn && neg[belowOrEqual] <= p) {
                belowOrEqual++;
            }
            wins += below + 0.5 * (belowOrEqual - below);
        }
        return wins / ((double) np * nn);
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

    private static void check(double[] scores, boolean[] flipped) {
        if (scores.length != flipped.length) {
            throw new IllegalArgumentException(scores.length + " scores but a flipped mask of " + flipped.length);
        }
    }
}
