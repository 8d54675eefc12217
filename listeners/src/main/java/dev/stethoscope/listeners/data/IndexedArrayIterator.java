package dev.stethoscope.listeners.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * A {@link DataSetIterator} over in-memory features and labels in which every
 * example keeps a stable index that travels with it: each returned
 * {@link DataSet} carries the indices of its rows as example metadata
 * ({@link ExampleIndex#attach}), so monitors can report per-example results.
 *
 * <p>Indices are {@code 0..n-1} by default (row {@code i} of the arrays is
 * example {@code i}) or given explicitly, e.g. the positions of a subset in the
 * original file. With {@link Builder#shuffle(long)} each pass over the data
 * visits the examples in a fresh random order that depends only on the seed and
 * the pass number ({@code k}-th pass after construction: 0, 1, 2, ...), so two
 * runs with the same seed see the same batches. A {@link #reset()} before any
 * batch of the current pass was taken does not start a new pass.
 *
 * <p>{@link #asyncSupported()} is {@code false}: DL4J then does not wrap the
 * iterator in a prefetching thread, so the batch most recently returned is the
 * one being trained on.
 *
 * <p>Batches are copies (the preprocessor may modify them in place). The
 * arrays given are not copied and must not be modified while iterating.
 */
public class IndexedArrayIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;

    private final INDArray features;
    private final INDArray labels;
    private final INDArray featuresFlat;
    private final INDArray labelsFlat;
    private final long[] indices;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final List<String> labelNames;
    private DataSetPreProcessor preProcessor;

    private final int n;
    private int[] order;
    private int cursor;
    private int pass;

    /**
     * An iterator without shuffling, indices {@code 0..n-1}.
     *
     * @param features  {@code [n, ...]} features
     * @param labels    {@code [n, ...]} labels (e.g. one-hot {@code [n, classes]})
     * @param batchSize examples per batch (the last batch may be smaller)
     */
    public IndexedArrayIterator(INDArray features, INDArray labels, int batchSize) {
        this(builder(features, labels).batchSize(batchSize));
    }

    private IndexedArrayIterator(Builder b) {
        this.features = b.features;
        this.labels = b.labels;
        this.n = (int) features.size(0);
        this.featuresFlat = features.reshape('c', n, features.length() / Math.max(1, n));
        this.labelsFlat = labels.reshape('c', n, labels.length() / Math.max(1, n));
        this.indices = b.indices != null ? b.indices.clone() : sequence(n);
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.seed = b.seed;
        int outcomes = labels.rank() >= 2 ? (int) labels.size(1) : 1;
        if (b.labelNames != null) {
            this.labelNames = List.copyOf(b.labelNames);
        } else {
            List<String> names = new ArrayList<>(outcomes);
            for (int i = 0; i < outcomes; i++) {
                names.add(Integer.toString(i));
            }
            this.labelNames = Collections.unmodifiableList(names);
        }
        this.preProcessor = b.preProcessor;
        this.pass = 0;
        this.order = orderFor(0);
    }

    /**
     * Starts a builder.
     *
     * @param features {@code [n, ...]} features (rows are examples)
     * @param labels   {@code [n, ...]} labels
     */
    public static Builder builder(INDArray features, INDArray labels) {
        return new Builder(features, labels);
    }

    /** Builder for {@link IndexedArrayIterator}; {@link #build()} validates. */
    public static final class Builder {
        private final INDArray features;
        private final INDArray labels;
        private long[] indices;
        private int batchSize = 32;
        private boolean shuffle;
        private long seed;
        private List<String> labelNames;
        private DataSetPreProcessor preProcessor;

        private Builder(INDArray features, INDArray labels) {
            this.features = features;
            this.labels = labels;
        }

        /** Examples per batch (default 32). */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Stable index of each row (default {@code 0..n-1}); copied. */
        public Builder indices(long[] indices) {
            this.indices = indices;
            return this;
        }

        /** Shuffles the order at every pass, deterministically from {@code seed}. */
        public Builder shuffle(long seed) {
            this.shuffle = true;
            this.seed = seed;
            return this;
        }

        /** No shuffling (the default): rows in array order every pass. */
        public Builder noShuffle() {
            this.shuffle = false;
            return this;
        }

        /** Class names reported by {@link IndexedArrayIterator#getLabels()} (default "0", "1", ...). */
        public Builder labelNames(List<String> labelNames) {
            this.labelNames = labelNames;
            return this;
        }

        /** Preprocessor applied to every returned batch and probe subset. */
        public Builder preProcessor(DataSetPreProcessor preProcessor) {
            this.preProcessor = preProcessor;
            return this;
        }

        /**
         * Builds the iterator.
         *
         * @throws IllegalArgumentException if the arrays are missing or disagree in row count, the indices
         *                                  have the wrong length or repeat, or the batch size is not positive
         */
        public IndexedArrayIterator build() {
            if (features == null || labels == null) {
                throw new IllegalArgumentException("features and labels are required (got "
                        + (features == null ? "no features" : "features") + ", "
                        + (labels == null ? "no labels" : "labels") + ")");
            }
            if (features.rank() < 1 || labels.rank() < 1 || features.size(0) < 1) {
                throw new IllegalArgumentException("features must hold at least one example, shape "
                        + Arrays.toString(features.shape()));
            }
            if (features.size(0) != labels.size(0)) {
                throw new IllegalArgumentException("features have " + features.size(0) + " rows but labels have "
                        + labels.size(0));
            }
            if (features.size(0) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("too many examples: " + features.size(0));
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
            if (indices != null) {
                if (indices.length != features.size(0)) {
                    throw new IllegalArgumentException(indices.length + " indices for " + features.size(0)
                            + " examples");
                }
                long[] sorted = indices.clone();
                Arrays.sort(sorted);
                for (int i = 1; i < sorted.length; i++) {
                    if (sorted[i] == sorted[i - 1]) {
                        throw new IllegalArgumentException("example index " + sorted[i] + " occurs more than once");
                    }
                }
            }
            int outcomes = labels.rank() >= 2 ? (int) labels.size(1) : 1;
            if (labelNames != null && labelNames.size() != outcomes) {
                throw new IllegalArgumentException(labelNames.size() + " label names for " + outcomes
                        + " outcomes (labels shape " + Arrays.toString(labels.shape()) + ")");
            }
            return new IndexedArrayIterator(this);
        }
    }

    private static long[] sequence(int n) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }

    private int[] orderFor(int passNumber) {
        int[] o = new int[n];
        for (int i = 0; i < n; i++) {
            o[i] = i;
        }
        if (shuffle) {
            Random rng = new Random(seed * 0x9E3779B97F4A7C15L + passNumber);
            for (int i = n - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int t = o[i];
                o[i] = o[j];
                o[j] = t;
            }
        }
        return o;
    }

    /** Builds a copy of the given rows (positions in the arrays) with indices attached and preprocessing. */
    private DataSet rows(int[] rows) {
        INDArray f = Nd4j.pullRows(featuresFlat, 1, rows);
        INDArray l = Nd4j.pullRows(labelsFlat, 1, rows);
        if (features.rank() != 2) {
            long[] shape = features.shape().clone();
            shape[0] = rows.length;
            f = f.reshape('c', shape);
        }
        if (labels.rank() != 2) {
            long[] shape = labels.shape().clone();
            shape[0] = rows.length;
            l = l.reshape('c', shape);
        }
        DataSet ds = new DataSet(f, l);
        long[] idx = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            idx[i] = indices[rows[i]];
        }
        ExampleIndex.attach(ds, idx);
        if (preProcessor != null) {
            preProcessor.preProcess(ds);
        }
        return ds;
    }

    @Override
    public boolean hasNext() {
        return cursor < n;
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        if (cursor >= n) {
            throw new NoSuchElementException("no more examples in this pass (" + n + " examples); call reset()");
        }
        if (num < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + num);
        }
        int end = Math.min(n, cursor + num);
        int[] rows = Arrays.copyOfRange(order, cursor, end);
        cursor = end;
        return rows(rows);
    }

    /**
     * Starts the next pass over the data (a new shuffled order when shuffling).
     * Has no effect on the order if no batch of the current pass was taken yet.
     */
    @Override
    public void reset() {
        if (cursor > 0) {
            pass++;
            order = orderFor(pass);
        }
        cursor = 0;
    }

    /** The number of the current pass (0 for the first). */
    public int pass() {
        return pass;
    }

    /** The stable indices of the examples in the order of the current pass (a copy). */
    public long[] passOrder() {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = indices[order[i]];
        }
        return out;
    }

    /** Number of examples. */
    public int totalExamples() {
        return n;
    }

    /** The stable index of each row of the arrays (a copy). */
    public long[] indices() {
        return indices.clone();
    }

    /** The features given (not a copy). */
    public INDArray features() {
        return features;
    }

    /** The labels given (not a copy). */
    public INDArray labels() {
        return labels;
    }

    /** Whether each pass is shuffled. */
    public boolean isShuffled() {
        return shuffle;
    }

    /**
     * The first {@code k} rows (array order, independent of shuffling) as one
     * data set with their indices attached and the preprocessor applied: a
     * fixed probe set.
     *
     * @throws IllegalArgumentException if {@code k} is not in {@code 1..totalExamples()}
     */
    public DataSet firstExamples(int k) {
        checkSubsetSize(k);
        int[] rows = new int[k];
        for (int i = 0; i < k; i++) {
            rows[i] = i;
        }
        return rows(rows);
    }

    /**
     * {@code k} rows chosen uniformly without replacement with {@code seed},
     * in array order, as one data set with their indices attached and the
     * preprocessor applied: a fixed random probe set. Does not affect the
     * iteration order.
     *
     * @throws IllegalArgumentException if {@code k} is not in {@code 1..totalExamples()}
     */
    public DataSet randomExamples(int k, long seed) {
        checkSubsetSize(k);
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        Random rng = new Random(seed);
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] rows = Arrays.copyOf(all, k);
        Arrays.sort(rows);
        return rows(rows);
    }

    private void checkSubsetSize(int k) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("subset size must be in 1.." + n + ", got " + k);
        }
    }

    /** Number of input columns: features per example (all dimensions but the first, multiplied). */
    @Override
    public int inputColumns() {
        return (int) featuresFlat.size(1);
    }

    /** Number of outcomes: {@code labels.size(1)}. */
    @Override
    public int totalOutcomes() {
        return labels.rank() >= 2 ? (int) labels.size(1) : 1;
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    /** Always {@code false}, so DL4J trains on exactly the batch this iterator last returned. */
    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return labelNames;
    }

    /** Not supported. */
    @Override
    public void remove() {
        throw new UnsupportedOperationException("remove");
    }

    @Override
    public String toString() {
        return "IndexedArrayIterator[" + n + " examples, batch " + batchSize
                + (shuffle ? ", shuffled with seed " + seed : "") + ", pass " + pass + "]";
    }
}
