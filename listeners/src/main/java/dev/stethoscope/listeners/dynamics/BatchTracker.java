package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.Objects;

/**
 * Knows which examples the batch being trained holds: DL4J's listener callbacks do not receive
 * the DataSet, so the iterator returned by {@link #track} (or a manual {@link #set}) declares it,
 * and the training forward pass {@link #take}s it. A declared batch is used at most once; a
 * {@code reset()} of the tracking iterator forgets it.
 *
 * <p>Used on the training thread only. Serializable; the declared batch is not serialised.
 */
final class BatchTracker implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private transient DataSet current;

    /** Wraps {@code iterator} so that every batch it hands out is declared here. */
    DataSetIterator track(DataSetIterator iterator) {
        return new TrackingIterator(Objects.requireNonNull(iterator, "iterator"), this);
    }

    /**
     * Declares the DataSet about to be trained.
     *
     * @throws IllegalArgumentException if it carries no example indices
     */
    void set(DataSet ds) {
        if (!ExampleIndex.hasIndices(ds)) {
            throw new IllegalArgumentException("TrainingDynamicsListener needs stable example indices on every "
                    + "training DataSet, and this one has none. " + ExampleIndex.HOW_TO);
        }
        current = ds;
    }

    /** Whether a declared batch waits for its forward pass. */
    boolean hasBatch() {
        return current != null;
    }

    /** Forgets the declared batch, if any. */
    void clear() {
        current = null;
    }

    /**
     * The declared batch, checked against the forward pass's row count, and forgotten (each batch
     * is trained once).
     *
     * @param rows the number of rows of the forward pass
     * @throws IllegalStateException if no batch was declared, or its size differs from {@code rows}
     */
    DataSet take(long rows) {
        DataSet batch = current;
        if (batch == null) {
            throw new IllegalStateException("TrainingDynamicsListener saw a training forward pass but does not know "
                    + "which examples are in the batch: train with model.fit(listener.track(iterator), epochs), "
                    + "or call listener.setBatch(ds) before each model.fit(ds).");
        }
        if (rows != batch.numExamples()) {
            throw new IllegalStateException("The tracked DataSet has " + batch.numExamples()
                    + " examples but the forward pass has " + rows + " rows: train on the iterator returned by "
                    + "listener.track(...), not on the original one.");
        }
        current = null;
        return batch;
    }

    /** The iterator wrapper of {@link #track}: declares each batch it hands out; never asynchronous. */
    private static final class TrackingIterator extends ForwardingDataSetIterator {
        private static final long serialVersionUID = 1L;
        private final BatchTracker tracker;

        TrackingIterator(DataSetIterator delegate, BatchTracker tracker) {
            super(delegate);
            this.tracker = tracker;
        }

        private org.nd4j.linalg.dataset.DataSet remember(org.nd4j.linalg.dataset.DataSet ds) {
            tracker.set(ds);
            return ds;
        }

        @Override
        public org.nd4j.linalg.dataset.DataSet next(int num) {
            return remember(delegate().next(num));
        }

        @Override
        public org.nd4j.linalg.dataset.DataSet next() {
            return remember(delegate().next());
        }

        /** Always false: DL4J must not prefetch batches ahead of the one being trained. */
        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            tracker.clear();
            delegate().reset();
        }
    }
}
