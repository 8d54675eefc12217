package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Memorisation signals at the end of one epoch (METHODS.md section 5, Arpit et al. 2017).
 *
 * <ul>
 *   <li>critical sample ratio on the fixed validation subset, found with LASS, with
 *       the LASS parameters in {@link #getParameters()};</li>
 *   <li>loss sensitivity g_x = ||dL/dx||_1 on the fixed training subset: Gini
 *       coefficient of the per-example averages over this epoch's measurements
 *       and over all measurements so far, their mean, the number of measurements;</li>
 *   <li>the per-class sensitivity matrix (row i: class of the loss term, column j:
 *       class of the examples), row-major, NaN where a class has no example;</li>
 *   <li>accuracy and loss (inference mode) on the fixed training and validation
 *       subsets, with the training subset's labels as given (corrupted labels
 *       if the training data was randomised), and the mean training minibatch
 *       score of the epoch.</li>
 * </ul>
 */
public class MemorizationRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Memorization";

    private double criticalSampleRatio;
    private int criticalCount;
    private int csrExamples;
    private double csrMeanIterations;
    private long csrMillis;
    private int csrCertified;
    private double csrRadius = Double.NaN;
    private String csrPreset = "";
    private double trainAccuracy;
    private double trainLoss;
    private int trainExamples;
    private double valAccuracy;
    private double valLoss;
    private int valExamples;
    private double trainScoreMean;
    private double sensitivityGini;
    private double sensitivityGiniCumulative;
    private double sensitivityMean;
    private int sensitivityMeasurements;
    private int numClasses;
    private double[] perClassSensitivity;
    private List<String> parameterKeys;
    private List<String> parameterValues;

    /** For decoding. */
    public MemorizationRecord() {
    }

    /** Builder-style setters keep the listener readable; every field has one. */
    public MemorizationRecord csr(double ratio, int critical, int examples, double meanIterations, long millis) {
        this.criticalSampleRatio = ratio;
        this.criticalCount = critical;
        this.csrExamples = examples;
        this.csrMeanIterations = meanIterations;
        this.csrMillis = millis;
        return this;
    }

    /**
     * The LASS radius r the CSR was measured with (L-inf, input units) and the name of its preset
     * ("default", "paper" or "custom"): a CSR means nothing without its radius.
     */
    public MemorizationRecord csrRadius(double radius, String preset) {
        this.csrRadius = radius;
        this.csrPreset = preset == null ? "" : preset;
        return this;
    }

    /** How many CSR examples interval bounds proved non-critical (so LASS skipped them). */
    public MemorizationRecord csrCertified(int certified) {
        this.csrCertified = certified;
        return this;
    }

    public MemorizationRecord train(double accuracy, double loss, int examples, double scoreMean) {
        this.trainAccuracy = accuracy;
        this.trainLoss = loss;
        this.trainExamples = examples;
        this.trainScoreMean = scoreMean;
        return this;
    }

    public MemorizationRecord validation(double accuracy, double loss, int examples) {
        this.valAccuracy = accuracy;
        this.valLoss = loss;
        this.valExamples = examples;
        return this;
    }

    public MemorizationRecord sensitivity(double gini, double giniCumulative, double mean, int measurements) {
        this.sensitivityGini = gini;
        this.sensitivityGiniCumulative = giniCumulative;
        this.sensitivityMean = mean;
        this.sensitivityMeasurements = measurements;
        return this;
    }

    public MemorizationRecord perClass(double[][] matrix) {
        this.numClasses = matrix.length;
        this.perClassSensitivity = new double[numClasses * numClasses];
        for (int i = 0; i < numClasses; i++) {
            if (matrix[i].length != numClasses) {
                throw new IllegalArgumentException("The per-class matrix must be square");
            }
            System.arraycopy(matrix[i], 0, perClassSensitivity, i * numClasses, numClasses);
        }
        return this;
    }

    public MemorizationRecord parameters(Map<String, String> params) {
        this.parameterKeys = new ArrayList<>(params.keySet());
        this.parameterValues = new ArrayList<>(params.values());
        return this;
    }

    @Override
    public String getTypeID() {
        return TYPE_ID;
    }

    @Override
    protected int bodyVersion() {
        return 3;
    }

    @Override
    protected void writeBody(DataOutputStream out) throws IOException {
        out.writeDouble(criticalSampleRatio);
        out.writeInt(criticalCount);
        out.writeInt(csrExamples);
        out.writeDouble(csrMeanIterations);
        out.writeLong(csrMillis);
        out.writeDouble(trainAccuracy);
        out.writeDouble(trainLoss);
        out.writeInt(trainExamples);
        out.writeDouble(valAccuracy);
        out.writeDouble(valLoss);
        out.writeInt(valExamples);
        out.writeDouble(trainScoreMean);
        out.writeDouble(sensitivityGini);
        out.writeDouble(sensitivityGiniCumulative);
        out.writeDouble(sensitivityMean);
        out.writeInt(sensitivityMeasurements);
        out.writeInt(numClasses);
        RecordCodec.writeDoubles(out, perClassSensitivity);
        RecordCodec.writeStrings(out, parameterKeys);
        RecordCodec.writeStrings(out, parameterValues);
        out.writeInt(csrCertified);
        out.writeDouble(csrRadius);
        RecordCodec.writeString(out, csrPreset);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        criticalSampleRatio = in.readDouble();
        criticalCount = in.readInt();
        csrExamples = in.readInt();
        csrMeanIterations = in.readDouble();
        csrMillis = in.readLong();
        trainAccuracy = in.readDouble();
        trainLoss = in.readDouble();
        trainExamples = in.readInt();
        valAccuracy = in.readDouble();
        valLoss = in.readDouble();
        valExamples = in.readInt();
        trainScoreMean = in.readDouble();
        sensitivityGini = in.readDouble();
        sensitivityGiniCumulative = in.readDouble();
        sensitivityMean = in.readDouble();
        sensitivityMeasurements = in.readInt();
        numClasses = in.readInt();
        perClassSensitivity = RecordCodec.readDoubles(in);
        parameterKeys = RecordCodec.readStrings(in);
        parameterValues = RecordCodec.readStrings(in);
        csrCertified = version >= 2 ? in.readInt() : 0;
        if (version >= 3) {
            csrRadius = in.readDouble();
            csrPreset = RecordCodec.readString(in);
        } else {
            // older records: the radius is among the parameters
            int i = parameterKeys == null ? -1 : parameterKeys.indexOf("radius");
            csrRadius = i >= 0 ? Double.parseDouble(parameterValues.get(i)) : Double.NaN;
            csrPreset = "";
        }
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("criticalSampleRatio", RecordCodec.jsonDouble(criticalSampleRatio));
        m.put("criticalCount", criticalCount);
        m.put("csrExamples", csrExamples);
        m.put("csrMeanIterations", RecordCodec.jsonDouble(csrMeanIterations));
        m.put("csrMillis", csrMillis);
        m.put("csrCertified", csrCertified);
        m.put("csrRadius", RecordCodec.jsonDouble(csrRadius));
        m.put("csrPreset", csrPreset);
        m.put("trainAccuracy", RecordCodec.jsonDouble(trainAccuracy));
        m.put("trainLoss", RecordCodec.jsonDouble(trainLoss));
        m.put("trainExamples", trainExamples);
        m.put("valAccuracy", RecordCodec.jsonDouble(valAccuracy));
        m.put("valLoss", RecordCodec.jsonDouble(valLoss));
        m.put("valExamples", valExamples);
        m.put("trainScoreMean", RecordCodec.jsonDouble(trainScoreMean));
        m.put("sensitivityGini", RecordCodec.jsonDouble(sensitivityGini));
        m.put("sensitivityGiniCumulative", RecordCodec.jsonDouble(sensitivityGiniCumulative));
        m.put("sensitivityMean", RecordCodec.jsonDouble(sensitivityMean));
        m.put("sensitivityMeasurements", sensitivityMeasurements);
        m.put("numClasses", numClasses);
        m.put("perClassSensitivity", RecordCodec.jsonDoubles(perClassSensitivity));
        m.put("parameters", getParameters());
        return m;
    }

    /** LASS and monitor parameters, in a fixed order. */
    public Map<String, String> getParameters() {
        Map<String, String> p = new LinkedHashMap<>();
        if (parameterKeys != null) {
            for (int i = 0; i < parameterKeys.size(); i++) {
                p.put(parameterKeys.get(i), parameterValues.get(i));
            }
        }
        return p;
    }

    public double getCriticalSampleRatio() {
        return criticalSampleRatio;
    }

    public int getCriticalCount() {
        return criticalCount;
    }

    public int getCsrExamples() {
        return csrExamples;
    }

    public double getCsrMeanIterations() {
        return csrMeanIterations;
    }

    public long getCsrMillis() {
        return csrMillis;
    }

    /** CSR examples proved non-critical by interval bounds (not searched). */
    public int getCsrCertified() {
        return csrCertified;
    }

    public double getTrainAccuracy() {
        return trainAccuracy;
    }

    public double getTrainLoss() {
        return trainLoss;
    }

    public int getTrainExamples() {
        return trainExamples;
    }

    public double getValAccuracy() {
        return valAccuracy;
    }

    public double getValLoss() {
        return valLoss;
    }

    public int getValExamples() {
        return valExamples;
    }

    public double getTrainScoreMean() {
        return trainScoreMean;
    }

    public double getSensitivityGini() {
        return sensitivityGini;
    }

    public double getSensitivityGiniCumulative() {
        return sensitivityGiniCumulative;
    }

    public double getSensitivityMean() {
        return sensitivityMean;
    }

    public int getSensitivityMeasurements() {
        return sensitivityMeasurements;
    }

    /** LASS radius of the CSR (NaN if unknown). */
    public double getCsrRadius() {
        return csrRadius;
    }

    /** Preset name of the CSR's LASS parameters ("default", "paper", "custom"; empty if unknown). */
    public String getCsrPreset() {
        return csrPreset;
    }

    public int getNumClasses() {
        return numClasses;
    }

    /** Cell (i, j) of the per-class sensitivity matrix. */
    public double getPerClassSensitivity(int i, int j) {
        return perClassSensitivity[i * numClasses + j];
    }

    /** The per-class matrix, row-major. */
    public double[] getPerClassSensitivity() {
        return perClassSensitivity;
    }
}
