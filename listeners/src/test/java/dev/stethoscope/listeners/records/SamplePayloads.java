package dev.stethoscope.listeners.records;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One payload of every built-in record type with realistic content (NaN where the listeners
 * write NaN, nulls where they write null). The committed fixture bytes
 * ({@code records/fixtures-v1.txt}) are these payloads encoded: do not change them, add new
 * samples instead.
 */
final class SamplePayloads {
    private SamplePayloads() {
    }

    static Map<String, Record> all() {
        Map<String, Record> m = new LinkedHashMap<>();
        m.put(Health.TYPE_ID, new Health("probe-batch", List.of("conv1", "dense", "output"),
                new double[]{0.41, 0.22, 0.1}, new double[]{0.9, 0.5, 0.2}, new double[]{0.125, 0.0, Double.NaN},
                new double[]{12.5, 8.25, 3.0}, new double[]{-2.9, -3.4, Double.NaN}));
        m.put(ProbeAccuracy.TYPE_ID, new ProbeAccuracy(3, true, "GLOBAL_AVERAGE_POOL", 2000, 1000,
                List.of("conv1", "dense"), new int[]{20, 500}, new double[]{0.91, 0.97}, new double[]{0.89, 0.96},
                new double[]{0.31, 0.12}, new double[]{0.35, 0.14}, new double[]{1e-3, 1e-4},
                new double[]{2e-6, 5e-7}));
        m.put(SimilarityTable.TYPE_ID, SimilarityTable.of(SimilarityTable.VS_FINAL, "svcca", 4, 4, 500,
                List.of("epoch 0", "epoch 2"), new int[]{0, 2}, List.of("dense1", "dense2"),
                new double[]{0.41, Double.NaN, 0.93, 0.88}, new int[]{0, SimilarityTable.UNDERDETERMINED,
                        SimilarityTable.FEW_POINTS, 0}));
        Map<String, String> lass = new LinkedHashMap<>();
        lass.put("radius", "0.0157");
        lass.put("steps", "10");
        m.put(Memorization.TYPE_ID, Memorization.builder().csr(0.125, 25, 200, 3.5, 1234).csrCertified(120)
                .csrRadius(4.0 / 255, "default").train(0.95, 0.18, 500, 0.21).validation(0.91, 0.29, 200)
                .sensitivity(0.33, 0.35, 0.012, 4).perClass(new double[][]{{1.5, 0.2}, {Double.NaN, 2.5}})
                .parameters(lass).build());
        FeatureSnapshot.FeatureImage crop = new FeatureSnapshot.FeatureImage(1, 2, 2, 3, 4, new float[]{0, 0.5f, 1, Float.NaN});
        FeatureSnapshot.FeatureImage proj = new FeatureSnapshot.FeatureImage(1, 2, 2, 3, 4, new float[]{-1, 0, 2, 0.25f});
        m.put(FeatureSnapshot.TYPE_ID, new FeatureSnapshot(0, "conv1", "ConvolutionLayer", 5, 9,
                List.of(new FeatureSnapshot.FeatureUnit(3, new double[]{2.5, 1.25}, new long[]{42, 7}, new int[]{1, 0},
                        new int[]{2, 5}, true, List.of(crop, crop), List.of(proj, proj)),
                        new FeatureSnapshot.FeatureUnit(4, new double[0], new long[0], new int[0], new int[0], false,
                                List.of(), List.of())),
                2, 0.5, 0.75, -1, List.of(new FeatureSnapshot.FeatureImage(1, 1, 2, 0, 0, new float[]{0.1f, -0.2f})),
                new FeatureSnapshot.FeatureHistogram(-1, 1, new long[]{3, 0, 5}, 1, 0, 2),
                new FeatureSnapshot.FeatureHistogram(0, 4, new long[]{10, 2}, 0, 1, 0), List.of("top", "bottom <b>")));
        m.put(FeatureProjection.TYPE_ID, new FeatureProjection(4, "dense", 2, new float[]{0.5f, -1.25f, 2f},
                new float[]{-0.5f, 0f, Float.NaN}, new int[]{3, 7, -1}, new double[]{0.4, 0.2}, 0.125, 1.5));
        m.put(LossSensitivitySample.TYPE_ID, new LossSensitivitySample(0.0123, 0.41, 0.38, 500));
        m.put(AttributionMaps.TYPE_ID, AttributionMaps.of(List.of("saliency", "ig"), new long[]{10, 42},
                new int[]{3, 7}, new int[]{3, 1}, 2, 2,
                new float[]{0, 0.5f, 1, 0.25f, 0.1f, 0.2f, 0.3f, 0.4f},
                new float[]{0.1f, -0.2f, 0.3f, 0, 1, 2, 3, 4, -1, -2, -3, Float.NaN, 5, 6, 7, 8},
                new double[]{Double.NaN, Double.NaN, 0.01, -0.02}, new double[]{0.5, 0.6, 0.7, 0.8},
                new double[]{0.2, 0.3}, new double[]{4.5, 2.25}).withInputs("top",
                List.of(AttributionMaps.inputMaps("bottom <b>", 2, 2, 1, 2, new float[]{0.5f, 0.25f, 1, 0},
                        new float[]{0.1f, 0.2f, -0.3f, 0.4f, 1, -1, 0.5f, Float.NaN},
                        new double[]{0.11, 0.12, 0.13, 0.14}, new double[]{0.05, 0.06}))));
        double[] values = {2.5, -1.25, 0.3, 0.1, 0.2, 3, -1, 1.9, 2.2, 1.5, -0.5, 0.4, 0.2, 0.4, 1, 5, 0.8, 0.9};
        m.put(Suspects.TYPE_ID, Suspects.of("train-pass", 60000, 10, List.of("seen", "meanAum"),
                new double[]{60000, Double.NaN}, new long[]{17, 4242}, new int[]{3, 8}, new int[]{5, 8},
                Suspects.COLUMNS, values, new long[]{1, 2, 2}, new byte[]{0, (byte) 255, 7, 9, 1, 2, 3, 4},
                new float[]{0, Float.NaN}, new float[]{1, Float.NaN})
                .withDataMap(new int[]{17, 4242, 5}, new float[]{0.1f, 0.2f, 0.9f}, new float[]{0.05f, 0.3f, 0.01f},
                        new float[]{0, 0.25f, 1})
                .withMetrics(600, List.of("combined", "aum"), new double[]{0.8, 0.7}, new double[]{0.6, 0.55},
                        new double[]{0.97, 0.95}));
        m.put(SuspectTable.TYPE_ID, SuspectTable.of(2, 3, new int[]{0, 2, -1}, new int[]{0, 1, -1},
                new int[]{2, 2, 0}, new int[]{0, 1, 0}, new int[]{1, -1, -1},
                new float[][]{{0.1f, 2.5f, Float.NaN}, {1.2f, -0.8f, Float.NaN}, {0.9f, 0.2f, Float.NaN},
                        {0.05f, 0.1f, Float.NaN}, {1, 0, Float.NaN}, {0.1f, 1.9f, Float.NaN},
                        {0.08f, 2.1f, Float.NaN}}, new long[]{1}));
        m.put(SuspectMark.TYPE_ID, new SuspectMark(4242, 8, "mislabeled", 5));
        m.put(MonitorError.TYPE_ID, new MonitorError("svcca", "epoch-end", "java.lang.IllegalStateException",
                "boom", "java.lang.IllegalStateException: boom\n\tat x.y(Z.java:1)", 4));
        m.put(AssertionFinding.TYPE_ID, new AssertionFinding("dying-relu", "ERROR",
                "Layer 0: 100 % of activations are zero <for 10 steps>", "step", 3, 12, false, "stop", "training",
                "example-index", 7, 10, new long[]{1, 2, 2}, List.of(
                new AssertionFinding.Example(4242, 3.5, 8, 5, new int[]{1, 2, 1}, 0, 1, new byte[]{0, (byte) 255, 7, 9}),
                new AssertionFinding.Example(17, Double.NaN, -1, 2, null, Float.NaN, Float.NaN, null)),
                "dying-relu-epoch1-iter12.zip"));
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("every", "10");
        settings.put("layers", "all");
        m.put(RunInfo.TYPE_ID, new RunInfo("health", "MultiLayerNetwork", 431080, List.of("conv1", "dense"),
                List.of("ConvolutionLayer", "DenseLayer"), settings));
        return m;
    }
}
