package dev.stethoscope.listeners.data;

import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.nd4j.linalg.dataset.api.DataSet;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Stable example indices carried by DL4J data sets.
 *
 * <p>Monitors that report per-example results (training dynamics, suspects)
 * need to know which training example each row of a batch is. Stethoscope reads
 * that from the batch's example metadata ({@link DataSet#getExampleMetaData()}):
 * one {@link RecordMetaDataIndex} per row, whose {@code getIndex()} is the
 * example's stable index (for IDX files: its position in the file). Any
 * metadata object implementing {@link Number} is accepted too.
 */
public final class ExampleIndex {
    /** How to fix a data set without indices; part of every error message. */
    public static final String HOW_TO = "Attach one org.datavec.api.records.metadata.RecordMetaDataIndex per example "
            + "with DataSet.setExampleMetaData(...) (its index is the example's stable position in your data set), "
            + "or build the iterator with dev.stethoscope.listeners.data.IndexedArrayIterator, which does it for you.";

    private ExampleIndex() {
    }

    /** Whether every row of {@code ds} carries an index. */
    public static boolean hasIndices(DataSet ds) {
        List<? extends Serializable> meta = ds.getExampleMetaData();
        if (meta == null || meta.size() != ds.numExamples()) {
            return false;
        }
        for (Serializable s : meta) {
            if (!(s instanceof RecordMetaDataIndex) && !(s instanceof Number)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The stable indices of the rows of {@code ds}.
     *
     * @throws IllegalArgumentException if the data set does not carry them, with {@link #HOW_TO}
     */
    public static long[] indicesOf(DataSet ds) {
        List<? extends Serializable> meta = ds.getExampleMetaData();
        if (meta == null || meta.size() != ds.numExamples()) {
            throw new IllegalArgumentException("This DataSet carries no example indices ("
                    + (meta == null ? "no example metadata" : meta.size() + " metadata entries for "
                    + ds.numExamples() + " examples") + "). " + HOW_TO);
        }
        long[] out = new long[meta.size()];
        for (int i = 0; i < out.length; i++) {
            Serializable s = meta.get(i);
            if (s instanceof RecordMetaDataIndex r) {
                out[i] = r.getIndex();
            } else if (s instanceof Number n) {
                out[i] = n.longValue();
            } else {
                throw new IllegalArgumentException("Example metadata of row " + i + " is a "
                        + (s == null ? "null" : s.getClass().getName()) + ", not an index. " + HOW_TO);
            }
        }
        return out;
    }

    /** Attaches {@code indices} to {@code ds} as {@link RecordMetaDataIndex} metadata. */
    public static void attach(DataSet ds, long[] indices) {
        if (indices.length != ds.numExamples()) {
            throw new IllegalArgumentException(indices.length + " indices for " + ds.numExamples() + " examples");
        }
        List<RecordMetaDataIndex> meta = new ArrayList<>(indices.length);
        for (long i : indices) {
            meta.add(new RecordMetaDataIndex(i, null, ExampleIndex.class));
        }
        ds.setExampleMetaData(meta);
    }
}
