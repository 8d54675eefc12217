package dev.stethoscope.probes.similarity;

import java.util.List;

/**
 * A rows x columns table of similarities (layer x layer, or network A's layers x network B's).
 * An entry is NaN when the two representations are over different data points (in
 * {@link ConvMode#POSITIONS_AS_POINTS}: layers of different spatial size, or a conv layer and a
 * dense one); such pairs are counted in {@link #undefinedPairs()}.
 *
 * @param method          the measure
 * @param rows            row labels
 * @param columns         column labels
 * @param values          values[i][j] = similarity(rows[i], columns[j])
 * @param underdetermined underdetermined[i][j] = the CCA of that pair was underdetermined
 *                        ({@link SimilarityResult#underdetermined()})
 */
public record SimilarityMatrix(SimilarityMethod method, List<String> rows, List<String> columns, double[][] values,
                               boolean[][] underdetermined) {

    /** Number of NaN entries (pairs with different numbers of data points). */
    public int undefinedPairs() {
        int c = 0;
        for (double[] r : values) {
            for (double v : r) {
                if (Double.isNaN(v)) {
                    c++;
                }
            }
        }
        return c;
    }

    /** The entry for a row and a column label. */
    public double get(String row, String column) {
        int i = rows.indexOf(row);
        int j = columns.indexOf(column);
        if (i < 0 || j < 0) {
            throw new IllegalArgumentException("No entry (" + row + ", " + column + "). Rows: " + rows + ", columns: " + columns);
        }
        return values[i][j];
    }

    /** Values row-major in one array. */
    public double[] flatten() {
        int c = columns.size();
        double[] out = new double[rows.size() * c];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(values[i], 0, out, i * c, c);
        }
        return out;
    }
}
