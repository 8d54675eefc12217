package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Explanation heatmaps of a fixed example set at one checkpoint (METHODS.md section 8).
 *
 * <p>For {@code m} methods and {@code n} examples of {@code height x width} pixels: the inputs (mean over
 * channels, {@code n*h*w}, row-major), the maps (sum over channels, {@code m*n*h*w}, method-major), each
 * downsampled by block averaging when larger than the listener's limit; per method and example the
 * completeness gap (NaN when the method has none) and the AOPC of its deletion curve; per example the AOPC of
 * random orderings and f_c(x).
 */
public class AttributionRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Attribution";

    private List<String> methods;
    private long[] exampleIds;
    private int[] labels;
    private int[] targets;
    private int height;
    private int width;
    private float[] inputs;
    private float[] maps;
    private double[] gaps;
    private double[] aopc;
    private double[] randomAopc;
    private double[] targetScores;

    /** For decoding. */
    public AttributionRecord() {
    }

    /** A record; array lengths are checked against methods x examples x pixels. */
    public AttributionRecord(List<String> methods, long[] exampleIds, int[] labels, int[] targets, int height, int width,
                             float[] inputs, float[] maps, double[] gaps, double[] aopc, double[] randomAopc,
                             double[] targetScores) {
        int m = methods.size();
        int n = exampleIds.length;
        int px = height * width;
        check("labels", labels.length, n);
        check("targets", targets.length, n);
        check("inputs", inputs.length, n * px);
        check("maps", maps.length, m * n * px);
        check("gaps", gaps.length, m * n);
        check("aopc", aopc.length, m * n);
        check("randomAopc", randomAopc.length, n);
        check("targetScores", targetScores.length, n);
        this.methods = List.copyOf(methods);
        this.exampleIds = exampleIds;
        this.labels = labels;
        this.targets = targets;
        this.height = height;
        this.width = width;
        this.inputs = inputs;
        this.maps = maps;
        this.gaps = gaps;
        this.aopc = aopc;
        this.randomAopc = randomAopc;
        this.targetScores = targetScores;
    }

    private static void check(String what, int got, int want) {
        if (got != want) {
            throw new IllegalArgumentException(what + " must have " + want + " entries, got " + got);
        }
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
        RecordCodec.writeStrings(out, methods);
        RecordCodec.writeLongs(out, exampleIds);
        RecordCodec.writeInts(out, labels);
        RecordCodec.writeInts(out, targets);
        out.writeInt(height);
        out.writeInt(width);
        RecordCodec.writeFloats(out, inputs);
        RecordCodec.writeFloats(out, maps);
        RecordCodec.writeDoubles(out, gaps);
        RecordCodec.writeDoubles(out, aopc);
        RecordCodec.writeDoubles(out, randomAopc);
        RecordCodec.writeDoubles(out, targetScores);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        methods = RecordCodec.readStrings(in);
        exampleIds = RecordCodec.readLongs(in);
        labels = RecordCodec.readInts(in);
        targets = RecordCodec.readInts(in);
        height = in.readInt();
        width = in.readInt();
        inputs = RecordCodec.readFloats(in);
        maps = RecordCodec.readFloats(in);
        gaps = RecordCodec.readDoubles(in);
        aopc = RecordCodec.readDoubles(in);
        randomAopc = RecordCodec.readDoubles(in);
        targetScores = RecordCodec.readDoubles(in);
    }

    @Override
    protected void validateBody() throws IOException {
        if (height < 0 || width < 0) {
            throw new IOException("Corrupt attribution record: image " + height + "x" + width);
        }
        if (exampleIds == null || methods == null) {
            return;
        }
        long n = exampleIds.length;
        long px = (long) height * width;
        long k = methods.size();
        if ((inputs != null && inputs.length < n * px) || (maps != null && maps.length < k * n * px)
                || (gaps != null && gaps.length < k * n) || (aopc != null && aopc.length < k * n)) {
            throw new IOException("Corrupt attribution record: arrays too short for " + k + " methods x " + n
                    + " examples of " + height + "x" + width);
        }
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        int n = exampleIds.length;
        int px = height * width;
        m.put("methods", methods);
        m.put("exampleIds", exampleIds);
        m.put("labels", labels);
        m.put("targets", targets);
        m.put("height", height);
        m.put("width", width);
        List<float[]> in = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            in.add(java.util.Arrays.copyOfRange(inputs, i * px, (i + 1) * px));
        }
        m.put("inputs", in);
        List<List<float[]>> mp = new ArrayList<>();
        List<List<Double>> g = new ArrayList<>();
        List<List<Double>> a = new ArrayList<>();
        for (int k = 0; k < methods.size(); k++) {
            List<float[]> per = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int off = (k * n + i) * px;
                per.add(java.util.Arrays.copyOfRange(maps, off, off + px));
            }
            mp.add(per);
            g.add(RecordCodec.jsonDoubles(java.util.Arrays.copyOfRange(gaps, k * n, (k + 1) * n)));
            a.add(RecordCodec.jsonDoubles(java.util.Arrays.copyOfRange(aopc, k * n, (k + 1) * n)));
        }
        m.put("maps", mp);
        m.put("completenessGap", g);
        m.put("aopc", a);
        m.put("randomAopc", RecordCodec.jsonDoubles(randomAopc));
        m.put("targetScores", RecordCodec.jsonDoubles(targetScores));
        return m;
    }

    public List<String> getMethods() {
        return methods;
    }

    public long[] getExampleIds() {
        return exampleIds;
    }

    public int[] getLabels() {
        return labels;
    }

    public int[] getTargets() {
        return targets;
    }

    public int getHeight() {
        return height;
    }

    public int getWidth() {
        return width;
    }

    public float[] getInputs() {
        return inputs;
    }

    /** Maps, method-major: index ((method * n) + example) * h * w + pixel. */
    public float[] getMaps() {
        return maps;
    }

    /** Completeness gaps, index method * n + example (NaN: none). */
    public double[] getGaps() {
        return gaps;
    }

    /** AOPC, index method * n + example. */
    public double[] getAopc() {
        return aopc;
    }

    public double[] getRandomAopc() {
        return randomAopc;
    }

    public double[] getTargetScores() {
        return targetScores;
    }
}
