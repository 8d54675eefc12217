package dev.stethoscope.spark;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.spark.api.TrainingHook;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * A DL4J Spark {@link TrainingHook} that makes the minibatch a worker is about to fit visible to
 * the Stethoscope listeners on the same thread ({@link #current()}). DL4J's listener callbacks do
 * not receive the DataSet, but a worker calls {@code preUpdate(batch, net)}, then
 * {@code net.fit(batch)} (whose callbacks the listeners get), then {@code postUpdate}, all on the
 * task's thread; so the example ids in the batch's metadata reach the worker-side
 * {@link WorkerDynamicsListener} (a ComputationGraph's single-input single-output {@code MultiDataSet}
 * as a DataSet view of its arrays and metadata). Holds no state of its own; serialised to every task with the
 * training master.
 */
public final class BatchHook implements TrainingHook {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final ThreadLocal<DataSet> CURRENT = new ThreadLocal<>();

    /** The DataSet being fitted on this thread, or null outside a worker's {@code fit(DataSet)}. */
    public static DataSet current() {
        return CURRENT.get();
    }

    @Override
    public void preUpdate(DataSet minibatch, Model model) {
        CURRENT.set(minibatch);
    }

    @Override
    public void postUpdate(DataSet minibatch, Model model) {
        CURRENT.remove();
    }

    /**
     * A ComputationGraph's minibatch: with one features and one labels array it is declared as a
     * DataSet view of those arrays carrying the MultiDataSet's example metadata (no copy); otherwise
     * nothing is declared.
     */
    @Override
    public void preUpdate(MultiDataSet minibatch, Model model) {
        if (minibatch.numFeatureArrays() == 1 && minibatch.numLabelsArrays() == 1) {
            org.nd4j.linalg.dataset.DataSet ds = new org.nd4j.linalg.dataset.DataSet(minibatch.getFeatures(0),
                    minibatch.getLabels(0),
                    minibatch.getFeaturesMaskArrays() == null ? null : minibatch.getFeaturesMaskArrays()[0],
                    minibatch.getLabelsMaskArrays() == null ? null : minibatch.getLabelsMaskArrays()[0]);
            ds.setExampleMetaData(minibatch.getExampleMetaData());
            CURRENT.set(ds);
        } else {
            CURRENT.remove();
        }
    }

    @Override
    public void postUpdate(MultiDataSet minibatch, Model model) {
        CURRENT.remove();
    }

    /** All hooks are alike (a training master keeps a collection of them). */
    @Override
    public boolean equals(Object o) {
        return o instanceof BatchHook;
    }

    @Override
    public int hashCode() {
        return BatchHook.class.hashCode();
    }
}
