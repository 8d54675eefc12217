package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.data.MappingDataSetIterator;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.Objects;

/**
 * Remembers the DataSet about to be trained when the user declares it: DL4J's listener callbacks do
 * not receive the DataSet, so the iterator returned by {@link #track} (or a manual {@link #set})
 * declares it, and the training forward pass {@link #take}s it, to read its example indices or
 * metadata ({@link dev.stethoscope.listeners.data.ExampleIdentity}). Optional: without a declared
 * batch the identity hashes the batch's content. A declared batch is used at most once; a
 * {@code reset()} of the tracking iterator forgets it. Never throws on a batch.
 *
 * <p>Used on the training thread only. Serializable; the declared batch is not serialised.
 */
final class BatchTracker implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private transient DataSet current;

    /**
     * Wraps {@code iterator} so that every batch it hands out is declared here; the wrapper is never
     * asynchronous and its {@code reset()} forgets the declared batch ({@link MappingDataSetIterator}).
     */
    DataSetIterator track(DataSetIterator iterator) {
        return new MappingDataSetIterator(Objects.requireNonNull(iterator, "iterator"), this::declare, this::clear);
    }

    private org.nd4j.linalg.dataset.DataSet declare(org.nd4j.linalg.dataset.DataSet ds) {
        set(ds);
        return ds;
    }

    /**
     * Wraps {@code iterator} (of a graph with several inputs) so that every batch it hands out is declared here, as
     * a DataSet of the joint form of its inputs, its first labels array and its example metadata.
     */
    org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator track(
            org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator iterator) {
        return new TrackingMultiIterator(Objects.requireNonNull(iterator, "iterator"), this);
    }

    /** Declares the MultiDataSet about to be trained (as {@link #track(org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator)}). */
    void set(org.nd4j.linalg.dataset.api.MultiDataSet m) {
        current = joint(m);
    }

    /** A MultiDataSet as one DataSet: the joint form of its features, its first labels, its example metadata. */
    static org.nd4j.linalg.dataset.DataSet joint(org.nd4j.linalg.dataset.api.MultiDataSet m) {
        org.nd4j.linalg.dataset.DataSet d;
        try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                     org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            d = new org.nd4j.linalg.dataset.DataSet(dev.stethoscope.probes.model.GraphInputs.joint(m.getFeatures()),
                    m.getLabels(0));
        }
        d.setExampleMetaData(m.getExampleMetaData());
        return d;
    }

    /** Declares the DataSet about to be trained (with or without example indices or metadata). */
    void set(DataSet ds) {
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
     * The declared batch if its size is that of the forward pass, else null; forgotten either way
     * (each batch is trained once).
     *
     * @param rows the number of rows of the forward pass
     */
    DataSet take(long rows) {
        DataSet batch = current;
        current = null;
        return batch != null && rows == batch.numExamples() ? batch : null;
    }

    /** The multi-input iterator wrapper: declares each batch it hands out (joint form); never asynchronous. */
    private static final class TrackingMultiIterator implements org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator {
        private static final long serialVersionUID = 1L;
        private final org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator delegate;
        private final BatchTracker tracker;

        TrackingMultiIterator(org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator delegate, BatchTracker tracker) {
            this.delegate = delegate;
            this.tracker = tracker;
        }

        private org.nd4j.linalg.dataset.api.MultiDataSet remember(org.nd4j.linalg.dataset.api.MultiDataSet m) {
            tracker.set(m);
            return m;
        }

        @Override
        public org.nd4j.linalg.dataset.api.MultiDataSet next(int num) {
            return remember(delegate.next(num));
        }

        @Override
        public org.nd4j.linalg.dataset.api.MultiDataSet next() {
            return remember(delegate.next());
        }

        @Override
        public boolean hasNext() {
            return delegate.hasNext();
        }

        @Override
        public void setPreProcessor(org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor p) {
            delegate.setPreProcessor(p);
        }

        @Override
        public org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor getPreProcessor() {
            return delegate.getPreProcessor();
        }

        @Override
        public boolean resetSupported() {
            return delegate.resetSupported();
        }

        /** Always false: DL4J must not prefetch batches ahead of the one being trained. */
        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            tracker.clear();
            delegate.reset();
        }
    }
}
