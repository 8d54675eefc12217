package dev.stethoscope.sample.data;

import dev.stethoscope.probes.model.GraphInputs;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * The batches of a {@link DataSetIterator} of examples in the joint form ({@link GraphInputs}: each example's inputs
 * flattened and concatenated) as the {@link MultiDataSet}s a ComputationGraph with several inputs trains on: each
 * batch's features split by the graph's input sizes, the same labels and example metadata. For {@code --model
 * twoview} the joint form of the top and bottom halves is the flat MNIST image itself, so the sample's iterators (and
 * the monitors' held-out sets) stay as they are. Never asynchronous: a monitor that tracks the wrapped iterator
 * expects the batch it declared to be the one trained next.
 */
public final class JointSplitIterator implements MultiDataSetIterator {
    private static final long serialVersionUID = 1L;
    private final DataSetIterator data;
    private final transient ComputationGraph graph;
    private MultiDataSetPreProcessor pre;

    /**
     * Wraps {@code data} for {@code graph}.
     *
     * @throws IllegalArgumentException when the graph's input sizes cannot be read from its configuration
     */
    public JointSplitIterator(DataSetIterator data, ComputationGraph graph) {
        this.data = data;
        this.graph = graph;
        GraphInputs.inputSizes(graph); // refuses a graph whose input sizes are not in the configuration
    }

    @Override
    public org.nd4j.linalg.dataset.api.MultiDataSet next(int num) {
        return split(data.next(num));
    }

    @Override
    public org.nd4j.linalg.dataset.api.MultiDataSet next() {
        return split(data.next());
    }

    private org.nd4j.linalg.dataset.api.MultiDataSet split(DataSet ds) {
        INDArray[] xs = GraphInputs.split(graph, ds.getFeatures());
        MultiDataSet m = new MultiDataSet(xs, new INDArray[]{ds.getLabels()});
        if (ds.getExampleMetaData() != null) {
            m.setExampleMetaData(new java.util.ArrayList<>(ds.getExampleMetaData()));
        }
        if (pre != null) {
            pre.preProcess(m);
        }
        return m;
    }

    @Override
    public void setPreProcessor(MultiDataSetPreProcessor preProcessor) {
        this.pre = preProcessor;
    }

    @Override
    public MultiDataSetPreProcessor getPreProcessor() {
        return pre;
    }

    @Override
    public boolean resetSupported() {
        return data.resetSupported();
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        data.reset();
    }

    @Override
    public boolean hasNext() {
        return data.hasNext();
    }
}
