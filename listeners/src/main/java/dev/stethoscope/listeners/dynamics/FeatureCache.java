package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.probes.dynamics.BulkRead;
import dev.stethoscope.probes.dynamics.RankingMetrics;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongFunction;

/**
 * A bounded cache of the raw features (quantised to bytes) of candidate suspects, so that a
 * record can carry its suspects' features without a copy of the whole data set.
 *
 * <p>Admission: until the first {@link #admitFrom} (the first epoch) an example is admitted when
 * the network gets it wrong ({@link TrainingDynamics#lastCorrect} false); afterwards when its
 * combined score (at the scale of that epoch end) reaches the score of the rank
 * {@code capacity/2} example at that epoch end. When more than {@code capacity} entries are
 * cached, the lowest-scoring are evicted down to {@code capacity/2}. A lookup that misses asks
 * the optional example source and caches the answer.
 *
 * <p>Not thread-safe: used by one thread at a time (the listener's background worker, or the
 * training thread without one).
 *
 * <p>Serializable with its entries; the example source is not serialised (a lambda over the
 * caller's data set): a deserialised cache only has what it cached.
 */
final class FeatureCache implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    /** One example's features quantised to bytes over {@code [lo, hi]}. */
    record Entry(byte[] data, float lo, float hi) implements java.io.Serializable {
    }

    private final TrainingDynamics dynamics;
    private final int capacity;
    private final transient LongFunction<INDArray> exampleSource;
    private final Map<Integer, Entry> entries = new HashMap<>();
    private long[] shape;
    private double admitThreshold = Double.NaN;
    private double admitScale = 1;

    /**
     * @param dynamics      the scores admission and eviction read
     * @param capacity      the bound (positive)
     * @param exampleSource optional lookup of an example's features by index (null for none)
     * @param shape         one example's feature shape, or null to take it from the first batch
     */
    FeatureCache(TrainingDynamics dynamics, int capacity, LongFunction<INDArray> exampleSource, long[] shape) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("feature cache capacity must be positive, got " + capacity);
        }
        this.dynamics = Objects.requireNonNull(dynamics, "dynamics");
        this.capacity = capacity;
        this.exampleSource = exampleSource;
        this.shape = shape;
    }

    /** The bound on the number of entries after each {@link #offer}. */
    int capacity() {
        return capacity;
    }

    /** Number of examples cached now. */
    int size() {
        return entries.size();
    }

    /** One example's feature shape (null until known). */
    long[] shape() {
        return shape;
    }

    /** Sets the shape from a batch's features {@code [batch, ...]} unless known already. */
    void shapeFrom(INDArray batchFeatures) {
        if (shape == null) {
            long[] fs = batchFeatures.shape();
            shape = Arrays.copyOfRange(fs, 1, fs.length);
        }
    }

    /** Values per example: the product of {@link #shape()} (1 for an empty shape). */
    int valuesPerExample() {
        return (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    }

    /**
     * Caches the features of the admitted examples of one batch (after {@link TrainingDynamics}
     * observed it), then evicts if over capacity.
     *
     * @param idx      example index of each row
     * @param features the batch's features, {@code [rows, ...]}, read in bulk only if some row is admitted
     * @throws IllegalArgumentException if the features do not hold {@link #shape()} values per row
     */
    void offer(long[] idx, INDArray features) {
        offer(idx, features, null);
    }

    /**
     * As {@link #offer(long[], INDArray)} with the batch's features already read into a Java array,
     * row-major {@code [rows x valuesPerExample]} (the training thread's hand-over copy).
     */
    void offer(long[] idx, float[] rows) {
        offer(idx, null, Objects.requireNonNull(rows, "rows"));
    }

    private void offer(long[] idx, INDArray features, float[] read) {
        int d = valuesPerExample();
        float[] rows = read;
        for (int r = 0; r < idx.length; r++) {
            int i = (int) idx[r];
            boolean admit = Double.isNaN(admitThreshold)
                    ? !dynamics.lastCorrect(i)
                    : dynamics.combinedScore(i, admitScale) >= admitThreshold;
            if (!admit) {
                continue;
            }
            if (rows == null) {
                // one bulk copy (INDArray.toFloatMatrix reads element by element: ~100x slower)
                rows = BulkRead.floats(features);
            }
            if (rows.length != (long) idx.length * d) {
                throw new IllegalArgumentException("Feature shape " + Arrays.toString(shape)
                        + " does not match the batch features (" + rows.length / idx.length + " values per example)");
            }
            entries.put(i, quantise(Arrays.copyOfRange(rows, r * d, (r + 1) * d)));
        }
        if (entries.size() > capacity) {
            evict(capacity / 2);
        }
    }

    private void evict(int keep) {
        List<Integer> keys = new ArrayList<>(entries.keySet());
        keys.sort((a, b) -> Double.compare(dynamics.combinedScore(b, admitScale),
                dynamics.combinedScore(a, admitScale)));
        for (int j = keep; j < keys.size(); j++) {
            entries.remove(keys.get(j));
        }
    }

    /**
     * Sets the admission rule from an epoch end's combined scores: admit from now on what
     * reaches the rank {@code capacity/2} score, at {@code scale}.
     */
    void admitFrom(double scale, double[] combined) {
        admitScale = scale;
        admitThreshold = RankingMetrics.kthLargest(combined, capacity / 2);
    }

    /** The admission threshold (NaN before the first {@link #admitFrom}: admit the misclassified). */
    double admitThreshold() {
        return admitThreshold;
    }

    /** Whether example {@code i} is cached (no lookup in the example source). */
    boolean contains(int i) {
        return entries.containsKey(i);
    }

    /**
     * Example {@code i}'s cached features, else those of the example source (then cached), else null.
     */
    Entry get(int i) {
        Entry c = entries.get(i);
        if (c == null && exampleSource != null) {
            INDArray x = exampleSource.apply(i);
            if (x != null) {
                // new long[]{...}: reshape('c', n) would resolve to reshape(long rows, long cols) = [99, n]
                c = quantise(x.castTo(DataType.FLOAT).reshape('c', new long[]{x.length()}).toFloatVector());
                entries.put(i, c);
            }
        }
        return c;
    }

    /**
     * Quantises {@code v} to bytes over its range {@code [lo, hi]}, or over {@code [0, 1]} when
     * every value lies in it (pixels), so that {@code lo + q/255 (hi - lo)} restores a value to
     * within half a step.
     */
    static Entry quantise(float[] v) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        if (lo >= 0 && hi <= 1) {
            lo = 0;
            hi = 1;
        }
        float span = hi - lo;
        byte[] out = new byte[v.length];
        for (int j = 0; j < v.length; j++) {
            int q = span > 0 ? Math.round((v[j] - lo) / span * 255f) : 0;
            out[j] = (byte) Math.max(0, Math.min(255, q));
        }
        return new Entry(out, lo, hi);
    }
}
