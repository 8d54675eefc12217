package dev.stethoscope.probes.data;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.TestDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ForwardingDataSetIteratorTest {

    /** A wrapper that changes nothing. */
    private static final class Plain extends ForwardingDataSetIterator {
        Plain(DataSetIterator delegate) {
            super(delegate);
        }
    }

    /** A wrapper that changes only the batches: doubles the features. */
    private static final class Doubling extends ForwardingDataSetIterator {
        Doubling(DataSetIterator delegate) {
            super(delegate);
        }

        @Override
        public DataSet next(int num) {
            return doubled(delegate().next(num));
        }

        @Override
        public DataSet next() {
            return doubled(delegate().next());
        }

        private static DataSet doubled(DataSet ds) {
            return new DataSet(ds.getFeatures().mul(2), ds.getLabels());
        }
    }

    private static DataSet data(int n) {
        float[] x = new float[3 * n];
        float[] y = new float[2 * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
        }
        for (int i = 0; i < n; i++) {
            y[2 * i + i % 2] = 1;
        }
        DataSet ds = new DataSet(Nd4j.create(x, new long[]{n, 3}, DataType.FLOAT),
                Nd4j.create(y, new long[]{n, 2}, DataType.FLOAT));
        ds.setLabelNames(List.of("a", "b"));
        return ds;
    }

    private static List<DataSet> drain(DataSetIterator it) {
        List<DataSet> out = new ArrayList<>();
        while (it.hasNext()) {
            out.add(it.next());
        }
        return out;
    }

    @Test
    void forwardsEveryMethodOfDataSetIterator() {
        // every abstract method a DataSetIterator has (its own and Iterator's) is overridden here, so
        // a wrapper never silently falls back to an interface default instead of its delegate
        for (Method m : DataSetIterator.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getName().equals("forEachRemaining")) {
                continue;
            }
            assertThat(declares(m)).as("%s is forwarded", m).isTrue();
        }
    }

    private static boolean declares(Method m) {
        try {
            Method own = ForwardingDataSetIterator.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
            return !Modifier.isAbstract(own.getModifiers());
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    @Test
    void aWrapperThatOverridesNothingBehavesAsItsDelegate() {
        DataSet all = data(10);
        TestDataSetIterator delegate = new TestDataSetIterator(all, 4);
        Plain it = new Plain(new TestDataSetIterator(all, 4));

        assertThat(it.inputColumns()).isEqualTo(delegate.inputColumns()).isEqualTo(3);
        assertThat(it.totalOutcomes()).isEqualTo(delegate.totalOutcomes()).isEqualTo(2);
        assertThat(it.batch()).isEqualTo(4);
        assertThat(it.resetSupported()).isEqualTo(delegate.resetSupported());
        assertThat(it.asyncSupported()).isEqualTo(delegate.asyncSupported());
        assertThat(it.getLabels()).isEqualTo(delegate.getLabels());

        List<DataSet> a = drain(it);
        List<DataSet> b = drain(delegate);
        assertThat(a).hasSameSizeAs(b).hasSize(3);
        for (int i = 0; i < a.size(); i++) {
            assertThat(a.get(i).getFeatures()).isEqualTo(b.get(i).getFeatures());
        }
        assertThat(it.hasNext()).isFalse();
        it.reset(); // forwarded: the delegate starts again
        assertThat(it.hasNext()).isTrue();
        assertThat(it.next(2).getFeatures()).isEqualTo(all.getFeatures().get(
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2), org.nd4j.linalg.indexing.NDArrayIndex.all()));

        // the pre-processor is the delegate's
        DataSetPreProcessor p = ds -> ds.getFeatures().addi(100);
        it.setPreProcessor(p);
        assertThat(it.delegate().getPreProcessor()).isSameAs(p);
        assertThat(it.getPreProcessor()).isSameAs(p);
        assertThatThrownBy(() -> new Plain(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void aWrapperChangesOnlyWhatItOverrides() {
        DataSet all = data(6);
        Doubling it = new Doubling(new TestDataSetIterator(all, 3));
        List<DataSet> out = drain(it);
        assertThat(out).hasSize(2);
        assertThat(out.get(0).getFeatures()).isEqualTo(all.getFeatures().get(
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3), org.nd4j.linalg.indexing.NDArrayIndex.all())
                .mul(2));
        assertThat(it.inputColumns()).isEqualTo(3);
        assertThat(it.batch()).isEqualTo(3);
    }
}
