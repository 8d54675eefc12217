package dev.stethoscope.probes.features;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Objects;

/**
 * The k strongest activations of each tracked unit of one layer, fed batch by batch from the activations of the
 * training forward pass (as DL4J hands them to {@code TrainingListener.onForwardPass}) with the batch's example
 * indices. Zeiler &amp; Fergus' Fig. 2 shows the top 9 per feature map; {@link #DEFAULT_K} is 9.
 *
 * <p>Units: a dense activation {@code [n, units]} has one unit per column; a convolutional activation
 * {@code [n, channels, h, w]} (NCHW) has one unit per channel, whose value on an example is its maximum over all
 * positions, kept with the position {@code (y, x)} where it occurs.
 *
 * <p>Deterministic order and tie-breaking (the result does not depend on how the examples are split into batches
 * or in which order batches arrive):
 * <ul>
 *   <li>entries are ordered by value, descending; equal values by example index, ascending (the smaller index
 *       ranks first);</li>
 *   <li>within one example, equal maxima over positions go to the first position in row-major order (smallest y,
 *       then smallest x);</li>
 *   <li>an example index appears at most once per unit: seen again (e.g. a second epoch before a reset), its
 *       entry keeps the larger value (on equal values the earlier row-major position);</li>
 *   <li>NaN values are skipped.</li>
 * </ul>
 *
 * <p>Memory is O(units x k): per unit k values, example indices and positions; activations are read during
 * {@link #offer} and not kept. Not thread-safe.
 */
public final class StreamingTopK {

    /** Zeiler &amp; Fergus show the top 9 per unit. */
    public static final int DEFAULT_K = 9;

    private final int[] units;
    private final int k;
    private final double[][] vals;
    private final long[][] exs;
    private final int[][] pos;
    private final int[] sizes;
    private long height = -1;
    private long width = -1;
    private int rank = -1;

    /** Tracks every unit {@code 0..numUnits-1} with capacity {@link #DEFAULT_K}. */
    public StreamingTopK(int numUnits) {
        this(range(numUnits), DEFAULT_K);
    }

    /**
     * Tracks the given units.
     *
     * @param units distinct, non-negative unit ids (dense: column; conv: channel)
     * @param k     entries kept per unit, at least 1
     */
    public StreamingTopK(int[] units, int k) {
        Objects.requireNonNull(units, "units");
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        if (Arrays.stream(units).anyMatch(u -> u < 0) || Arrays.stream(units).distinct().count() != units.length) {
            throw new IllegalArgumentException("units must be distinct and non-negative, got " + Arrays.toString(units));
        }
        this.units = units.clone();
        this.k = k;
        this.vals = new double[units.length][k];
        this.exs = new long[units.length][k];
        this.pos = new int[units.length][k];
        this.sizes = new int[units.length];
    }

    /** Unit ids {@code 0..n-1}. */
    public static int[] range(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("number of units must be non-negative, got " + n);
        }
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    /** The capacity per unit. */
    public int k() {
        return k;
    }

    /** The tracked unit ids. */
    public int[] units() {
        return units.clone();
    }

