package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * A {@link DataSetIterator} that applies a {@link Randomization} to every batch
 * of an underlying iterator.
 *
 * <p>The randomness of each example is derived from the transform's seed and the
 * example's stable index, read from the batch's example metadata
 * ({@link RecordMetaDataIndex#getIndex()}, or a {@link Number}), so the same
 * example is corrupted the same way in every epoch, whatever the order of the
 * batches. The metadata, masks and the underlying pre-processing are kept; this
 * iterator's own pre-processor, if set, runs after the transform.
 *
 * <p>If batches carry no indices the iterator fails with a clear message, unless
 * it was created with {@code positionalIndicesIfMissing = true}: then the
 * position of the example since the last {@link #reset()} is used, which is
 * stable across epochs only if the underlying iterator does not shuffle.
 */
public class RandomizedIterator extends ForwardingDataSetIterator {
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(RandomizedIterator.class);

    private final Randomization transform;
    private final boolean positionalIndicesIfMissing;
    private DataSetPreProcessor preProcessor;
    private long position;
    private boolean warned;

    /** Wraps {@code base}; batches must carry example indices. */
    public RandomizedIterator(DataSetIterator base, Randomization transform) {
        this(base, transform, false);
    }

    /**
     * Wraps {@code base}.
     *
     * @param positionalIndicesIfMissing use the position since reset for batches without indices
     */
    public RandomizedIterator(DataSetIterator base, Randomization transform, boolean positionalIndicesIfMissing) {
        super(Objects.requireNonNull(base, "base"));
        this.transform = Objects.requireNonNull(transform, "transform");
        this.positionalIndicesIfMissing = positionalIndicesIfMissing;
    }

    /** The transform applied. */
    public Randomization transform() {
        return transform;
    }

    /** The wrapped iterator. */
    public DataSetIterator base() {
        return delegate();
    }

    @Override
    public DataSet next(int num) {
        return transformed(delegate().next(num));
    }

    @Override
    public DataSet next() {
        return transformed(delegate().next());
    }

    private DataSet transformed(DataSet ds) {
        int n = ds.numExamples();
        long[] idx = indices(ds);
        position += n;
        DataSet out = transform.apply(ds, idx);
        out.setFeaturesMaskArray(ds.getFeaturesMaskArray());
        out.setLabelsMaskArray(ds.getLabelsMaskArray());
        out.setExampleMetaData(ds.getExampleMetaData());
        out.setLabelNames(ds.getLabelNamesList());
        if (preProcessor != null) {
            preProcessor.preProcess(out);
        }
        return out;
    }

    private long[] indices(DataSet ds) {
        int n = ds.numExamples();
        List<? extends Serializable> meta = ds.getExampleMetaData();
        if (meta != null && meta.size() == n) {
            long[] out = new long[n];
            boolean ok = true;
            for (int i = 0; i < n && ok; i++) {
                Serializable s = meta.get(i);
                if (s instanceof RecordMetaDataIndex r) {
                    out[i] = r.getIndex();
                } else if (s instanceof Number num) {
                    out[i] = num.longValue();
                } else {
                    ok = false;
                }
            }
            if (ok) {
                return out;
            }
        }
        if (!positionalIndicesIfMissing) {
            throw new IllegalStateException("Randomization " + transform.describe() + " needs stable example indices: "
                    + "this batch carries no RecordMetaDataIndex per example in DataSet.getExampleMetaData(). "
                    + "Attach them (e.g. with Stethoscope's IndexedArrayIterator or ExampleIndex.attach), or create "
                    + "the RandomizedIterator with positionalIndicesIfMissing=true if the underlying order is fixed.");
        }
        if (!warned) {
            warned = true;
            log.warn("Randomization {}: batches carry no example indices; using positions since reset "
                    + "(stable across epochs only if the underlying iterator does not shuffle)", transform.describe());
        }
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = position + i;
        }
        return out;
    }

    @Override
    public void reset() {
        delegate().reset();
        position = 0;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }
}
