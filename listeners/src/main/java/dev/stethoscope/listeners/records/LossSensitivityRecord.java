package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One loss-sensitivity measurement on the fixed training subset (METHODS.md
 * section 5): the mean and Gini coefficient of g_x^t = ||dL_t/dx||_1 at this
 * iteration, and the Gini coefficient of the per-example averages so far in the epoch.
 */
public class LossSensitivityRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.LossSensitivity";

    private double mean;
    private double gini;
    private double giniRunning;
    private int examples;

    /** For decoding. */
    public LossSensitivityRecord() {
    }

    public LossSensitivityRecord(double mean, double gini, double giniRunning, int examples) {
        this.mean = mean;
        this.gini = gini;
        this.giniRunning = giniRunning;
        this.examples = examples;
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
        out.writeDouble(mean);
        out.writeDouble(gini);
        out.writeDouble(giniRunning);
        out.writeInt(examples);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        mean = in.readDouble();
        gini = in.readDouble();
        giniRunning = in.readDouble();
        examples = in.readInt();
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", RecordCodec.jsonDouble(mean));
        m.put("gini", RecordCodec.jsonDouble(gini));
        m.put("giniRunning", RecordCodec.jsonDouble(giniRunning));
        m.put("examples", examples);
        return m;
    }

    public double getMean() {
        return mean;
    }

    public double getGini() {
        return gini;
    }

    public double getGiniRunning() {
        return giniRunning;
    }

    public int getExamples() {
        return examples;
    }
}
