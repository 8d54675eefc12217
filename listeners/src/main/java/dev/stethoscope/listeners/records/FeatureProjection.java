package dev.stethoscope.listeners.records;

/**
 * The 2-D projection of one layer's activations on a fixed set of held-out probe points at one scheduled epoch
 * (feature evolution, issue 13): PCA to two axes, aligned to the previous snapshot's points by orthogonal
 * Procrustes so that points do not jump between epochs, one class per point for colouring. Record type
 * {@value #TYPE_ID}.
 *
 * @param layer            DL4J layer index
 * @param layerName        the layer's name
 * @param snapshotEpoch    the epoch (1-based, completed epochs) this projection was taken after
 * @param xs               first coordinate of each probe point (same points, same order at every epoch)
 * @param ys               second coordinate of each probe point
 * @param classes          class of each probe point (its label's argmax; -1 when unknown)
 * @param explained        fraction of the total variance each of the two axes explains
 * @param alignedError     RMS distance of the points to the previous snapshot's after alignment (NaN at the first)
 * @param unalignedError   RMS distance of the unaligned PCA points to the previous snapshot's (NaN at the first)
 */
public record FeatureProjection(int layer, String layerName, int snapshotEpoch, float[] xs, float[] ys, int[] classes,
                                double[] explained, double alignedError, double unalignedError) {
    /** The record type id. */
    public static final String TYPE_ID = "Stethoscope.FeatureProjection";

    public FeatureProjection {
        layerName = layerName == null ? "" : layerName;
        xs = xs == null ? new float[0] : xs;
        ys = ys == null ? new float[0] : ys;
        classes = classes == null ? new int[0] : classes;
        explained = explained == null ? new double[0] : explained;
        if (layer < 0 || snapshotEpoch < 0) {
            throw new IllegalArgumentException("FeatureProjection: layer " + layer + ", epoch " + snapshotEpoch
                    + " out of range");
        }
        if (ys.length != xs.length || classes.length != xs.length) {
            throw new IllegalArgumentException("FeatureProjection: " + xs.length + " xs, " + ys.length + " ys, "
                    + classes.length + " classes differ in length");
        }
    }

    /** Number of probe points. */
    public int size() {
        return xs.length;
    }
}
