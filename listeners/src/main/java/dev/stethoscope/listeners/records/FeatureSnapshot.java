package dev.stethoscope.listeners.records;

import java.util.List;

/**
 * One layer's feature-evolution snapshot at one scheduled epoch (Zeiler &amp; Fergus 2014, Figs. 2 and 4;
 * METHODS.md section 1): for each tracked unit its strongest training activations of that epoch with the
 * input crops and deconvnet projections, how the exemplars changed since the previous snapshot, and the
 * layer's weight and activation histograms on fixed bins. Record type {@value #TYPE_ID}.
 *
 * @param layer           DL4J layer index
 * @param layerName       the layer's name
 * @param layerType       the layer's configuration class (simple name)
 * @param snapshotEpoch   the epoch (1-based, completed epochs) this snapshot was taken after
 * @param k               entries kept per unit (9 in the paper)
 * @param units           the tracked units, in unit order (conv: channel; dense: neuron)
 * @param comparedUnits   units compared with the previous snapshot (0 at the first snapshot)
 * @param changedFraction fraction of compared units whose top-1 example changed (NaN at the first snapshot)
 * @param meanOverlap     mean top-k overlap with the previous snapshot, in [0, 1] (NaN at the first snapshot)
 * @param settledAt       the layer's "settled at" epoch over the snapshots so far (-1 while not settled)
 * @param filters         first-layer filters as images (empty for other layers)
 * @param weights         histogram of the layer's weights "W" (bins fixed at the first snapshot; no bins when it has
 *                        none)
 * @param activations     histogram of the layer's activations on the fixed probe examples (bins fixed at the first
 *                        snapshot)
 * @param inputs          for a graph with several inputs, the names of the inputs that reach this layer, in the
 *                        graph's order (the unit's {@link FeatureUnit#input} first, then its
 *                        {@link FeatureUnit#otherInputs}; a first layer's filters are in its one input); empty for a
 *                        network with one input (and in records written before this component existed)
 */
