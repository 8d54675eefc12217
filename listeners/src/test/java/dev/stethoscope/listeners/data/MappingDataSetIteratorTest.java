package dev.stethoscope.listeners.data;

import dev.stethoscope.probes.data.ForwardingDataSetIterator;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The monitors' tracking wrapper: every batch through the mapping, never asynchronous, the reset action first. */
class MappingDataSetIteratorTest {

    private static ListDataSetIterator<DataSet> batchesOf(int n, int batch) {
        DataSet all = new DataSet(Nd4j.arange(n).castTo(DataType.FLOAT).reshape(n, 1), Nd4j.ones(DataType.FLOAT, n, 1));
        return new ListDataSetIterator<>(all.asList(), batch);
    }

    /** A delegate that would allow asynchronous prefetching (DL4J's ListDataSetIterator does not). */
    private static final class Prefetchable extends ForwardingDataSetIterator {
        private static final long serialVersionUID = 1L;

        Prefetchable(DataSetIterator delegate) {
            super(delegate);
        }

        @Override
        public boolean asyncSupported() {
            return true;
        }
    }

    @Test
    void everyBatchGoesThroughTheMappingAndTheResetActionRunsBeforeTheDelegatesReset() {
        DataSetIterator base = new Prefetchable(batchesOf(10, 4));
        List<Double> firstValues = new ArrayList<>();
        List<String> events = new ArrayList<>();
        MappingDataSetIterator it = new MappingDataSetIterator(base, ds -> {
            firstValues.add(ds.getFeatures().getDouble(0));
            return ds;
        }, () -> events.add("reset, delegate at the end: " + !base.hasNext()));
        assertThat(it.asyncSupported()).isFalse();
        List<Integer> sizes = new ArrayList<>();
        while (it.hasNext()) {
            sizes.add(it.next().numExamples());
        }
        assertThat(sizes).containsExactly(4, 4, 2);
        assertThat(firstValues).containsExactly(0.0, 4.0, 8.0);
        it.reset();
        assertThat(events).containsExactly("reset, delegate at the end: true");
        assertThat(it.hasNext()).isTrue();
        assertThat(it.next().getFeatures().getDouble(0)).isEqualTo(0.0);
        assertThat(firstValues).containsExactly(0.0, 4.0, 8.0, 0.0);
        assertThat(it.inputColumns()).isEqualTo(base.inputColumns());
    }

    @Test
    void theMappingMayReplaceTheBatchAndNoResetActionIsAllowed() {
        MappingDataSetIterator it = new MappingDataSetIterator(batchesOf(6, 3), ds -> new DataSet(
                ds.getFeatures().mul(2), ds.getLabels()), null);
        assertThat(it.next().getFeatures().getDouble(1)).isEqualTo(2.0);
        it.reset();
        assertThat(it.next().getFeatures().getDouble(2)).isEqualTo(4.0);
        assertThatThrownBy(() -> new MappingDataSetIterator(batchesOf(2, 1), null, null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("mapping");
    }
}
