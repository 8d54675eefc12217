package dev.stethoscope.probes.data;

import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.List;
import java.util.Objects;

/**
 * A {@link DataSetIterator} that forwards every method to a delegate iterator. Wrappers extend it
 * and override only what they change (e.g. transform the batches in {@link #next()} and
 * {@link #next(int)}, or report {@link #asyncSupported()} {@code false}); everything they do not
 * override behaves exactly as the delegate does.
 *
 * <p>It lives in the probes module, the lowest one, so that wrappers in every module (probes,
 * listeners, plugin, sample) share it without a dependency pointing the wrong way.
 */
public abstract class ForwardingDataSetIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;

    private final DataSetIterator delegate;

    /**
     * Wraps {@code delegate}.
     *
     * @throws NullPointerException if {@code delegate} is null
     */
    protected ForwardingDataSetIterator(DataSetIterator delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /** The wrapped iterator. */
    protected DataSetIterator delegate() {
        return delegate;
    }

    @Override
    public DataSet next(int num) {
        return delegate.next(num);
    }

    @Override
    public DataSet next() {
        return delegate.next();
    }

    @Override
    public boolean hasNext() {
        return delegate.hasNext();
    }

    @Override
    public int inputColumns() {
        return delegate.inputColumns();
    }

    @Override
    public int totalOutcomes() {
        return delegate.totalOutcomes();
    }

    @Override
    public boolean resetSupported() {
        return delegate.resetSupported();
    }

    @Override
    public boolean asyncSupported() {
        return delegate.asyncSupported();
    }

    @Override
    public void reset() {
        delegate.reset();
    }

    @Override
    public int batch() {
        return delegate.batch();
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        delegate.setPreProcessor(preProcessor);
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return delegate.getPreProcessor();
    }

    @Override
    public List<String> getLabels() {
        return delegate.getLabels();
    }

    @Override
    public void remove() {
        delegate.remove();
    }
}