public record FeatureSnapshot(int layer, String layerName, String layerType, int snapshotEpoch, int k,
                              List<FeatureUnit> units, int comparedUnits, double changedFraction, double meanOverlap,
                              int settledAt, List<FeatureImage> filters, FeatureHistogram weights,
                              FeatureHistogram activations, List<String> inputs) {
    /** The record type id. */
    public static final String TYPE_ID = "Stethoscope.FeatureSnapshot";

    /** A snapshot of a network with one input (no input names). */
    public FeatureSnapshot(int layer, String layerName, String layerType, int snapshotEpoch, int k,
                           List<FeatureUnit> units, int comparedUnits, double changedFraction, double meanOverlap,
                           int settledAt, List<FeatureImage> filters, FeatureHistogram weights,
                           FeatureHistogram activations) {
        this(layer, layerName, layerType, snapshotEpoch, k, units, comparedUnits, changedFraction, meanOverlap,
                settledAt, filters, weights, activations, List.of());
    }

    public FeatureSnapshot {
        inputs = inputs == null ? List.of() : List.copyOf(inputs);
        layerName = layerName == null ? "" : layerName;
        layerType = layerType == null ? "" : layerType;
        units = units == null ? List.of() : List.copyOf(units);
        filters = filters == null ? List.of() : List.copyOf(filters);
        weights = weights == null ? FeatureHistogram.EMPTY : weights;
        activations = activations == null ? FeatureHistogram.EMPTY : activations;
        if (layer < 0 || k < 1 || snapshotEpoch < 0) {
            throw new IllegalArgumentException("FeatureSnapshot: layer " + layer + ", k " + k + ", epoch "
                    + snapshotEpoch + " out of range");
        }
        if (comparedUnits < 0 || comparedUnits > units.size()) {
            throw new IllegalArgumentException("FeatureSnapshot: comparedUnits " + comparedUnits + " of "
                    + units.size() + " units");
        }
    }

    /**
     * One unit's top-k at a snapshot, best first.
     *
     * @param unit        the unit id (conv: channel; dense: neuron)
     * @param values      activation values, descending
     * @param examples    example index of each value (see the listener's Javadoc for what an index means)
     * @param ys          row of the output position of each value (0 for dense units)
     * @param xs          column of the output position of each value (0 for dense units)
     * @param top1Changed whether the top-1 example differs from the previous snapshot's
     * @param crops       the receptive-field crop of the input of each entry (may be empty)
     * @param projections the deconvnet projection of each entry, cropped to the same window (empty when the layer
     *                    stack is not supported by the deconvnet)
     * @param input       for a graph with several inputs, the input {@code crops} and {@code projections} are in (the
     *                    first input that reaches the unit); null for a network with one input (and in records
     *                    written before this component existed)
     * @param otherInputs for a graph with several inputs, the crops and projections of each entry in every further
     *                    input that reaches the unit (a unit behind a merge sees several inputs), in the graph's
     *                    order; empty otherwise
     */
    public record FeatureUnit(int unit, double[] values, long[] examples, int[] ys, int[] xs, boolean top1Changed,
                              List<FeatureImage> crops, List<FeatureImage> projections, String input,
                              List<InputImages> otherInputs) {
        /** A unit of a network with one input. */
        public FeatureUnit(int unit, double[] values, long[] examples, int[] ys, int[] xs, boolean top1Changed,
                           List<FeatureImage> crops, List<FeatureImage> projections) {
            this(unit, values, examples, ys, xs, top1Changed, crops, projections, null, List.of());
        }

        public FeatureUnit {
            otherInputs = otherInputs == null ? List.of() : List.copyOf(otherInputs);
            values = values == null ? new double[0] : values;
            examples = examples == null ? new long[0] : examples;
            ys = ys == null ? new int[0] : ys;
            xs = xs == null ? new int[0] : xs;
            crops = crops == null ? List.of() : List.copyOf(crops);
            projections = projections == null ? List.of() : List.copyOf(projections);
            int n = values.length;
            if (examples.length != n || ys.length != n || xs.length != n) {
                throw new IllegalArgumentException("FeatureUnit " + unit + ": values, examples, ys, xs differ in length");
            }
            if (crops.size() > n || projections.size() > n) {
                throw new IllegalArgumentException("FeatureUnit " + unit + ": more images than entries");
            }
            for (InputImages o : otherInputs) {
                if (o.crops().size() > n || o.projections().size() > n) {
                    throw new IllegalArgumentException("FeatureUnit " + unit + ": more images than entries in input '"
                            + o.name() + "'");
                }
            }
        }
    }

    /**
     * A unit's top-k entries seen in one further input of a graph with several inputs (see
     * {@link FeatureUnit#otherInputs}).
     *
     * @param name        the input's name (a graph input vertex)
     * @param crops       the receptive-field crop of each entry in this input (the whole input where the unit sees
     *                    all of it)
     * @param projections the deconvnet projection of each entry into this input, cut to the same window (empty when
     *                    the deconvnet does not support the graph)
     */
    public record InputImages(String name, List<FeatureImage> crops, List<FeatureImage> projections) {
        public InputImages {
            name = name == null ? "" : name;
            crops = crops == null ? List.of() : List.copyOf(crops);
            projections = projections == null ? List.of() : List.copyOf(projections);
        }
    }

    /**
     * A small image: {@code channels x height x width} floats in CHW order, placed at {@code (y0, x0)} in input
     * coordinates (0, 0 for filters).
     *
     * @param channels channels
     * @param height   rows
     * @param width    columns
     * @param y0       first input row covered
     * @param x0       first input column covered
     * @param pixels   {@code channels * height * width} values
     */
    public record FeatureImage(int channels, int height, int width, int y0, int x0, float[] pixels) {
        public FeatureImage {
            pixels = pixels == null ? new float[0] : pixels;
            if (channels < 0 || height < 0 || width < 0
                    || (long) channels * height * width != pixels.length) {
                throw new IllegalArgumentException("FeatureImage: " + channels + "x" + height + "x" + width
                        + " does not match " + pixels.length + " pixels");
            }
        }
    }

    /**
     * Counts on fixed bins (see {@code FixedBinHistogram}).
     *
     * @param lo        lower edge of the first bin
     * @param hi        upper edge of the last bin
     * @param bins      count per bin
     * @param underflow values below lo
     * @param overflow  values above hi
     * @param nan       NaN values
     */
    public record FeatureHistogram(double lo, double hi, long[] bins, long underflow, long overflow, long nan) {
        /** No values, no bins. */
        public static final FeatureHistogram EMPTY = new FeatureHistogram(0, 0, new long[0], 0, 0, 0);

        public FeatureHistogram {
            bins = bins == null ? new long[0] : bins;
        }
    }
}
