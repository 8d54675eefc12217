package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A table of representation similarities (METHODS.md section 4) at one snapshot, of one kind:
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
 * Epochs count completed epochs (0 = before training). {@code values} is row-major; NaN marks
 * an undefined pair. {@code flags[i]} has bit {@link #UNDERDETERMINED} when that entry's CCA was
 * underdetermined (more directions than data points allow; its value is inflated by dimension counting)
 * and bit {@link #FEW_POINTS} when there were fewer than 10 data points per neuron of the wider layer
 * (every method is biased upwards then; see docs/PROBES_AND_SIMILARITY.md). The JSON has them as the
 * 0/1 lists {@code underdetermined} and {@code fewPoints}.
 */
public class SimilarityRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Similarity";

    /** The record kinds. */
    public static final String LAYERS = "layers";
    public static final String VS_PREVIOUS = "vs-previous";
    public static final String VS_LATEST = "vs-latest";
    public static final String VS_FINAL = "vs-final";

    /** Flag bit: the CCA was underdetermined (directions of both sides exceed m - 1). */
    public static final int UNDERDETERMINED = 1;
    /** Flag bit: fewer than 10 data points per neuron (biased estimate). */
    public static final int FEW_POINTS = 2;

    private String kind;
    private String method;
    private int snapshotEpoch;
    private int referenceEpoch;
    private int dataPoints;
    private List<String> rows;
    private int[] rowEpochs;
    private List<String> columns;
    private double[] values;
    private int[] flags;

    /** For decoding. */
    public SimilarityRecord() {
    }

    public SimilarityRecord(String kind, String method, int snapshotEpoch, int referenceEpoch, int dataPoints,
                            List<String> rows, int[] rowEpochs, List<String> columns, double[] values, int[] flags) {
        if (values.length != rows.size() * columns.size() || flags.length != values.length) {
            throw new IllegalArgumentException("values and flags must have rows x columns = "
                    + rows.size() * columns.size() + " entries, got " + values.length + " and " + flags.length);
        }
        if (rowEpochs.length != 0 && rowEpochs.length != rows.size()) {
            throw new IllegalArgumentException("rowEpochs must be empty or one per row");
        }
        this.kind = kind;
        this.method = method;
        this.snapshotEpoch = snapshotEpoch;
        this.referenceEpoch = referenceEpoch;
        this.dataPoints = dataPoints;
        this.rows = List.copyOf(rows);
        this.rowEpochs = rowEpochs.clone();
        this.columns = List.copyOf(columns);
        this.values = values.clone();
        this.flags = flags.clone();
    }

    @Override
    public String getTypeID() {
        return TYPE_ID;
    }

    @Override
    protected int bodyVersion() {
        return 1;
    }

    @Override
    protected void writeBody(DataOutputStream out) throws IOException {
        RecordCodec.writeString(out, kind);
        RecordCodec.writeString(out, method);
        out.writeInt(snapshotEpoch);
        out.writeInt(referenceEpoch);
        out.writeInt(dataPoints);
        RecordCodec.writeStrings(out, rows);
        RecordCodec.writeInts(out, rowEpochs);
        RecordCodec.writeStrings(out, columns);
        RecordCodec.writeDoubles(out, values);
        RecordCodec.writeInts(out, flags);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        kind = RecordCodec.readString(in);
        method = RecordCodec.readString(in);
        snapshotEpoch = in.readInt();
        referenceEpoch = in.readInt();
        dataPoints = in.readInt();
        rows = RecordCodec.readStrings(in);
        rowEpochs = RecordCodec.readInts(in);
        columns = RecordCodec.readStrings(in);
        values = RecordCodec.readDoubles(in);
        flags = RecordCodec.readInts(in);
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind);
        m.put("method", method);
        m.put("snapshotEpoch", snapshotEpoch);
        m.put("referenceEpoch", referenceEpoch);
        m.put("dataPoints", dataPoints);
        m.put("rows", rows);
        m.put("rowEpochs", java.util.Arrays.stream(rowEpochs).boxed().toList());
        m.put("columns", columns);
        List<List<Double>> table = new ArrayList<>();
        int c = columns.size();
        for (int i = 0; i < rows.size(); i++) {
            table.add(RecordCodec.jsonDoubles(java.util.Arrays.copyOfRange(values, i * c, (i + 1) * c)));
        }
        m.put("values", table);
        m.put("underdetermined", java.util.Arrays.stream(flags).map(f -> f & UNDERDETERMINED).boxed().toList());
        m.put("fewPoints", java.util.Arrays.stream(flags).map(f -> (f & FEW_POINTS) == 0 ? 0 : 1).boxed().toList());
        return m;
    }

    public String getKind() {
        return kind;
    }

    public String getMethod() {
        return method;
    }

    public int getSnapshotEpoch() {
        return snapshotEpoch;
    }

    public int getReferenceEpoch() {
        return referenceEpoch;
    }

    public int getDataPoints() {
        return dataPoints;
    }

    public List<String> getRows() {
        return rows;
    }

    public int[] getRowEpochs() {
        return rowEpochs.clone();
    }

    public List<String> getColumns() {
        return columns;
    }

    /** Row-major values (a copy). */
    public double[] getValues() {
        return values.clone();
    }

    /** The entry at row i, column j. */
    public double value(int i, int j) {
        return values[i * columns.size() + j];
    }

    public int[] getFlags() {
        return flags.clone();
    }
}
