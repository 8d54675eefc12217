package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The suspected mislabeled training examples at the end of one epoch
 * (METHODS.md section 7), published by
 * {@link dev.stethoscope.listeners.dynamics.TrainingDynamicsListener}.
 *
 * <p>Contents:
 * <ul>
 *   <li>summary statistics of the training dynamics of all observed examples
 *       ({@link #getSummaryNames()} / {@link #getSummaryValues()});</li>
 *   <li>the top-K suspects, most suspicious first: example index, given label,
 *       predicted label (latest observation) and one value per column of
 *       {@link #getColumns()} (row-major in {@link #getValues()}): the combined
 *       score (higher = more suspicious) and the raw statistics it is built from
 *       (AUM, confidence, variability, correctness, forgetting events,
 *       learned-since epoch, mean and last loss);</li>
 *   <li>the raw features of each suspect, so the UI can render it without the
 *       data set: {@link #getFeatureShape()} (per example, without the batch
 *       dimension), and per suspect {@code prod(shape)} bytes, value =
 *       lo + byte/255 * (hi - lo) with the suspect's own lo/hi; features in
 *       [0, 1] (images) get lo = 0, hi = 1, so an 8-bit image is exact. A suspect
 *       whose features were not captured has lo = hi = NaN and zero bytes;</li>
 *   <li>a data-map sample: confidence, variability and correctness of a
 *       deterministic sample of examples (plus every suspect), for the
 *       confidence/variability scatter;</li>
 *   <li>when the run knows its flipped (noisy) indices: precision@k,
 *       recall@k (k = number of flipped) and AUROC of the ranking by each score
 *       in {@link #getMetricScores()}.</li>
 * </ul>
 */
public class SuspectsRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Suspects";

    private String capture;
    private int numExamples;
    private int numClasses;
    private List<String> summaryNames;
    private double[] summaryValues;
    private long[] index;
    private int[] givenLabel;
    private int[] predictedLabel;
    private List<String> columns;
    private double[] values;
    private long[] featureShape;
    private byte[] features;
    private float[] featureLo;
    private float[] featureHi;
    private int[] mapIndex;
    private float[] mapConfidence;
    private float[] mapVariability;
    private float[] mapCorrectness;
    private int numFlipped;
    private List<String> metricScores;
    private double[] precisionAtK;
    private double[] recallAtK;
    private double[] auroc;

    /** For decoding. */
    public SuspectsRecord() {
    }

    /**
     * @param capture        where the logits came from ("train-pass" or "inference-copy")
     * @param numExamples    N
     * @param numClasses     number of classes
     * @param summaryNames   names of the summary statistics
     * @param summaryValues  their values
     * @param index          example index of each suspect, most suspicious first
     * @param givenLabel     given label of each suspect
     * @param predictedLabel predicted label of each suspect
     * @param columns        names of the per-suspect values
     * @param values         [suspects][columns], row-major
     * @param featureShape   shape of one example's features
     * @param features       [suspects][prod(featureShape)] quantised bytes
     * @param featureLo      per suspect value of byte 0 (NaN: not captured)
     * @param featureHi      per suspect value of byte 255
     */
    public SuspectsRecord(String capture, int numExamples, int numClasses, List<String> summaryNames,
                          double[] summaryValues, long[] index, int[] givenLabel, int[] predictedLabel,
                          List<String> columns, double[] values, long[] featureShape, byte[] features,
                          float[] featureLo, float[] featureHi) {
        int k = index.length;
        if (givenLabel.length != k || predictedLabel.length != k || featureLo.length != k || featureHi.length != k) {
            throw new IllegalArgumentException("Every per-suspect array must have " + k + " entries");
        }
        if (values.length != k * columns.size()) {
            throw new IllegalArgumentException("values must hold " + k + " x " + columns.size() + " entries, got "
                    + values.length);
        }
        if (summaryNames.size() != summaryValues.length) {
            throw new IllegalArgumentException("summary names and values differ in length");
        }
        long d = featureSize(featureShape);
        if (features.length != k * d) {
            throw new IllegalArgumentException("features must hold " + k + " x " + d + " bytes, got "
                    + features.length);
        }
        this.capture = capture;
        this.numExamples = numExamples;
        this.numClasses = numClasses;
        this.summaryNames = List.copyOf(summaryNames);
        this.summaryValues = summaryValues;
        this.index = index;
        this.givenLabel = givenLabel;
        this.predictedLabel = predictedLabel;
        this.columns = List.copyOf(columns);
        this.values = values;
        this.featureShape = featureShape;
        this.features = features;
        this.featureLo = featureLo;
        this.featureHi = featureHi;
        this.mapIndex = new int[0];
        this.mapConfidence = new float[0];
        this.mapVariability = new float[0];
        this.mapCorrectness = new float[0];
        this.metricScores = List.of();
        this.precisionAtK = new double[0];
        this.recallAtK = new double[0];
        this.auroc = new double[0];
    }

    /** Sets the data-map sample (parallel arrays). */
    public SuspectsRecord withDataMap(int[] idx, float[] confidence, float[] variability, float[] correctness) {
        if (confidence.length != idx.length || variability.length != idx.length || correctness.length != idx.length) {
            throw new IllegalArgumentException("data map arrays differ in length");
        }
        this.mapIndex = idx;
        this.mapConfidence = confidence;
        this.mapVariability = variability;
        this.mapCorrectness = correctness;
        invalidate();
        return this;
    }

    /** Sets the ranking quality against the known flipped indices (parallel arrays, one entry per score). */
    public SuspectsRecord withMetrics(int numFlipped, List<String> scores, double[] precision, double[] recall,
                                      double[] auroc) {
        if (precision.length != scores.size() || recall.length != scores.size() || auroc.length != scores.size()) {
            throw new IllegalArgumentException("metric arrays differ in length");
        }
        this.numFlipped = numFlipped;
        this.metricScores = List.copyOf(scores);
        this.precisionAtK = precision;
        this.recallAtK = recall;
        this.auroc = auroc;
        invalidate();
        return this;
    }

    static long featureSize(long[] shape) {
        long d = 1;
        for (long s : shape) {
            d *= s;
        }
        return d;
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
        RecordCodec.writeString(out, capture);
        out.writeInt(numExamples);
        out.writeInt(numClasses);
        RecordCodec.writeStrings(out, summaryNames);
        RecordCodec.writeDoubles(out, summaryValues);
        RecordCodec.writeLongs(out, index);
        RecordCodec.writeInts(out, givenLabel);
        RecordCodec.writeInts(out, predictedLabel);
        RecordCodec.writeStrings(out, columns);
        RecordCodec.writeDoubles(out, values);
        RecordCodec.writeLongs(out, featureShape);
        out.writeInt(features.length);
        out.write(features);
        RecordCodec.writeFloats(out, featureLo);
        RecordCodec.writeFloats(out, featureHi);
        RecordCodec.writeInts(out, mapIndex);
        RecordCodec.writeFloats(out, mapConfidence);
        RecordCodec.writeFloats(out, mapVariability);
        RecordCodec.writeFloats(out, mapCorrectness);
        out.writeInt(numFlipped);
        RecordCodec.writeStrings(out, metricScores);
        RecordCodec.writeDoubles(out, precisionAtK);
        RecordCodec.writeDoubles(out, recallAtK);
        RecordCodec.writeDoubles(out, auroc);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        capture = RecordCodec.readString(in);
        numExamples = in.readInt();
        numClasses = in.readInt();
        summaryNames = RecordCodec.readStrings(in);
        summaryValues = RecordCodec.readDoubles(in);
        index = RecordCodec.readLongs(in);
        givenLabel = RecordCodec.readInts(in);
        predictedLabel = RecordCodec.readInts(in);
        columns = RecordCodec.readStrings(in);
        values = RecordCodec.readDoubles(in);
        featureShape = RecordCodec.readLongs(in);
        features = new byte[RecordCodec.readCount(in, 1, "features")];
        in.readFully(features);
        featureLo = RecordCodec.readFloats(in);
        featureHi = RecordCodec.readFloats(in);
        mapIndex = RecordCodec.readInts(in);
        mapConfidence = RecordCodec.readFloats(in);
        mapVariability = RecordCodec.readFloats(in);
        mapCorrectness = RecordCodec.readFloats(in);
        numFlipped = in.readInt();
        metricScores = RecordCodec.readStrings(in);
        precisionAtK = RecordCodec.readDoubles(in);
        recallAtK = RecordCodec.readDoubles(in);
        auroc = RecordCodec.readDoubles(in);
    }

    @Override
    protected void validateBody() throws IOException {
        if (summaryNames != null && (summaryValues == null || summaryValues.length < summaryNames.size())) {
            throw new IOException("Corrupt suspects record: fewer summary values than names");
        }
        if (metricScores != null && (precisionAtK == null || recallAtK == null || auroc == null
                || precisionAtK.length < metricScores.size() || recallAtK.length < metricScores.size()
                || auroc.length < metricScores.size())) {
            throw new IOException("Corrupt suspects record: fewer metric values than metrics");
        }
        if (index == null) {
            return;
        }
        long n = index.length;
        long cols = columns == null ? 0 : columns.size();
        if (featureShape != null) {
            for (long d : featureShape) {
                if (d < 0 || d > Integer.MAX_VALUE) {
                    throw new IOException("Corrupt suspects record: feature shape " + java.util.Arrays.toString(featureShape));
                }
            }
        }
        long d = 0;
        if (featureShape != null) {
            d = 1;
            for (long x : featureShape) {
                d *= x;
                if (d > Integer.MAX_VALUE) {
                    throw new IOException("Corrupt suspects record: feature shape " + java.util.Arrays.toString(featureShape));
                }
            }
        }
        if (givenLabel == null || predictedLabel == null || givenLabel.length < n || predictedLabel.length < n
                || (values == null ? cols * n > 0 : values.length < cols * n)
                || featureLo == null || featureHi == null || featureLo.length < n || featureHi.length < n
                || (features == null ? d * n > 0 : features.length < d * n)) {
            throw new IOException("Corrupt suspects record: per-suspect arrays shorter than its " + n + " suspects");
        }
    }

    /**
     * JSON: summary as an object; {@code suspects} as a list of objects (index,
     * given, predicted, one entry per column, and {@code pixels}: the suspect's
     * feature bytes in base64, with {@code lo}/{@code hi}); {@code dataMap} as
     * parallel arrays; {@code metrics} as a list of objects per score.
     */
    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("capture", capture);
        m.put("numExamples", numExamples);
        m.put("numClasses", numClasses);
        Map<String, Object> summary = new LinkedHashMap<>();
        for (int i = 0; i < summaryNames.size(); i++) {
            summary.put(summaryNames.get(i), RecordCodec.jsonDouble(summaryValues[i]));
        }
        m.put("summary", summary);
        m.put("columns", columns);
        m.put("featureShape", featureShape);
        int d = (int) featureSize(featureShape);
        Base64.Encoder b64 = Base64.getEncoder();
        List<Map<String, Object>> suspects = new ArrayList<>();
        for (int s = 0; s < index.length; s++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("rank", s + 1);
            row.put("index", index[s]);
            row.put("given", givenLabel[s]);
            row.put("predicted", predictedLabel[s]);
            for (int c = 0; c < columns.size(); c++) {
                row.put(columns.get(c), RecordCodec.jsonDouble(values[s * columns.size() + c]));
            }
            boolean has = !Float.isNaN(featureLo[s]);
            row.put("lo", has ? (double) featureLo[s] : null);
            row.put("hi", has ? (double) featureHi[s] : null);
            row.put("pixels", has ? b64.encodeToString(java.util.Arrays.copyOfRange(features, s * d, (s + 1) * d))
                    : null);
            suspects.add(row);
        }
        m.put("suspects", suspects);
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("index", mapIndex);
        map.put("confidence", mapConfidence);
        map.put("variability", mapVariability);
        map.put("correctness", mapCorrectness);
        m.put("dataMap", map);
        m.put("numFlipped", numFlipped);
        List<Map<String, Object>> metrics = new ArrayList<>();
        for (int i = 0; i < metricScores.size(); i++) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("score", metricScores.get(i));
            x.put("precisionAtK", RecordCodec.jsonDouble(precisionAtK[i]));
            x.put("recallAtK", RecordCodec.jsonDouble(recallAtK[i]));
            x.put("auroc", RecordCodec.jsonDouble(auroc[i]));
            metrics.add(x);
        }
        m.put("metrics", metrics);
        return m;
    }

    public String getCapture() {
        return capture;
    }

    public int getNumExamples() {
        return numExamples;
    }

    public int getNumClasses() {
        return numClasses;
    }

    public List<String> getSummaryNames() {
        return summaryNames;
    }

    public double[] getSummaryValues() {
        return summaryValues;
    }

    /** A summary statistic by name; throws listing valid names. */
    public double summary(String name) {
        int i = summaryNames.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("No summary '" + name + "'. Valid: " + summaryNames);
        }
        return summaryValues[i];
    }

    public long[] getIndex() {
        return index;
    }

    public int[] getGivenLabel() {
        return givenLabel;
    }

    public int[] getPredictedLabel() {
        return predictedLabel;
    }

    public List<String> getColumns() {
        return columns;
    }

    public double[] getValues() {
        return values;
    }

    /** Value of column {@code column} for suspect {@code s} (rank s+1); throws listing valid columns. */
    public double value(int s, String column) {
        int c = columns.indexOf(column);
        if (c < 0) {
            throw new IllegalArgumentException("No column '" + column + "'. Valid: " + columns);
        }
        return values[s * columns.size() + c];
    }

    public long[] getFeatureShape() {
        return featureShape;
    }

    public byte[] getFeatures() {
        return features;
    }

    public float[] getFeatureLo() {
        return featureLo;
    }

    public float[] getFeatureHi() {
        return featureHi;
    }

    /** The decoded features of suspect {@code s}, or null if they were not captured. */
    public float[] features(int s) {
        if (Float.isNaN(featureLo[s])) {
            return null;
        }
        int d = (int) featureSize(featureShape);
        float[] out = new float[d];
        float lo = featureLo[s];
        float span = featureHi[s] - lo;
        for (int j = 0; j < d; j++) {
            out[j] = lo + (features[s * d + j] & 0xff) / 255f * span;
        }
        return out;
    }

    public int[] getMapIndex() {
        return mapIndex;
    }

    public float[] getMapConfidence() {
        return mapConfidence;
    }

    public float[] getMapVariability() {
        return mapVariability;
    }

    public float[] getMapCorrectness() {
        return mapCorrectness;
    }

    public int getNumFlipped() {
        return numFlipped;
    }

    public List<String> getMetricScores() {
        return metricScores;
    }

    public double[] getPrecisionAtK() {
        return precisionAtK;
    }

    public double[] getRecallAtK() {
        return recallAtK;
    }

    public double[] getAuroc() {
        return auroc;
    }

    /** Index of {@code score} in the metric arrays; throws listing valid scores. */
    public int metricIndex(String score) {
        int i = metricScores.indexOf(score);
        if (i < 0) {
            throw new IllegalArgumentException("No metrics for score '" + score + "'. Available: " + metricScores);
        }
        return i;
    }
}
