package dev.stethoscope.listeners.records;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The suspected mislabeled training examples at the end of one epoch (METHODS.md section 7),
 * published by {@link dev.stethoscope.listeners.dynamics.TrainingDynamicsListener}; record type
 * {@value #TYPE_ID}.
 *
 * @param capture      where the logits came from ("train-pass" or "inference-copy")
 * @param numExamples  N, training examples observed
 * @param numClasses   number of classes
 * @param summary      summary statistics of the training dynamics of all observed examples, by name
 * @param columns      the names of the per-suspect statistics, {@link #COLUMNS}
 * @param featureShape the shape of one example's features (without the batch dimension)
 * @param suspects     the top-K suspects, most suspicious first
 * @param dataMap      the data-map sample (confidence, variability and correctness of a
 *                     deterministic sample of examples plus every suspect), for the scatter
 * @param numFlipped   the number of known flipped (noisy) labels, 0 if unknown
 * @param metrics      when the flipped indices are known: the ranking quality of each score
 */
public record Suspects(String capture, int numExamples, int numClasses, Map<String, Double> summary,
                       List<String> columns, long[] featureShape, List<Suspect> suspects, DataMap dataMap,
                       int numFlipped, List<Metric> metrics) {
    public static final String TYPE_ID = "Stethoscope.Suspects";

    /** The per-suspect statistics, in the order of {@link Suspect}'s components. */
    public static final List<String> COLUMNS = List.of("combined", "aum", "confidence", "variability",
            "correctness", "forgetting", "learnedSince", "meanLoss", "lastLoss");

    /** Copies the collections; checks the feature shape and every suspect's features against it. */
    public Suspects {
        summary = summary == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(summary));
        columns = columns == null ? COLUMNS : List.copyOf(columns);
        suspects = suspects == null ? List.of() : List.copyOf(suspects);
        metrics = metrics == null ? List.of() : List.copyOf(metrics);
        dataMap = dataMap == null ? DataMap.EMPTY : dataMap;
        featureShape = featureShape == null ? new long[]{0} : featureShape;
        long d = 1;
        for (long s : featureShape) {
            if (s < 0 || s > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("feature shape " + Arrays.toString(featureShape));
            }
            d *= s;
            if (d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("feature shape " + Arrays.toString(featureShape));
            }
        }
        for (Suspect s : suspects) {
            if (s == null) {
                throw new IllegalArgumentException("null suspect");
            }
            if (s.pixels() != null && s.pixels().length != d) {
                throw new IllegalArgumentException("suspect #" + s.index() + " has " + s.pixels().length
                        + " feature bytes, its shape " + Arrays.toString(featureShape) + " needs " + d);
            }
        }
    }

    /**
     * One suspect: its rank (1 = most suspicious), example index, given and predicted (latest
     * observation) label, the statistics of {@link #COLUMNS} (the combined score, higher = more
     * suspicious, and the raw statistics it is built from), and its raw features, so the UI can
     * render it without the data set: {@code pixels} holds prod(featureShape) bytes, value =
     * lo + byte/255 * (hi - lo); features in [0, 1] (images) get lo = 0, hi = 1, so an 8-bit image
     * is exact. A suspect whose features were not captured has lo = hi = NaN and no pixels.
     */
    public record Suspect(int rank, long index, int given, int predicted, double combined, double aum,
                          double confidence, double variability, double correctness, double forgetting,
                          double learnedSince, double meanLoss, double lastLoss, float lo, float hi, byte[] pixels) {

        /** The value of one of {@link #COLUMNS}; throws listing the valid names. */
        public double value(String column) {
            return switch (column) {
                case "combined" -> combined;
                case "aum" -> aum;
                case "confidence" -> confidence;
                case "variability" -> variability;
                case "correctness" -> correctness;
                case "forgetting" -> forgetting;
                case "learnedSince" -> learnedSince;
                case "meanLoss" -> meanLoss;
                case "lastLoss" -> lastLoss;
                default -> throw new IllegalArgumentException("No column '" + column + "'. Valid: " + COLUMNS);
            };
        }

        /** The decoded features, or null if they were not captured. */
        public float[] features() {
            if (pixels == null || Float.isNaN(lo)) {
                return null;
            }
            float[] out = new float[pixels.length];
            float span = hi - lo;
            for (int j = 0; j < out.length; j++) {
                out[j] = lo + (pixels[j] & 0xff) / 255f * span;
            }
            return out;
        }
    }

    /** The data-map sample: parallel arrays, one entry per sampled example. */
    public record DataMap(int[] index, float[] confidence, float[] variability, float[] correctness) {
        /** No sample. */
        public static final DataMap EMPTY = new DataMap(new int[0], new float[0], new float[0], new float[0]);

        /** Checks that the arrays are parallel. */
        public DataMap {
            if (index == null || confidence == null || variability == null || correctness == null
                    || confidence.length != index.length || variability.length != index.length
                    || correctness.length != index.length) {
                throw new IllegalArgumentException("data map arrays differ in length");
            }
        }
    }

    /** Ranking quality of one score against the known flipped indices: precision@k, recall@k (k = flipped), AUROC. */
    public record Metric(String score, double precisionAtK, double recallAtK, double auroc) {
    }

    /**
     * Suspects from flat arrays, as the listener computes them.
     *
     * @param values   [suspects][{@link #COLUMNS}], row-major
     * @param features [suspects][prod(featureShape)] quantised bytes
     * @param lo       per suspect value of byte 0 (NaN: not captured)
     * @param hi       per suspect value of byte 255
     */
    public static Suspects of(String capture, int numExamples, int numClasses, List<String> summaryNames,
                              double[] summaryValues, long[] index, int[] given, int[] predicted,
                              List<String> columns, double[] values, long[] featureShape, byte[] features,
                              float[] lo, float[] hi) {
        if (!COLUMNS.equals(columns)) {
            throw new IllegalArgumentException("columns must be " + COLUMNS + ", got " + columns);
        }
        int k = index.length;
        int c = COLUMNS.size();
        if (given.length != k || predicted.length != k || lo.length != k || hi.length != k) {
            throw new IllegalArgumentException("Every per-suspect array must have " + k + " entries");
        }
        if (values.length != k * c) {
            throw new IllegalArgumentException("values must hold " + k + " x " + c + " entries, got " + values.length);
        }
        if (summaryNames.size() != summaryValues.length) {
            throw new IllegalArgumentException("summary names and values differ in length");
        }
        long d = 1;
        for (long s : featureShape) {
            d *= s;
        }
        if (features.length != k * d) {
            throw new IllegalArgumentException("features must hold " + k + " x " + d + " bytes, got "
                    + features.length);
        }
        Map<String, Double> summary = new LinkedHashMap<>();
        for (int i = 0; i < summaryNames.size(); i++) {
            summary.put(summaryNames.get(i), summaryValues[i]);
        }
        List<Suspect> rows = new ArrayList<>(k);
        for (int s = 0; s < k; s++) {
            double[] v = Arrays.copyOfRange(values, s * c, (s + 1) * c);
            boolean has = !Float.isNaN(lo[s]);
            byte[] px = has ? Arrays.copyOfRange(features, (int) (s * d), (int) ((s + 1) * d)) : null;
            rows.add(new Suspect(s + 1, index[s], given[s], predicted[s], v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                    v[7], v[8], has ? lo[s] : Float.NaN, has ? hi[s] : Float.NaN, px));
        }
        return new Suspects(capture, numExamples, numClasses, summary, COLUMNS, featureShape, rows, DataMap.EMPTY,
                0, List.of());
    }

    /** These suspects with the data-map sample (parallel arrays). */
    public Suspects withDataMap(int[] idx, float[] confidence, float[] variability, float[] correctness) {
        return new Suspects(capture, numExamples, numClasses, summary, columns, featureShape, suspects,
                new DataMap(idx, confidence, variability, correctness), numFlipped, metrics);
    }

    /** These suspects with the ranking quality against the known flipped indices (one entry per score). */
    public Suspects withMetrics(int numFlipped, List<String> scores, double[] precision, double[] recall,
                                double[] auroc) {
        if (precision.length != scores.size() || recall.length != scores.size() || auroc.length != scores.size()) {
            throw new IllegalArgumentException("metric arrays differ in length");
        }
        List<Metric> m = new ArrayList<>();
        for (int i = 0; i < scores.size(); i++) {
            m.add(new Metric(scores.get(i), precision[i], recall[i], auroc[i]));
        }
        return new Suspects(capture, numExamples, numClasses, summary, columns, featureShape, suspects, dataMap,
                numFlipped, m);
    }

    /** The example indices of the suspects, most suspicious first. */
    public long[] indices() {
        return suspects.stream().mapToLong(Suspect::index).toArray();
    }

    /** A summary statistic by name; throws listing valid names. */
    public double summary(String name) {
        Double v = summary.get(name);
        if (v == null && !summary.containsKey(name)) {
            throw new IllegalArgumentException("No summary '" + name + "'. Valid: " + summary.keySet());
        }
        return v == null ? Double.NaN : v;
    }

    /** The value of {@code column} for suspect {@code s} (rank s+1); throws listing valid columns. */
    public double value(int s, String column) {
        return suspects.get(s).value(column);
    }

    /** The metrics of {@code score}; throws listing the available scores. */
    public Metric metric(String score) {
        for (Metric m : metrics) {
            if (m.score().equals(score)) {
                return m;
            }
        }
        throw new IllegalArgumentException("No metrics for score '" + score + "'. Available: "
                + metrics.stream().map(Metric::score).toList());
    }
}
