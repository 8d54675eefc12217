package dev.stethoscope.spark;

/**
 * One training batch as a Spark worker saw it, for the driver's training-dynamics (suspects)
 * monitor; record type {@value #TYPE_ID}. Published by {@link WorkerDynamicsListener} on the
 * workers; the driver's {@link StethoscopeSpark} handle merges these records by example id into
 * one {@link dev.stethoscope.listeners.dynamics.TrainingDynamicsListener} and, by default, does not
 * store them (they hold every example's logits every epoch).
 *
 * @param ids    the rows' stable example ids (from the batch's {@code RecordMetaDataIndex} metadata)
 * @param labels each row's given label
 * @param logits row-major {@code [rows x classes]} output-layer pre-activations of the training pass
 */
public record ExampleLogits(long[] ids, int[] labels, double[] logits) {
    public static final String TYPE_ID = "Stethoscope.SparkExampleLogits";

    /** Checks that the arrays agree: one label per id and the same number of logits per row. */
    public ExampleLogits {
        if (ids == null || labels == null || logits == null) {
            throw new IllegalArgumentException("ids, labels and logits must not be null");
        }
        if (labels.length != ids.length || (ids.length == 0 ? logits.length != 0 : logits.length % ids.length != 0)) {
            throw new IllegalArgumentException(ids.length + " ids, " + labels.length + " labels and "
                    + logits.length + " logits do not match (logits must be rows x classes)");
        }
    }

    /** Number of classes (logits per row); 0 for an empty batch. */
    public int classes() {
        return ids.length == 0 ? 0 : logits.length / ids.length;
    }
}