    /**
     * Offers one batch.
     *
     * @param activations     {@code [n, units]} or {@code [n, channels, h, w]} (NCHW), any floating type
     * @param exampleIndices  the data set index of each of the n rows
     * @throws IllegalArgumentException when the shape is not rank 2 or 4, does not contain a tracked unit,
     *                                  changes rank or spatial size between batches, or the index count differs
     */
    public void offer(INDArray activations, long[] exampleIndices) {
        Objects.requireNonNull(activations, "activations");
        Objects.requireNonNull(exampleIndices, "exampleIndices");
        int r = activations.rank();
        if (r != 2 && r != 4) {
            throw new IllegalArgumentException("activations must be [n, units] or [n, channels, h, w], got shape "
                    + Arrays.toString(activations.shape()));
        }
        long n = activations.size(0);
        if (n != exampleIndices.length) {
            throw new IllegalArgumentException(n + " activation rows but " + exampleIndices.length + " example indices");
        }
        long nu = activations.size(1);
        for (int u : units) {
            if (u >= nu) {
                throw new IllegalArgumentException("unit " + u + " not in an activation with " + nu + " units (shape "
                        + Arrays.toString(activations.shape()) + ")");
            }
        }
        if (rank == -1) {
            rank = r;
            height = r == 4 ? activations.size(2) : 1;
            width = r == 4 ? activations.size(3) : 1;
        } else if (rank != r || (r == 4 && (activations.size(2) != height || activations.size(3) != width))) {
            throw new IllegalArgumentException("activation shape changed: now " + Arrays.toString(activations.shape())
                    + ", before rank " + rank + " with spatial size " + height + "x" + width);
        }
        if (n == 0) {
            return;
        }
        double[] v;
        long[] p;
        if (r == 2) {
            v = activations.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            p = null;
        } else {
            INDArray flat = activations.reshape('c', n, nu, height * width); // a view when already c-ordered
            v = flat.max(2).castTo(DataType.DOUBLE).dup('c').data().asDouble();
            p = Nd4j.argMax(flat, 2).castTo(DataType.LONG).dup('c').data().asLong();
        }
        for (int ui = 0; ui < units.length; ui++) {
            int u = units[ui];
            for (int i = 0; i < n; i++) {
                int idx = (int) (i * nu + u);
                double val = v[idx];
                if (!Double.isNaN(val)) {
                    insert(ui, val, exampleIndices[i], p == null ? 0 : (int) p[idx]);
                }
            }
        }
    }

    /** True when (v1, e1) ranks before (v2, e2). */
    private static boolean before(double v1, long e1, double v2, long e2) {
        return v1 > v2 || (v1 == v2 && e1 < e2);
    }

    private void insert(int ui, double v, long e, int p) {
        double[] vs = vals[ui];
        long[] es = exs[ui];
        int[] ps = pos[ui];
        int size = sizes[ui];
        if (size == k && v < vs[k - 1]) {
            return; // cannot enter, and cannot improve an entry already held (those are >= vs[k-1] > v)
        }
        for (int j = 0; j < size; j++) {
            if (es[j] == e) {
                if (v > vs[j] || (v == vs[j] && p < ps[j])) {
                    vs[j] = v;
                    ps[j] = p;
                    while (j > 0 && before(vs[j], es[j], vs[j - 1], es[j - 1])) {
                        swap(vs, es, ps, j, j - 1);
                        j--;
                    }
                }
                return;
            }
        }
        int j;
        if (size < k) {
            j = size;
            sizes[ui] = size + 1;
        } else if (before(v, e, vs[k - 1], es[k - 1])) {
            j = k - 1;
        } else {
            return;
        }
        vs[j] = v;
        es[j] = e;
        ps[j] = p;
        while (j > 0 && before(vs[j], es[j], vs[j - 1], es[j - 1])) {
            swap(vs, es, ps, j, j - 1);
            j--;
        }
    }

    private static void swap(double[] vs, long[] es, int[] ps, int a, int b) {
        double tv = vs[a];
        vs[a] = vs[b];
        vs[b] = tv;
        long te = es[a];
        es[a] = es[b];
        es[b] = te;
        int tp = ps[a];
        ps[a] = ps[b];
        ps[b] = tp;
    }

    /** Forgets everything seen (e.g. at the start of a scheduled epoch); the spatial size is learnt again. */
    public void reset() {
        Arrays.fill(sizes, 0);
        rank = -1;
        height = -1;
        width = -1;
    }

    /** An immutable copy of the current top-k. */
    public TopKSnapshot snapshot() {
        int nu = units.length;
        double[][] v = new double[nu][];
        long[][] e = new long[nu][];
        int[][] y = new int[nu][];
        int[][] x = new int[nu][];
        int w = (int) Math.max(1, width);
        for (int i = 0; i < nu; i++) {
            int s = sizes[i];
            v[i] = Arrays.copyOf(vals[i], s);
            e[i] = Arrays.copyOf(exs[i], s);
            y[i] = new int[s];
            x[i] = new int[s];
            for (int j = 0; j < s; j++) {
                y[i][j] = pos[i][j] / w;
                x[i][j] = pos[i][j] % w;
            }
        }
        return new TopKSnapshot(units.clone(), k, v, e, y, x);
    }
}
