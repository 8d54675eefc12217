package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation and update health of every layer at one point of training
 * (METHODS.md section 1, "health statistics").
 *
 * <p>Per layer: activation mean and standard deviation, the fraction of dead
 * units (ReLU-family layers only: a unit, or a conv channel, is dead when it is
 * not positive for any example of the batch; NaN for other activations), the L2
 * norm of the layer's parameters and log10(||update|| / ||parameters||) (NaN for
 * layers without parameters or when no update was seen). {@code source} says
 * where the activations came from: {@code "train-batch"} (the training forward
 * pass, training mode) or {@code "probe-batch"} (a fixed batch run through a copy
 * of the network in inference mode, at epoch end).
 */
public class HealthRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Health";

    private String source;
    private List<String> layers;
    private double[] activationMean;
    private double[] activationStd;
    private double[] deadFraction;
    private double[] paramNorm;
    private double[] updateRatioLog10;

    /** For decoding. */
    public HealthRecord() {
    }

    public HealthRecord(String source, List<String> layers, double[] activationMean, double[] activationStd,
                        double[] deadFraction, double[] paramNorm, double[] updateRatioLog10) {
        int n = layers.size();
        for (double[] a : new double[][]{activationMean, activationStd, deadFraction, paramNorm, updateRatioLog10}) {
            if (a.length != n) {
                throw new IllegalArgumentException("Every per-layer array must have " + n + " entries, got " + a.length);
            }
        }
        this.source = source;
        this.layers = List.copyOf(layers);
        this.activationMean = activationMean;
        this.activationStd = activationStd;
        this.deadFraction = deadFraction;
        this.paramNorm = paramNorm;
        this.updateRatioLog10 = updateRatioLog10;
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
        RecordCodec.writeString(out, source);
        RecordCodec.writeStrings(out, layers);
        RecordCodec.writeDoubles(out, activationMean);
        RecordCodec.writeDoubles(out, activationStd);
        RecordCodec.writeDoubles(out, deadFraction);
        RecordCodec.writeDoubles(out, paramNorm);
        RecordCodec.writeDoubles(out, updateRatioLog10);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        source = RecordCodec.readString(in);
        layers = RecordCodec.readStrings(in);
        activationMean = RecordCodec.readDoubles(in);
        activationStd = RecordCodec.readDoubles(in);
        deadFraction = RecordCodec.readDoubles(in);
        paramNorm = RecordCodec.readDoubles(in);
        updateRatioLog10 = RecordCodec.readDoubles(in);
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", source);
        m.put("layers", layers);
        m.put("activationMean", RecordCodec.jsonDoubles(activationMean));
        m.put("activationStd", RecordCodec.jsonDoubles(activationStd));
        m.put("deadFraction", RecordCodec.jsonDoubles(deadFraction));
        m.put("paramNorm", RecordCodec.jsonDoubles(paramNorm));
        m.put("updateRatioLog10", RecordCodec.jsonDoubles(updateRatioLog10));
        return m;
    }

    public String getSource() {
        return source;
    }

    public List<String> getLayers() {
        return layers;
    }

    public double[] getActivationMean() {
        return activationMean;
    }

    public double[] getActivationStd() {
        return activationStd;
    }

    public double[] getDeadFraction() {
        return deadFraction;
    }

    public double[] getParamNorm() {
        return paramNorm;
    }

    public double[] getUpdateRatioLog10() {
        return updateRatioLog10;
    }
}
