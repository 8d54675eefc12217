package dev.stethoscope.listeners.data;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IndexedArrayIteratorTest {
    /**
     * Features whose row {@code r} is {@code [r, r + 0.5, -r]}; labels one-hot of {@code r % 3}.
     * With indices {@code 1000 + r}, a row's index can be checked against its content.
     */
    private static INDArray features(int n) {
        INDArray f = Nd4j.create(DataType.FLOAT, n, 3);
        for (int r = 0; r < n; r++) {
            f.putScalar(r, 0, r);
            f.putScalar(r, 1, r + 0.5);
            f.putScalar(r, 2, -r);
        }
        return f;
    }

    private static INDArray labels(int n) {
        INDArray l = Nd4j.create(DataType.FLOAT, n, 3);
        for (int r = 0; r < n; r++) {
            l.putScalar(r, r % 3, 1);
        }
        return l;
    }

    private static long[] offsetIndices(int n) {
        long[] idx = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = 1000 + i;
        }
        return idx;
    }

    /** One pass: the indices in visiting order, checking each row's content against its index. */
    private static List<Long> pass(IndexedArrayIterator it, List<Integer> batchSizes) {
        List<Long> seen = new ArrayList<>();
        while (it.hasNext()) {
            DataSet ds = it.next();
            long[] idx = ExampleIndex.indicesOf(ds);
            batchSizes.add(ds.numExamples());
            for (int i = 0; i < idx.length; i++) {
                long row = idx[i] - 1000;
                assertThat(ds.getFeatures().getDouble(i, 0)).isEqualTo(row);
                assertThat(ds.getFeatures().getDouble(i, 1)).isEqualTo(row + 0.5);
                assertThat(ds.getLabels().getDouble(i, (int) (row % 3))).isEqualTo(1.0);
                seen.add(idx[i]);
            }
        }
        return seen;
    }

    @Test
    void everyExampleExactlyOncePerPassWithItsIndex() {
        int n = 50;
        IndexedArrayIterator it = IndexedArrayIterator.builder(features(n), labels(n))
                .indices(offsetIndices(n)).batchSize(16).shuffle(3).build();
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Integer> sizes = new ArrayList<>();
            List<Long> seen = pass(it, sizes);
            assertThat(seen).hasSize(n);
            assertThat(new HashSet<>(seen)).hasSize(n);
            assertThat(seen).allMatch(i -> i >= 1000 && i < 1000 + n);
            assertThat(sizes).containsExactly(16, 16, 16, 2);
            assertThat(it.pass()).isEqualTo(epoch);
            it.reset();
        }
    }

    @Test
    void withoutShuffleRowsComeInOrderWithDefaultIndices() {
        int n = 10;
        IndexedArrayIterator it = new IndexedArrayIterator(features(n), labels(n), 4);
        List<Long> seen = new ArrayList<>();
        while (it.hasNext()) {
            DataSet ds = it.next();
            for (long i : ExampleIndex.indicesOf(ds)) {
                seen.add(i);
            }
            // default indices 0..n-1 are the row numbers
            assertThat(ds.getFeatures().getColumn(0).toLongVector()).containsExactly(ExampleIndex.indicesOf(ds));
        }
        assertThat(seen).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
        it.reset();
        assertThat(it.next().getFeatures().getDouble(0, 0)).isEqualTo(0.0);
    }

    @Test
    void shuffleIsDeterministicPerSeedAndChangesEveryPass() {
        int n = 40;
        IndexedArrayIterator a = IndexedArrayIterator.builder(features(n), labels(n)).indices(offsetIndices(n))
                .batchSize(7).shuffle(42).build();
        IndexedArrayIterator b = IndexedArrayIterator.builder(features(n), labels(n)).indices(offsetIndices(n))
                .batchSize(7).shuffle(42).build();
        IndexedArrayIterator c = IndexedArrayIterator.builder(features(n), labels(n)).indices(offsetIndices(n))
                .batchSize(7).shuffle(43).build();
        b.reset(); // a reset before the first batch does not start a new pass
        List<List<Long>> passesA = new ArrayList<>();
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Long> pa = pass(a, new ArrayList<>());
            List<Long> pb = pass(b, new ArrayList<>());
            List<Long> pc = pass(c, new ArrayList<>());
            assertThat(pb).isEqualTo(pa);
            assertThat(pc).isNotEqualTo(pa);
            passesA.add(pa);
            a.reset();
            b.reset();
            c.reset();
        }
        assertThat(passesA.get(1)).isNotEqualTo(passesA.get(0));
        assertThat(passesA.get(2)).isNotEqualTo(passesA.get(1));
        assertThat(passesA.get(0)).isNotEqualTo(sorted(passesA.get(0)));
        // passOrder() announces the order of the current pass
        List<Long> announced = new ArrayList<>();
        for (long i : a.passOrder()) {
            announced.add(i);
        }
        assertThat(pass(a, new ArrayList<>())).isEqualTo(announced);
    }

    private static List<Long> sorted(List<Long> l) {
        List<Long> s = new ArrayList<>(l);
        s.sort(null);
        return s;
    }

    @Test
    void preProcessorAndMetadataReachEveryBatch() {
        int n = 12;
        IndexedArrayIterator it = IndexedArrayIterator.builder(features(n), labels(n)).batchSize(5)
                .preProcessor(ds -> ds.getFeatures().muli(2)).build();
        DataSet first = it.next();
        assertThat(first.getFeatures().getDouble(3, 0)).isEqualTo(6.0);
        // the batch is a copy: the source array is unchanged
        assertThat(it.features().getDouble(3, 0)).isEqualTo(3.0);
        assertThat(it.asyncSupported()).isFalse();
        assertThat(it.resetSupported()).isTrue();
        assertThat(it.inputColumns()).isEqualTo(3);
        assertThat(it.totalOutcomes()).isEqualTo(3);
        assertThat(it.totalExamples()).isEqualTo(n);
        assertThat(it.batch()).isEqualTo(5);
        assertThat(it.getLabels()).containsExactly("0", "1", "2");
    }

    @Test
    void probeSubsetsCarryIndicesAndAreDeterministic() {
        int n = 30;
        IndexedArrayIterator it = IndexedArrayIterator.builder(features(n), labels(n)).indices(offsetIndices(n))
                .batchSize(8).shuffle(1).build();
        DataSet first = it.firstExamples(5);
        assertThat(ExampleIndex.indicesOf(first)).containsExactly(1000, 1001, 1002, 1003, 1004);
        assertThat(first.getFeatures().getColumn(0).toDoubleVector()).containsExactly(0, 1, 2, 3, 4);

        DataSet r1 = it.randomExamples(10, 5);
        DataSet r2 = it.randomExamples(10, 5);
        DataSet r3 = it.randomExamples(10, 6);
        long[] i1 = ExampleIndex.indicesOf(r1);
        assertThat(ExampleIndex.indicesOf(r2)).containsExactly(i1);
        assertThat(ExampleIndex.indicesOf(r3)).isNotEqualTo(i1);
        assertThat(Arrays.stream(i1).distinct().count()).isEqualTo(10);
        assertThat(i1).isSorted();
        for (int i = 0; i < i1.length; i++) {
            assertThat(r1.getFeatures().getDouble(i, 0)).isEqualTo(i1[i] - 1000);
        }
        assertThatThrownBy(() -> it.firstExamples(31)).hasMessageContaining("1..30");
    }

    @Test
    void imageShapedFeaturesKeepTheirShape() {
        int n = 6;
        INDArray f = Nd4j.create(DataType.FLOAT, n, 1, 2, 2);
        for (int r = 0; r < n; r++) {
            f.get(org.nd4j.linalg.indexing.NDArrayIndex.point(r)).assign(r);
        }
        IndexedArrayIterator it = IndexedArrayIterator.builder(f, labels(n)).batchSize(4).shuffle(9).build();
        assertThat(it.inputColumns()).isEqualTo(4);
        DataSet ds = it.next();
        assertThat(ds.getFeatures().shape()).containsExactly(4, 1, 2, 2);
        long[] idx = ExampleIndex.indicesOf(ds);
        for (int i = 0; i < idx.length; i++) {
            assertThat(ds.getFeatures().getDouble(i, 0, 1, 1)).isEqualTo(idx[i]);
        }
    }

    @Test
    void badConfigurationIsRejected() {
        assertThatThrownBy(() -> IndexedArrayIterator.builder(features(4), labels(5)).build())
                .hasMessageContaining("4 rows").hasMessageContaining("5");
        assertThatThrownBy(() -> IndexedArrayIterator.builder(features(4), labels(4)).indices(new long[] {1, 2, 2, 3})
                .build()).hasMessageContaining("more than once");
        assertThatThrownBy(() -> IndexedArrayIterator.builder(features(4), labels(4)).indices(new long[] {1})
                .build()).hasMessageContaining("1 indices for 4");
        assertThatThrownBy(() -> IndexedArrayIterator.builder(features(4), labels(4)).batchSize(0).build())
                .hasMessageContaining("batch size");
        assertThatThrownBy(() -> IndexedArrayIterator.builder(features(4), labels(4)).labelNames(List.of("a"))
                .build()).hasMessageContaining("1 label names for 3");
    }

    @Test
    void dl4jTrainsOnExactlyTheBatchTheIteratorLastReturned() {
        int n = 64;
        INDArray f = Nd4j.rand(DataType.FLOAT, n, 3);
        f.getColumn(0).assign(Nd4j.arange(n).castTo(DataType.FLOAT)); // column 0 = row number
        List<long[]> returned = new ArrayList<>();
        // shuffled, so the batch content differs per pass; the preprocessor sees every batch handed out
        IndexedArrayIterator it = IndexedArrayIterator.builder(f, labels(n)).batchSize(16).shuffle(7)
                .preProcessor(ds -> returned.add(ExampleIndex.indicesOf(ds))).build();
        assertThat(it.asyncSupported()).isFalse();

        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).updater(new Sgd(0.01))
                .list()
                .layer(new DenseLayer.Builder().nIn(3).nOut(4).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        List<Boolean> matches = new ArrayList<>();
        Set<Long> trainedRows = new HashSet<>();
        net.setListeners(new BaseTrainingListener() {
            @Override
            public void onForwardPass(Model model, List<INDArray> activations) {
                // input of the forward pass must be the rows of the batch the iterator returned last
                long[] last = returned.get(returned.size() - 1);
                long[] rows = activations.get(0).getColumn(0).toLongVector();
                matches.add(Arrays.equals(rows, last));
                for (long r : rows) {
                    trainedRows.add(r);
                }
            }
        });
        net.fit(it, 2);
        assertThat(returned).hasSize(8); // 4 batches x 2 epochs
        assertThat(matches).hasSize(8).containsOnly(true);
        assertThat(trainedRows).hasSize(n);
    }
}
