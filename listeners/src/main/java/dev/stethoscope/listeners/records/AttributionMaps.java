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
 * @param inputName       for a network with several inputs (a ComputationGraph), the name of the input that
 *                        {@code height, width, inputs, maps, aopc, randomAopc} describe (its first input); null for
 *                        a network with one input (and in records written before this component existed)
 * @param otherInputs     for a network with several inputs, its second and later inputs in the graph's order, each
 *                        with its own images, maps and AOPC; empty for one input (records written before this
 *                        component existed decode to empty). The completeness gap and the target scores are those
 *                        of the whole network (summed over all inputs' maps)
 */
public record AttributionMaps(List<String> methods, long[] exampleIds, int[] labels, int[] targets, int height,
                              int width, List<float[]> inputs, List<List<float[]>> maps,
                              List<double[]> completenessGap, List<double[]> aopc, double[] randomAopc,
                              double[] targetScores, String inputName, List<InputMaps> otherInputs) {
    public static final String TYPE_ID = "Stethoscope.Attribution";

    /**
     * The maps of one further input of a network with several inputs (see {@link AttributionMaps#otherInputs}).
     *
     * @param name       the input's name (a graph's input vertex)
     * @param height     its image height
     * @param width      its image width
     * @param inputs     per example, the input (mean over channels, h*w, row-major)
     * @param maps       per method, per example, its map (sum over channels, h*w, row-major)
     * @param aopc       per method, per example, the AOPC of the deletion curve over this input's pixels (the other
     *                   inputs kept)
     * @param randomAopc per example, the AOPC of random orderings of this input's pixels
     */
    public record InputMaps(String name, int height, int width, List<float[]> inputs, List<List<float[]>> maps,
                            List<double[]> aopc, double[] randomAopc) {
        /** Checks that nothing is null; sizes are checked by the enclosing record. */
        public InputMaps {
            if (name == null || inputs == null || maps == null || aopc == null || randomAopc == null) {
                throw new IllegalArgumentException("No component of an input's attribution maps may be null");
            }
            if (height < 0 || width < 0) {
                throw new IllegalArgumentException("image " + height + "x" + width);
            }
            inputs = List.copyOf(inputs);
            maps = maps.stream().map(List::copyOf).toList();
            aopc = List.copyOf(aopc);
        }
    }

    /** A record of a network with one input (no input name, no other inputs). */
    public AttributionMaps(List<String> methods, long[] exampleIds, int[] labels, int[] targets, int height,
                           int width, List<float[]> inputs, List<List<float[]>> maps,
                           List<double[]> completenessGap, List<double[]> aopc, double[] randomAopc,
                           double[] targetScores) {
        this(methods, exampleIds, labels, targets, height, width, inputs, maps, completenessGap, aopc, randomAopc,
                targetScores, null, List.of());
    }

    /** Checks every size against methods x examples x pixels (of every input). */
    public AttributionMaps {
        if (methods == null || exampleIds == null || labels == null || targets == null || inputs == null
                || maps == null || completenessGap == null || aopc == null || randomAopc == null
                || targetScores == null) {
            throw new IllegalArgumentException("No component of an attribution record may be null");
        }
        otherInputs = otherInputs == null ? List.of() : List.copyOf(otherInputs);
        if (!otherInputs.isEmpty() && inputName == null) {
            throw new IllegalArgumentException("A record with other inputs must name its first input");
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
        for (InputMaps o : otherInputs) {
            long opx = (long) o.height() * o.width();
            check("inputs of input " + o.name(), o.inputs().size(), n);
            for (float[] in : o.inputs()) {
                check("every input of input " + o.name(), in.length, opx);
            }
            check("maps of input " + o.name(), o.maps().size(), m);
            check("aopc of input " + o.name(), o.aopc().size(), m);
            for (int k = 0; k < m; k++) {
                check("maps of every method of input " + o.name(), o.maps().get(k).size(), n);
                for (float[] a : o.maps().get(k)) {
                    check("every map of input " + o.name(), a.length, opx);
                }
                check("aopc of every method of input " + o.name(), o.aopc().get(k).length, n);
            }
            check("randomAopc of input " + o.name(), o.randomAopc().length, n);
        }
    }

    /** The names of the inputs this record shows, in order ({@code ["input"]} for a network with one input). */
    public List<String> inputNames() {
        List<String> r = new ArrayList<>();
        r.add(inputName == null ? "input" : inputName);
        for (InputMaps o : otherInputs) {
            r.add(o.name());
        }
        return r;
    }

    /** This record's first input as an {@link InputMaps} (named "input" for a network with one input). */
    public InputMaps firstInput() {
        return new InputMaps(inputName == null ? "input" : inputName, height, width, inputs, maps, aopc, randomAopc);
    }

    /** Input {@code j}'s maps: 0 is the first input (the main components), then {@link #otherInputs}. */
    public InputMaps input(int j) {
        return j == 0 ? firstInput() : otherInputs.get(j - 1);
    }

    /** The same record with the given input name and further inputs. */
    public AttributionMaps withInputs(String firstInputName, List<InputMaps> others) {
        return new AttributionMaps(methods, exampleIds, labels, targets, height, width, inputs, maps, completenessGap,
                aopc, randomAopc, targetScores, firstInputName, others);
    }

    /**
     * Splits flat per-input arrays (as {@link #of}) into an {@link InputMaps}: inputs {@code n*h*w}, maps
     * {@code m*n*h*w} (method-major), aopc {@code m*n} (method-major).
     */
    public static InputMaps inputMaps(String name, int methods, int examples, int height, int width, float[] inputs,
                                      float[] maps, double[] aopc, double[] randomAopc) {
        AttributionMaps a = of(java.util.Collections.nCopies(methods, "m"), new long[examples], new int[examples],
                new int[examples], height, width, inputs, maps, new double[methods * examples], aopc, randomAopc,
                new double[examples]);
        return new InputMaps(name, height, width, a.inputs(), a.maps(), a.aopc(), randomAopc);
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
