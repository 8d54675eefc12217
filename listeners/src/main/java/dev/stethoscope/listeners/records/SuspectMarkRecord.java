package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A user's decision about one suspected training example, made on the
 * Suspects page (or any other client) and stored as an update record in the
 * run's StatsStorage, so it survives reopening a file-backed run. For each
 * example the latest mark (by timestamp) wins; decision {@code "clear"} removes
 * an earlier mark.
 */
public class SuspectMarkRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.SuspectMark";

    /** Valid decisions. */
    public static final List<String> DECISIONS = List.of("mislabeled", "fine", "clear");

    private long exampleIndex;
    private int givenLabel;
    private String decision;
    private int correctedLabel;

    /** For decoding. */
    public SuspectMarkRecord() {
    }

    /**
     * @param exampleIndex   the example's stable index
     * @param givenLabel     its label in the data set
     * @param decision       one of {@link #DECISIONS}
     * @param correctedLabel the label it should have (decision "mislabeled"), else -1
     */
    public SuspectMarkRecord(long exampleIndex, int givenLabel, String decision, int correctedLabel) {
        if (!DECISIONS.contains(decision)) {
            throw new IllegalArgumentException("Unknown decision '" + decision + "'. Valid: " + DECISIONS);
        }
        if ("mislabeled".equals(decision) && correctedLabel < 0) {
            throw new IllegalArgumentException("A 'mislabeled' mark needs the corrected label (>= 0)");
        }
        if (exampleIndex < 0) {
            throw new IllegalArgumentException("Example index must be >= 0, got " + exampleIndex);
        }
        this.exampleIndex = exampleIndex;
        this.givenLabel = givenLabel;
        this.decision = decision;
        this.correctedLabel = "mislabeled".equals(decision) ? correctedLabel : -1;
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
        out.writeLong(exampleIndex);
        out.writeInt(givenLabel);
        RecordCodec.writeString(out, decision);
        out.writeInt(correctedLabel);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        exampleIndex = in.readLong();
        givenLabel = in.readInt();
        decision = RecordCodec.readString(in);
        correctedLabel = in.readInt();
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", exampleIndex);
        m.put("given", givenLabel);
        m.put("decision", decision);
        m.put("corrected", correctedLabel);
        return m;
    }

    public long getExampleIndex() {
        return exampleIndex;
    }

    public int getGivenLabel() {
        return givenLabel;
    }

    public String getDecision() {
        return decision;
    }

    public int getCorrectedLabel() {
        return correctedLabel;
    }
}
