package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The full per-example training-dynamics table of all N training examples at
 * one epoch: one row per example index 0..N-1 (rows of examples never observed
 * have count 0 and NaN statistics).
 *
 * <p>Published as <em>static info</em> by
 * {@link dev.stethoscope.listeners.dynamics.TrainingDynamicsListener}: a
 * StatsStorage keeps one static-info record per session, type and worker, so
 * each publication replaces the previous one and the stored table stays one
 * table (O(N)) however many epochs run. Columns are float32 (ints for labels
 * and counts) to keep it compact: about 48 bytes per example.
 */
public class SuspectTableRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.SuspectTable";

    /** Names of the float columns, in order. */
    public static final List<String> FLOAT_COLUMNS = List.of("combined", "aum", "confidence", "variability",
            "correctness", "meanLoss", "lastLoss");

    private int tableEpoch;
    private int numClasses;
    private int[] givenLabel;
    private int[] predictedLabel;
    private int[] count;
    private int[] forgetting;
    private int[] learnedSince;
    private float[][] floats;
    private long[] flipped;

    /** For decoding. */
    public SuspectTableRecord() {
    }

    /**
     * @param tableEpoch     epoch at whose end the table was taken
     * @param numClasses     number of classes
     * @param givenLabel     per example (-1: never observed)
     * @param predictedLabel per example, latest observation
     * @param count          observations per example
     * @param forgetting     forgetting events per example
     * @param learnedSince   learned-since epoch per example (-1: not learned)
     * @param floats         one array of length N per {@link #FLOAT_COLUMNS} entry
     * @param flipped        known flipped indices of the run (empty if unknown)
     */
    public SuspectTableRecord(int tableEpoch, int numClasses, int[] givenLabel, int[] predictedLabel, int[] count,
                              int[] forgetting, int[] learnedSince, float[][] floats, long[] flipped) {
        int n = givenLabel.length;
        if (floats.length != FLOAT_COLUMNS.size()) {
            throw new IllegalArgumentException("Expected " + FLOAT_COLUMNS.size() + " float columns " + FLOAT_COLUMNS);
        }
        for (int[] a : new int[][]{predictedLabel, count, forgetting, learnedSince}) {
            if (a.length != n) {
                throw new IllegalArgumentException("Every column must have " + n + " entries");
            }
        }
        for (float[] a : floats) {
            if (a.length != n) {
                throw new IllegalArgumentException("Every column must have " + n + " entries");
            }
        }
        this.tableEpoch = tableEpoch;
        this.numClasses = numClasses;
        this.givenLabel = givenLabel;
        this.predictedLabel = predictedLabel;
        this.count = count;
        this.forgetting = forgetting;
        this.learnedSince = learnedSince;
        this.floats = floats;
        this.flipped = flipped == null ? new long[0] : flipped;
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
        out.writeInt(tableEpoch);
        out.writeInt(numClasses);
        RecordCodec.writeInts(out, givenLabel);
        RecordCodec.writeInts(out, predictedLabel);
        RecordCodec.writeInts(out, count);
        RecordCodec.writeInts(out, forgetting);
        RecordCodec.writeInts(out, learnedSince);
        out.writeInt(floats.length);
        for (float[] f : floats) {
            RecordCodec.writeFloats(out, f);
        }
        RecordCodec.writeLongs(out, flipped);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        tableEpoch = in.readInt();
        numClasses = in.readInt();
        givenLabel = RecordCodec.readInts(in);
        predictedLabel = RecordCodec.readInts(in);
        count = RecordCodec.readInts(in);
        forgetting = RecordCodec.readInts(in);
        learnedSince = RecordCodec.readInts(in);
        int c = RecordCodec.readCount(in, 4, "float columns");
        floats = new float[c][];
        for (int i = 0; i < c; i++) {
            floats[i] = RecordCodec.readFloats(in);
        }
        flipped = RecordCodec.readLongs(in);
    }

    @Override
    protected void validateBody() throws IOException {
        if (floats != null && floats.length > FLOAT_COLUMNS.size()) {
            throw new IOException("Corrupt suspect table record: " + floats.length + " float columns, at most "
                    + FLOAT_COLUMNS.size());
        }
    }

    /** JSON: every column as an array (large: N entries each; non-finite values become null). */
    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tableEpoch", tableEpoch);
        m.put("numExamples", givenLabel.length);
        m.put("numClasses", numClasses);
        m.put("given", givenLabel);
        m.put("predicted", predictedLabel);
        m.put("count", count);
        m.put("forgetting", forgetting);
        m.put("learnedSince", learnedSince);
        for (int c = 0; c < floats.length; c++) {
            List<Double> l = new ArrayList<>(floats[c].length);
            for (float v : floats[c]) {
                l.add(Float.isFinite(v) ? (double) v : null);
            }
            m.put(FLOAT_COLUMNS.get(c), l);
        }
        m.put("flipped", flipped);
        return m;
    }

    public int getTableEpoch() {
        return tableEpoch;
    }

    public int getNumClasses() {
        return numClasses;
    }

    public int numExamples() {
        return givenLabel.length;
    }

    public int[] getGivenLabel() {
        return givenLabel;
    }

    public int[] getPredictedLabel() {
        return predictedLabel;
    }

    public int[] getCount() {
        return count;
    }

    public int[] getForgetting() {
        return forgetting;
    }

    public int[] getLearnedSince() {
        return learnedSince;
    }

    public long[] getFlipped() {
        return flipped;
    }

    /** A float column by name ({@link #FLOAT_COLUMNS}); throws listing valid names. */
    public float[] column(String name) {
        int i = FLOAT_COLUMNS.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("No column '" + name + "'. Valid: " + FLOAT_COLUMNS);
        }
        return floats[i];
    }
}
