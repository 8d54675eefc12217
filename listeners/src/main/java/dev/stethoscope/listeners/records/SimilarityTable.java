package dev.stethoscope.listeners.records;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A table of representation similarities (METHODS.md section 4) at one snapshot, of one kind;
 * record type {@value #TYPE_ID}:
 * <ul>
 *   <li>{@code "layers"}: rows and columns are layers, all at {@code snapshotEpoch};</li>
 *   <li>{@code "vs-previous"}: one row; column j = layer j at {@code snapshotEpoch} against
 *       itself at {@code referenceEpoch} (the previous snapshot);</li>
 *   <li>{@code "vs-latest"}: row i = an earlier kept snapshot (epoch {@code rowEpochs[i]}),
 *       column j = layer j at that snapshot against itself at {@code referenceEpoch}, the
 *       latest one (Raghu et al. Fig. 4 with the latest snapshot standing in for the end);</li>
 *   <li>{@code "vs-final"}: as vs-latest, recomputed at the end of training against the final
 *       parameters: the learning-dynamics plot.</li>
 * </ul>
 * Epochs count completed epochs (0 = before training).
 *
 * @param kind            one of the kinds above
 * @param method          the similarity method's id
 * @param snapshotEpoch   the snapshot's epoch
 * @param referenceEpoch  the reference snapshot's epoch
 * @param dataPoints      data points per neuron the estimates used
 * @param rows            row labels
 * @param rowEpochs       empty or one epoch per row
 * @param columns         column labels (layers)
 * @param values          one array per row, one value per column; NaN marks an undefined pair
 * @param underdetermined 0/1 per entry (row-major): the entry's CCA was underdetermined (more
 *                        directions than data points allow; its value is inflated by dimension
 *                        counting)
 * @param fewPoints       0/1 per entry (row-major): fewer than 10 data points per neuron of the
 *                        wider layer (every method is biased upwards then; see
 *                        docs/PROBES_AND_SIMILARITY.md)
 */
public record SimilarityTable(String kind, String method, int snapshotEpoch, int referenceEpoch, int dataPoints,
                              List<String> rows, int[] rowEpochs, List<String> columns, List<double[]> values,
                              int[] underdetermined, int[] fewPoints) {
    public static final String TYPE_ID = "Stethoscope.Similarity";

    /** The record kinds. */
    public static final String LAYERS = "layers";
    public static final String VS_PREVIOUS = "vs-previous";
    public static final String VS_LATEST = "vs-latest";
    public static final String VS_FINAL = "vs-final";

    /** Flag bit of {@link #of}: the CCA was underdetermined (directions of both sides exceed m - 1). */
    public static final int UNDERDETERMINED = 1;
    /** Flag bit of {@link #of}: fewer than 10 data points per neuron (biased estimate). */
    public static final int FEW_POINTS = 2;

    /** Checks that values and flags have rows x columns entries and rowEpochs none or one per row. */
    public SimilarityTable {
        if (rows == null || columns == null || values == null || rowEpochs == null || underdetermined == null
                || fewPoints == null) {
            throw new IllegalArgumentException("No component of a similarity table may be null");
        }
        rows = List.copyOf(rows);
        columns = List.copyOf(columns);
        values = List.copyOf(values);
        int c = columns.size();
        if (values.size() != rows.size()) {
            throw new IllegalArgumentException("values must have one row per row label (" + rows.size() + "), got "
                    + values.size());
        }
        for (double[] row : values) {
            if (row.length != c) {
                throw new IllegalArgumentException("Every row of values must have " + c + " entries, got " + row.length);
            }
        }
        int cells = rows.size() * c;
        if (underdetermined.length != cells || fewPoints.length != cells) {
            throw new IllegalArgumentException("flags must have rows x columns = " + cells + " entries, got "
                    + underdetermined.length + " and " + fewPoints.length);
        }
        if (rowEpochs.length != 0 && rowEpochs.length != rows.size()) {
            throw new IllegalArgumentException("rowEpochs must be empty or one per row");
        }
    }

    /**
     * A table from row-major values and flags ({@link #UNDERDETERMINED} | {@link #FEW_POINTS} bits per entry).
     */
    public static SimilarityTable of(String kind, String method, int snapshotEpoch, int referenceEpoch,
                                     int dataPoints, List<String> rows, int[] rowEpochs, List<String> columns,
                                     double[] values, int[] flags) {
        int c = columns.size();
        if (values.length != rows.size() * c || flags.length != values.length) {
            throw new IllegalArgumentException("values and flags must have rows x columns = " + rows.size() * c
                    + " entries, got " + values.length + " and " + flags.length);
        }
        List<double[]> table = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            table.add(Arrays.copyOfRange(values, i * c, (i + 1) * c));
        }
        int[] under = Arrays.stream(flags).map(f -> f & UNDERDETERMINED).toArray();
        int[] few = Arrays.stream(flags).map(f -> (f & FEW_POINTS) == 0 ? 0 : 1).toArray();
        return new SimilarityTable(kind, method, snapshotEpoch, referenceEpoch, dataPoints, rows, rowEpochs.clone(),
                columns, table, under, few);
    }

    /** The entry at row i, column j. */
    public double value(int i, int j) {
        return values.get(i)[j];
    }

    /** The values, row-major (a copy). */
    public double[] flatValues() {
        int c = columns.size();
        double[] out = new double[rows.size() * c];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(values.get(i), 0, out, i * c, c);
        }
        return out;
    }

    /** The flags per entry, row-major, as {@link #UNDERDETERMINED} | {@link #FEW_POINTS} bits. */
    public int[] flags() {
        int[] f = new int[underdetermined.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (underdetermined[i] != 0 ? UNDERDETERMINED : 0) | (fewPoints[i] != 0 ? FEW_POINTS : 0);
        }
        return f;
    }
}
