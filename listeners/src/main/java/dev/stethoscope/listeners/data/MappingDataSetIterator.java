package dev.stethoscope.listeners.data;

import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.io.Serial;
import java.io.Serializable;
import java.util.Objects;

/**
 * A training iterator wrapper that hands out each batch of its delegate through a function, for the
 * monitors' {@code track(iterator)}: the function "declares" the batch (remembers it for the forward
 * pass that trains it) and returns it. Never asynchronous ({@link #asyncSupported()} is false), so
 * that DL4J does not prefetch batches ahead of the one being trained and the declared batch is the one
 * trained next. {@link #reset()} runs an optional action (e.g. forget the declared batch) and then
 * resets the delegate. Everything else is the delegate's ({@link ForwardingDataSetIterator}).
 */
public final class MappingDataSetIterator extends ForwardingDataSetIterator {
    @Serial
    private static final long serialVersionUID = 1L;

    /** What is done with each batch handed out; serialisable, as iterators are. */
    @FunctionalInterface
    public interface BatchMapping extends Serializable {
        /** @return the batch to hand out (usually {@code batch} itself, after noting it) */
        DataSet apply(DataSet batch);
    }

    /** An action before the delegate is reset; serialisable, as iterators are. */
    @FunctionalInterface
    public interface ResetAction extends Serializable {
        /** Runs the action. */
        void run();
    }

    private final BatchMapping mapping;
    private final ResetAction onReset;

    /**
     * @param delegate the training iterator
     * @param mapping  applied to every batch {@link #next()} and {@link #next(int)} hand out
     * @param onReset  run by {@link #reset()} before the delegate is reset; null for nothing
     * @throws NullPointerException if {@code delegate} or {@code mapping} is null
     */
    public MappingDataSetIterator(DataSetIterator delegate, BatchMapping mapping, ResetAction onReset) {
        super(delegate);
        this.mapping = Objects.requireNonNull(mapping, "mapping");
        this.onReset = onReset;
    }

    @Override
    public DataSet next() {
        return mapping.apply(delegate().next());
    }

    @Override
    public DataSet next(int num) {
        return mapping.apply(delegate().next(num));
    }

    /** Always false: DL4J must not prefetch batches ahead of the one being trained. */
    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        if (onReset != null) {
            onReset.run();
        }
        delegate().reset();
    }
}
