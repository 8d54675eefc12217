package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Linear-probe results of every monitored layer at one epoch (METHODS.md section 2):
 * per layer, the accuracy and mean cross-entropy of a softmax probe trained on the layer's
 * frozen activations of the probe-train set, on probe-train and on probe-test.
 *
 * <p>{@code snapshotEpoch} is the number of completed epochs whose parameters were probed
 * (1 after the first epoch); {@code features} the probe's input dimension per layer;
 * {@code featureMode} "FLATTEN" or "GLOBAL_AVERAGE_POOL"; {@code isFinal} marks the
 * evaluation of the parameters at the end of training.
 */
public class ProbeAccuracyRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Probe";

    private int snapshotEpoch;
    private boolean isFinal;
    private String featureMode;
    private int trainExamples;
    private int testExamples;
    private List<String> layers;
    private int[] features;
    private double[] trainAccuracy;
    private double[] testAccuracy;
    private double[] trainLoss;
    private double[] testLoss;
    private double[] l2 = new double[0];
    private double[] gradientNorm = new double[0];

    /** For decoding. */
    public ProbeAccuracyRecord() {
    }

    public ProbeAccuracyRecord(int snapshotEpoch, boolean isFinal, String featureMode, int trainExamples,
                               int testExamples, List<String> layers, int[] features, double[] trainAccuracy,
                               double[] testAccuracy, double[] trainLoss, double[] testLoss) {
        int n = layers.size();
        if (features.length != n || trainAccuracy.length != n || testAccuracy.length != n || trainLoss.length != n
                || testLoss.length != n) {
            throw new IllegalArgumentException("Every per-layer array must have " + n + " entries");
        }
        this.snapshotEpoch = snapshotEpoch;
        this.isFinal = isFinal;
        this.featureMode = featureMode;
        this.trainExamples = trainExamples;
        this.testExamples = testExamples;
        this.layers = List.copyOf(layers);
        this.features = features.clone();
        this.trainAccuracy = trainAccuracy.clone();
        this.testAccuracy = testAccuracy.clone();
        this.trainLoss = trainLoss.clone();
        this.testLoss = testLoss.clone();
    }

    /**
     * Per layer, the L2 coefficient of the probe (chosen on a held-out split of probe-train, or fixed)
     * and the norm of the probe objective's gradient after training (its convergence; 0 at the optimum).
     */
    public ProbeAccuracyRecord regularisation(double[] l2PerLayer, double[] gradientNormPerLayer) {
        if (l2PerLayer.length != layers.size() || gradientNormPerLayer.length != layers.size()) {
            throw new IllegalArgumentException("Every per-layer array must have " + layers.size() + " entries");
        }
        this.l2 = l2PerLayer.clone();
        this.gradientNorm = gradientNormPerLayer.clone();
        return this;
    }

    @Override
    public String getTypeID() {
        return TYPE_ID;
    }

    @Override
    protected int bodyVersion() {
        return 2;
    }

    @Override
    protected void writeBody(DataOutputStream out) throws IOException {
        out.writeInt(snapshotEpoch);
        out.writeBoolean(isFinal);
        RecordCodec.writeString(out, featureMode);
        out.writeInt(trainExamples);
        out.writeInt(testExamples);
        RecordCodec.writeStrings(out, layers);
        RecordCodec.writeInts(out, features);
        RecordCodec.writeDoubles(out, trainAccuracy);
        RecordCodec.writeDoubles(out, testAccuracy);
        RecordCodec.writeDoubles(out, trainLoss);
        RecordCodec.writeDoubles(out, testLoss);
        RecordCodec.writeDoubles(out, l2);
        RecordCodec.writeDoubles(out, gradientNorm);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        snapshotEpoch = in.readInt();
        isFinal = in.readBoolean();
        featureMode = RecordCodec.readString(in);
        trainExamples = in.readInt();
        testExamples = in.readInt();
        layers = RecordCodec.readStrings(in);
        features = RecordCodec.readInts(in);
        trainAccuracy = RecordCodec.readDoubles(in);
        testAccuracy = RecordCodec.readDoubles(in);
        trainLoss = RecordCodec.readDoubles(in);
        testLoss = RecordCodec.readDoubles(in);
        if (version >= 2) {
            l2 = RecordCodec.readDoubles(in);
            gradientNorm = RecordCodec.readDoubles(in);
        } else {
            l2 = new double[0];
            gradientNorm = new double[0];
        }
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("snapshotEpoch", snapshotEpoch);
        m.put("isFinal", isFinal);
        m.put("featureMode", featureMode);
        m.put("trainExamples", trainExamples);
        m.put("testExamples", testExamples);
        m.put("layers", layers);
        m.put("features", java.util.Arrays.stream(features).boxed().toList());
        m.put("trainAccuracy", RecordCodec.jsonDoubles(trainAccuracy));
        m.put("testAccuracy", RecordCodec.jsonDoubles(testAccuracy));
        m.put("trainLoss", RecordCodec.jsonDoubles(trainLoss));
        m.put("testLoss", RecordCodec.jsonDoubles(testLoss));
        m.put("l2", RecordCodec.jsonDoubles(l2));
        m.put("gradientNorm", RecordCodec.jsonDoubles(gradientNorm));
        return m;
    }

    public int getSnapshotEpoch() {
        return snapshotEpoch;
    }

    public boolean isFinal() {
        return isFinal;
    }

    public String getFeatureMode() {
        return featureMode;
    }

    public int getTrainExamples() {
        return trainExamples;
    }

    public int getTestExamples() {
        return testExamples;
    }

    public List<String> getLayers() {
        return layers;
    }

    public int[] getFeatures() {
        return features.clone();
    }

    public double[] getTrainAccuracy() {
        return trainAccuracy.clone();
    }

    public double[] getTestAccuracy() {
        return testAccuracy.clone();
    }

    public double[] getTrainLoss() {
        return trainLoss.clone();
    }

    public double[] getTestLoss() {
        return testLoss.clone();
    }

    /** Per-layer L2 coefficient of the probe (empty in records written before it was recorded). */
    public double[] getL2() {
        return l2.clone();
    }

    /** Per-layer gradient norm of the probe objective after training (empty in older records). */
    public double[] getGradientNorm() {
        return gradientNorm.clone();
    }
}
