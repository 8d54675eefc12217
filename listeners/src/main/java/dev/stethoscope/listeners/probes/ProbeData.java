package dev.stethoscope.listeners.probes;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;

/** Helpers to take fixed probe sets from the user's data (copies, detached). */
final class ProbeData {
    private ProbeData() {
    }

    /** The first {@code n} examples of {@code it} (fewer if it has fewer), features and labels; resets it before and after. */
    static DataSet firstExamples(DataSetIterator it, int n) {
        if (it.resetSupported()) {
            it.reset();
        }
        List<INDArray> xs = new ArrayList<>();
        List<INDArray> ys = new ArrayList<>();
        long have = 0;
        while (have < n && it.hasNext()) {
            DataSet ds = it.next();
            long take = Math.min(n - have, ds.numExamples());
            xs.add(ds.getFeatures().get(NDArrayIndex.interval(0, take)).dup());
            ys.add(ds.getLabels() == null ? null : ds.getLabels().get(NDArrayIndex.interval(0, take)).dup());
            have += take;
        }
        if (it.resetSupported()) {
            it.reset();
        }
        if (xs.isEmpty()) {
            throw new IllegalArgumentException("The probe iterator gave no examples");
        }
        INDArray x = xs.size() == 1 ? xs.get(0) : Nd4j.concat(0, xs.toArray(new INDArray[0]));
        INDArray y = ys.contains(null) ? null : ys.size() == 1 ? ys.get(0) : Nd4j.concat(0, ys.toArray(new INDArray[0]));
        return new DataSet(x, y);
    }

    /** Rows [from, to) of a data set, copied. */
    static DataSet rows(DataSet ds, long from, long to) {
        INDArray x = ds.getFeatures().get(NDArrayIndex.interval(from, to)).dup();
        INDArray y = ds.getLabels() == null ? null : ds.getLabels().get(NDArrayIndex.interval(from, to)).dup();
        return new DataSet(x, y);
    }
}
