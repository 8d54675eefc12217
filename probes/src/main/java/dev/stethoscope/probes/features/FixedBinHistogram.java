package dev.stethoscope.probes.features;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.Objects;

/**
 * A histogram with bins fixed once and reused at every epoch, so that the histograms of one layer (weights or
 * activations) can be drawn as ridgelines on a common axis (TensorBoard re-bins each step; DL4J's UI shows only
 * the latest).
 *
 * <p>Bins: {@code bins} equal bins over {@code [lo, hi]}; bin i is {@code [lo + i*w, lo + (i+1)*w)}, the last one
 * also holds {@code hi}. Values below {@code lo} or above {@code hi} (including infinities) are counted in
 * {@link Counts#underflow()} / {@link Counts#overflow()} and NaN in {@link Counts#nan()}, so the counts always sum
 * to the number of values added.
 *
 * <p>The common range ({@link #rangeOf}): taken from the first snapshot of the layer, its {@code [min, max]}
 * widened by {@code margin} times the width on each side (default {@value #DEFAULT_MARGIN}: weights and
 * activations usually spread during training), except that a side that is non-negative (or non-positive) in the
 * first snapshot stays at 0, so ReLU activations keep their bins on {@code [0, ...]}. The range is never changed
 * afterwards: mass that outgrows it shows as under/overflow, which is itself worth seeing.
 */
public final class FixedBinHistogram {

    /** Default number of bins. */
    public static final int DEFAULT_BINS = 64;

    /** Default widening of the first snapshot's range, as a fraction of its width on each side. */
    public static final double DEFAULT_MARGIN = 0.5;

    /**
     * The counts of a histogram.
     *
     * @param lo        lower edge of the first bin
     * @param hi        upper edge of the last bin
     * @param bins      count per bin
     * @param underflow values below {@code lo} (including -Infinity)
     * @param overflow  values above {@code hi} (including +Infinity)
     * @param nan       NaN values
     */
    public record Counts(double lo, double hi, long[] bins, long underflow, long overflow, long nan) {
        /** Every value counted: bins, under- and overflow and NaN. */
        public long total() {
            return Arrays.stream(bins).sum() + underflow + overflow + nan;
        }

        /** The {@code bins + 1} bin edges. */
        public double[] edges() {
            double[] e = new double[bins.length + 1];
            for (int i = 0; i <= bins.length; i++) {
                e[i] = lo + (hi - lo) * i / bins.length;
            }
            return e;
        }
    }

    private final double lo;
    private final double hi;
    private final long[] counts;
    private long under;
    private long over;
    private long nan;

    /**
     * An empty histogram over {@code [lo, hi]}.
     *
     * @throws IllegalArgumentException unless {@code lo < hi}, both finite, and {@code bins >= 1}
     */
    public FixedBinHistogram(double lo, double hi, int bins) {
        if (!(lo < hi) || Double.isInfinite(lo) || Double.isInfinite(hi) || bins < 1) {
            throw new IllegalArgumentException("need finite lo < hi and bins >= 1, got [" + lo + ", " + hi + "], " + bins);
        }
        this.lo = lo;
        this.hi = hi;
        this.counts = new long[bins];
    }

    /**
     * An empty histogram whose range comes from a first snapshot (see the class comment).
     *
     * @param first  the first snapshot's values (finite ones are used; if none, [-1, 1])
     * @param bins   number of bins
     * @param margin widening on each side as a fraction of the width, at least 0
     */
    public static FixedBinHistogram rangeOf(INDArray first, int bins, double margin) {
        Objects.requireNonNull(first, "first");
        if (!(margin >= 0)) {
            throw new IllegalArgumentException("margin must be >= 0, got " + margin);
        }
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : values(first)) {
            if (Double.isFinite(v)) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        if (min > max) {
            return new FixedBinHistogram(-1, 1, bins);
        }
        double w = max - min;
        if (w == 0) {
            w = Math.max(1e-3, Math.abs(max));
        }
        double lo = min >= 0 ? 0 : min - margin * w;
        double hi = max <= 0 ? 0 : max + margin * w;
        if (lo == hi) {
            hi = lo + w;
        }
        return new FixedBinHistogram(lo, hi, bins);
    }

    /** An empty histogram with the same bins (for the next epoch). */
    public FixedBinHistogram emptyCopy() {
        return new FixedBinHistogram(lo, hi, counts.length);
    }

    private static double[] values(INDArray a) {
        return a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    }

    /** Counts every element of {@code values} (any shape). */
    public void add(INDArray values) {
        Objects.requireNonNull(values, "values");
        int nb = counts.length;
        double scale = nb / (hi - lo);
        for (double v : values(values)) {
            if (Double.isNaN(v)) {
                nan++;
            } else if (v < lo) {
                under++;
            } else if (v > hi) {
                over++;
            } else {
                int i = (int) ((v - lo) * scale);
                counts[Math.min(nb - 1, i)]++;
            }
        }
    }

    /** A copy of the counts so far. */
    public Counts counts() {
        return new Counts(lo, hi, counts.clone(), under, over, nan);
    }
}
