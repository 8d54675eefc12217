package dev.stethoscope.listeners.records;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Explanation heatmaps of a fixed example set at one checkpoint (METHODS.md section 8); record
 * type {@value #TYPE_ID}. For {@code m} methods and {@code n} examples of {@code height x width}
 * pixels; images are downsampled by block averaging when larger than the listener's limit.
 *
 * @param methods         the attribution methods' names (m)
 * @param exampleIds      the examples' ids (n)
 * @param labels          per example, its label
 * @param targets         per example, the explained class
 * @param height          image height
 * @param width           image width
 * @param inputs          per example, the input (mean over channels, h*w, row-major)
 * @param maps            per method, per example, the map (sum over channels, h*w, row-major)
 * @param completenessGap per method, per example, the completeness gap (NaN when the method has none)
 * @param aopc            per method, per example, the AOPC of its deletion curve
 * @param randomAopc      per example, the AOPC of random orderings
 * @param targetScores    per example, f_c(x)
 */
public record AttributionMaps(List<String> methods, long[] exampleIds, int[] labels, int[] targets, int height,
                              int width, List<float[]> inputs, List<List<float[]>> maps,
                              List<double[]> completenessGap, List<double[]> aopc, double[] randomAopc,
                              double[] targetScores) {
    public static final String TYPE_ID = "Stethoscope.Attribution";

    /** Checks every size against methods x examples x pixels. */
    public AttributionMaps {
        if (methods == null || exampleIds == null || labels == null || targets == null || inputs == null
                || maps == null || completenessGap == null || aopc == null || randomAopc == null
                || targetScores == null) {
            throw new IllegalArgumentException("No component of an attribution record may be null");
        }
        if (height < 0 || width < 0) {
            throw new IllegalArgumentException("image " + height + "x" + width);
        }
        methods = List.copyOf(methods);
        inputs = List.copyOf(inputs);
        maps = maps.stream().map(List::copyOf).toList();
        completenessGap = List.copyOf(completenessGap);
        aopc = List.copyOf(aopc);
        int m = methods.size();
        int n = exampleIds.length;
        long px = (long) height * width;
        check("labels", labels.length, n);
        check("targets", targets.length, n);
        check("randomAopc", randomAopc.length, n);
        check("targetScores", targetScores.length, n);
        check("inputs", inputs.size(), n);
        for (float[] in : inputs) {
            check("every input", in.length, px);
        }
        check("maps", maps.size(), m);
        check("completenessGap", completenessGap.size(), m);
        check("aopc", aopc.size(), m);
        for (int k = 0; k < m; k++) {
            check("maps of every method", maps.get(k).size(), n);
            for (float[] a : maps.get(k)) {
                check("every map", a.length, px);
            }
            check("completenessGap of every method", completenessGap.get(k).length, n);
            check("aopc of every method", aopc.get(k).length, n);
        }
    }

    private static void check(String what, long got, long want) {
        if (got != want) {
            throw new IllegalArgumentException(what + " must have " + want + " entries, got " + got);
        }
    }

    /**
     * A record from flat arrays: inputs {@code n*h*w} (row-major per example), maps {@code m*n*h*w}
     * (method-major), gaps and aopc {@code m*n} (method-major).
     */
    public static AttributionMaps of(List<String> methods, long[] exampleIds, int[] labels, int[] targets, int height,
                                     int width, float[] inputs, float[] maps, double[] gaps, double[] aopc,
                                     double[] randomAopc, double[] targetScores) {
        int m = methods.size();
        int n = exampleIds.length;
        int px = height * width;
        check("inputs", inputs.length, (long) n * px);
        check("maps", maps.length, (long) m * n * px);
        check("gaps", gaps.length, (long) m * n);
        check("aopc", aopc.length, (long) m * n);
        List<float[]> in = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            in.add(Arrays.copyOfRange(inputs, i * px, (i + 1) * px));
        }
        List<List<float[]>> mp = new ArrayList<>(m);
        List<double[]> g = new ArrayList<>(m);
        List<double[]> a = new ArrayList<>(m);
        for (int k = 0; k < m; k++) {
            List<float[]> per = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int off = (k * n + i) * px;
                per.add(Arrays.copyOfRange(maps, off, off + px));
            }
            mp.add(per);
            g.add(Arrays.copyOfRange(gaps, k * n, (k + 1) * n));
            a.add(Arrays.copyOfRange(aopc, k * n, (k + 1) * n));
        }
        return new AttributionMaps(methods, exampleIds, labels, targets, height, width, in, mp, g, a, randomAopc,
                targetScores);
    }

    /** The map of method {@code k} for example {@code i}. */
    public float[] map(int k, int i) {
        return maps.get(k).get(i);
    }

    /** The completeness gap of method {@code k} for example {@code i} (NaN: none). */
    public double gap(int k, int i) {
        return completenessGap.get(k)[i];
    }

    /** The AOPC of method {@code k} for example {@code i}. */
    public double aopc(int k, int i) {
        return aopc.get(k)[i];
    }
}
