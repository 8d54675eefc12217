package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.RankingMetrics;
import dev.stethoscope.probes.dynamics.SuspectScore;
import dev.stethoscope.probes.dynamics.TrainingDynamics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import static dev.stethoscope.listeners.dynamics.TrainingDynamicsListener.COLUMNS;
import static dev.stethoscope.listeners.dynamics.TrainingDynamicsListener.METRIC_SCORES;

/**
 * Assembles the records of {@link TrainingDynamicsListener} from the training-dynamics state: the
 * per-epoch {@link Suspects} (top-K suspects with their values and features, summary
 * statistics, a data-map sample, ranking metrics when the flipped indices are known) and the
 * full per-example {@link SuspectTable}. Reads the state; changes nothing but the lookups
 * {@link FeatureCache#get} caches.
 */
final class SuspectRecords implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private final TrainingDynamics dynamics;
    private final String captureKey;
    private final int topK;
    private final long[] flipped;
    private final boolean[] flippedMask;
    private final int dataMapSize;

    /**
     * @param flipped indices known to be mislabeled, or null when unknown (no metrics then)
     */
    SuspectRecords(TrainingDynamics dynamics, String captureKey, int topK, long[] flipped, int dataMapSize) {
        this.dynamics = Objects.requireNonNull(dynamics, "dynamics");
        this.captureKey = captureKey;
        this.topK = topK;
        this.flipped = flipped == null ? new long[0] : flipped.clone();
        this.flippedMask = flipped == null ? null : RankingMetrics.mask(dynamics.numExamples(), flipped);
        this.dataMapSize = dataMapSize;
    }

    /** Number of known flipped indices (0 when unknown). */
    int flippedCount() {
        return flipped.length;
    }

    /** The combined score of every example at {@code scale} ({@link TrainingDynamics#combinedScale()}). */
    double[] combined(double scale) {
        double[] combined = new double[dynamics.numExamples()];
        for (int i = 0; i < combined.length; i++) {
            combined[i] = dynamics.combinedScore(i, scale);
        }
        return combined;
    }

    /**
     * The per-epoch record.
     *
     * @param combined      {@link #combined} of the current state
     * @param cache         features of the suspects (missing ones are marked NaN in lo/hi)
     * @param captureMillis time spent capturing this epoch, for the summary
     * @param batches       batches observed this epoch, for the summary
     */
    Suspects record(double[] combined, FeatureCache cache, double captureMillis, long batches) {
        int[] top = RankingMetrics.topK(combined, topK);
        int k = top.length;

        long[] index = new long[k];
        int[] given = new int[k];
        int[] pred = new int[k];
        double[] values = new double[k * COLUMNS.size()];
        long[] shape = cache.shape() == null ? new long[]{0} : cache.shape();
        int d = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        byte[] feats = new byte[k * d];
        float[] lo = new float[k];
        float[] hi = new float[k];
        for (int s = 0; s < k; s++) {
            int i = top[s];
            index[s] = i;
            given[s] = dynamics.givenLabel(i);
            pred[s] = dynamics.predictedLabel(i);
            double[] row = {combined[i], dynamics.aum(i), dynamics.confidence(i), dynamics.variability(i),
                    dynamics.correctness(i), dynamics.forgettingEvents(i), dynamics.learnedSinceEpoch(i),
                    dynamics.meanLoss(i), dynamics.lastLoss(i)};
            System.arraycopy(row, 0, values, s * COLUMNS.size(), row.length);
            FeatureCache.Entry c = cache.get(i);
            if (c != null && c.data().length == d) {
                System.arraycopy(c.data(), 0, feats, s * d, d);
                lo[s] = c.lo();
                hi[s] = c.hi();
            } else {
                lo[s] = Float.NaN;
                hi[s] = Float.NaN;
            }
        }
        Suspects r = Suspects.of(captureKey, dynamics.numExamples(), dynamics.numClasses(),
                summaryNames(), summary(captureMillis, batches, cache.size()), index, given, pred, COLUMNS, values,
                shape, feats, lo, hi);
        r = addDataMap(r, top);
        if (flippedMask != null) {
            List<String> names = new ArrayList<>();
            double[] p = new double[METRIC_SCORES.size()];
            double[] rc = new double[p.length];
            double[] au = new double[p.length];
            for (int j = 0; j < METRIC_SCORES.size(); j++) {
                SuspectScore kind = METRIC_SCORES.get(j);
                double[] sc = kind == SuspectScore.COMBINED ? combined : dynamics.scores(kind);
                names.add(kind.key());
                p[j] = RankingMetrics.precisionAtK(sc, flippedMask, flipped.length);
                rc[j] = RankingMetrics.recallAtK(sc, flippedMask, flipped.length);
                au[j] = RankingMetrics.auroc(sc, flippedMask);
            }
            r = r.withMetrics(flipped.length, names, p, rc, au);
        }
        return r;
    }

    private static List<String> summaryNames() {
        return List.of("seen", "observations", "meanAum", "fracNegativeAum", "meanConfidence", "meanVariability",
                "meanCorrectness", "fracLastCorrect", "meanForgetting", "captureMillis", "batches",
                "featuresCached");
    }

    private double[] summary(double captureMillis, long batches, int featuresCached) {
        int seen = 0;
        double aum = 0;
        int neg = 0;
        double conf = 0;
        double var = 0;
        double corr = 0;
        int lastCorrect = 0;
        double forget = 0;
        for (int i = 0; i < dynamics.numExamples(); i++) {
            if (!dynamics.seen(i)) {
                continue;
            }
            seen++;
            double a = dynamics.aum(i);
            aum += a;
            if (a < 0) {
                neg++;
            }
            conf += dynamics.confidence(i);
            var += dynamics.variability(i);
            corr += dynamics.correctness(i);
            if (dynamics.lastCorrect(i)) {
                lastCorrect++;
            }
            forget += dynamics.forgettingEvents(i);
        }
        double s = Math.max(seen, 1);
        return new double[]{seen, dynamics.observations(), seen == 0 ? Double.NaN : aum / s,
                seen == 0 ? Double.NaN : neg / s, seen == 0 ? Double.NaN : conf / s,
                seen == 0 ? Double.NaN : var / s, seen == 0 ? Double.NaN : corr / s,
                seen == 0 ? Double.NaN : lastCorrect / s, seen == 0 ? Double.NaN : forget / s,
                captureMillis, batches, featuresCached};
    }

    private Suspects addDataMap(Suspects r, int[] top) {
        int n = dynamics.numExamples();
        Set<Integer> chosen = new LinkedHashSet<>();
        int stride = Math.max(1, (int) Math.ceil(n / (double) Math.max(1, dataMapSize)));
        for (int i = 0; i < n; i += stride) {
            if (dynamics.seen(i)) {
                chosen.add(i);
            }
        }
        for (int i : top) {
            chosen.add(i);
        }
        int[] idx = chosen.stream().mapToInt(Integer::intValue).toArray();
        float[] conf = new float[idx.length];
        float[] var = new float[idx.length];
        float[] corr = new float[idx.length];
        for (int j = 0; j < idx.length; j++) {
            conf[j] = (float) dynamics.confidence(idx[j]);
            var[j] = (float) dynamics.variability(idx[j]);
            corr[j] = (float) dynamics.correctness(idx[j]);
        }
        return r.withDataMap(idx, conf, var, corr);
    }

    /** The full per-example table at {@code epoch}. */
    SuspectTable table(int epoch) {
        int n = dynamics.numExamples();
        int[] given = new int[n];
        int[] pred = new int[n];
        int[] count = new int[n];
        int[] forget = new int[n];
        int[] learned = new int[n];
        float[][] f = new float[SuspectTable.FLOAT_COLUMNS.size()][n];
        double scale = dynamics.combinedScale();
        for (int i = 0; i < n; i++) {
            given[i] = dynamics.givenLabel(i);
            pred[i] = dynamics.predictedLabel(i);
            count[i] = dynamics.count(i);
            forget[i] = dynamics.forgettingEvents(i);
            learned[i] = dynamics.learnedSinceEpoch(i);
            f[0][i] = (float) dynamics.combinedScore(i, scale);
            f[1][i] = (float) dynamics.aum(i);
            f[2][i] = (float) dynamics.confidence(i);
            f[3][i] = (float) dynamics.variability(i);
            f[4][i] = (float) dynamics.correctness(i);
            f[5][i] = (float) dynamics.meanLoss(i);
            f[6][i] = (float) dynamics.lastLoss(i);
        }
        return SuspectTable.of(epoch, dynamics.numClasses(), given, pred, count, forget, learned, f,
                flipped);
    }
}
