package dev.stethoscope.listeners.data;

import org.datavec.api.records.metadata.RecordMetaDataLine;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class ExampleIdentityTest {
    private static final int N = 40;
    private static final int D = 6;
    private final INDArray x;
    private final INDArray y;

    ExampleIdentityTest() {
        Random rnd = new Random(5);
        float[][] f = new float[N][D];
        float[][] l = new float[N][3];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < D; j++) {
                f[i][j] = rnd.nextFloat();
            }
            l[i][i % 3] = 1;
        }
        f[9] = f[4].clone();          // an exact duplicate of example 4 (features and label)
        l[9] = l[4].clone();
        f[11] = f[4].clone();         // same features as 4, another label: another example
        l[11] = new float[]{0, 0, 0};
        l[11][(argmax(l[4]) + 1) % 3] = 1;
        x = Nd4j.create(f);
        y = Nd4j.create(l);
    }

    private static int argmax(float[] v) {
        int b = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[b]) {
                b = i;
            }
        }
        return b;
    }

    private static int[] permutation(long seed) {
        int[] p = new int[N];
        for (int i = 0; i < N; i++) {
            p[i] = i;
        }
        Random r = new Random(seed);
        for (int i = N - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Feeds one epoch in {@code order} in batches of 8; returns the index answered for each data row. */
    private long[] epoch(ExampleIdentity id, int[] order, int epoch, INDArray features) {
        long[] byRow = new long[N];
        for (int s = 0; s < N; s += 8) {
            int[] rows = java.util.Arrays.copyOfRange(order, s, Math.min(N, s + 8));
            INDArray f = features.get(NDArrayIndex.indices(toLong(rows)), NDArrayIndex.all());
            INDArray l = y.get(NDArrayIndex.indices(toLong(rows)), NDArrayIndex.all());
            long[] idx = id.identify(null, f, l, epoch);
            if (idx == null) {
                return null;
            }
            for (int r = 0; r < rows.length; r++) {
                byRow[rows[r]] = idx[r];
            }
        }
        return byRow;
    }

    private static long[] toLong(int[] a) {
        long[] o = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            o[i] = a[i];
        }
        return o;
    }

    @Test
    void contentHashFollowsEveryExampleThroughShuffledEpochs_andTellsDuplicatesApart() {
        ExampleIdentity id = new ExampleIdentity(N);
        int[] natural = permutation(-1);
        for (int i = 0; i < N; i++) {
            natural[i] = i;
        }
        long[] first = epoch(id, natural, 0, x);
        assertThat(id.source()).isEqualTo(ExampleIdentity.Source.CONTENT_HASH);
        for (int i = 0; i < N; i++) {
            assertThat(first[i]).as("first epoch in data order: index = position").isEqualTo(i);
        }
        assertThat(id.distinct()).isEqualTo(N);
        for (int e = 1; e <= 3; e++) {
            long[] again = epoch(id, permutation(e), e, x);
            for (int i = 0; i < N; i++) {
                if (i == 4 || i == 9) {
                    continue; // exact duplicates: either copy may take either index
                }
                assertThat(again[i]).as("epoch %d, example %d", e, i).isEqualTo(i);
            }
            assertThat(new long[]{again[4], again[9]}).containsExactlyInAnyOrder(4, 9);
            assertThat(again[11]).as("same features, other label: another example").isEqualTo(11);
        }
        assertThat(id.disabled()).isFalse();
        assertThat(id.distinct()).isEqualTo(N);
        assertThat(id.nanos()).isPositive();
    }

    @Test
    void hashesDependOnEveryValueAndOnTheLabel() {
        long[] h = ExampleIdentity.contentHashes(x, y);
        INDArray x2 = x.dup();
        x2.putScalar(7, D - 1, x.getFloat(7, D - 1) + 1e-6f);
        long[] h2 = ExampleIdentity.contentHashes(x2, y);
        for (int i = 0; i < N; i++) {
            assertThat(h2[i] == h[i]).as("row %d", i).isEqualTo(i != 7);
        }
        assertThat(ExampleIdentity.contentHashes(x, null)[4]).isNotEqualTo(h[4]);
        // views, other orders and data types hash the same values alike
        assertThat(ExampleIdentity.contentHashes(x.get(NDArrayIndex.interval(5, 10), NDArrayIndex.all()),
                y.get(NDArrayIndex.interval(5, 10), NDArrayIndex.all()))).containsExactly(
                java.util.Arrays.copyOfRange(h, 5, 10));
        assertThat(ExampleIdentity.contentHashes(x.dup('f'), y.castTo(DataType.DOUBLE))).containsExactly(h);
    }

    @Test
    void randomAugmentationDisablesTheIdentityWithAReason_neverAnException() {
        ExampleIdentity id = new ExampleIdentity(N);
        int[] order = permutation(1);
        assertThat(epoch(id, order, 0, x)).isNotNull();
        Nd4j.getRandom().setSeed(3);
        INDArray augmented = x.add(Nd4j.rand(DataType.FLOAT, N, D).muli(0.01)); // a fresh jitter
        assertThat(epoch(id, permutation(2), 1, augmented)).isNull();
        assertThat(id.disabled()).isTrue();
        assertThat(id.reason()).contains("random augmentation").contains("epoch 2").contains("IndexedArrayIterator");
        // stays disabled, even for the original data
        assertThat(id.identify(null, x, y, 2)).isNull();
    }

    @Test
    void moreDistinctExamplesThanNumExamplesDisables() {
        ExampleIdentity id = new ExampleIdentity(30);
        int[] natural = new int[N];
        for (int i = 0; i < N; i++) {
            natural[i] = i;
        }
        assertThat(epoch(id, natural, 0, x)).isNull();
        assertThat(id.reason()).contains("numExamples is 30");
    }

    @Test
    void trackedIndicesArePreferred_otherMetadataIsFollowedByLocation() {
        DataSet indexed = new DataSet(x.get(NDArrayIndex.interval(0, 5), NDArrayIndex.all()),
                y.get(NDArrayIndex.interval(0, 5), NDArrayIndex.all()));
        ExampleIndex.attach(indexed, new long[]{17, 3, 5, 8, 1});
        ExampleIdentity tracked = new ExampleIdentity(N);
        assertThat(tracked.identify(indexed, indexed.getFeatures(), indexed.getLabels(), 0))
                .containsExactly(17, 3, 5, 8, 1);
        assertThat(tracked.source()).isEqualTo(ExampleIdentity.Source.TRACKED_INDEX);
        // a later batch without indices would mix two numberings: disabled, not thrown
        assertThat(tracked.identify(null, x, y, 1)).isNull();
        assertThat(tracked.reason()).contains("tracked-index").contains("content-hash");

        // RecordMetaDataLine (as RecordReaderDataSetIterator.collectMetaData(true) gives for CSV lines): rows 4
        // and 9 have the same content, but are different lines, hence different examples
        ExampleIdentity meta = new ExampleIdentity(N);
        for (int e = 0; e < 2; e++) {
            int[] order = e == 0 ? new int[]{9, 4, 0, 1} : new int[]{4, 1, 9, 0};
            DataSet ds = new DataSet(x.get(NDArrayIndex.indices(toLong(order)), NDArrayIndex.all()),
                    y.get(NDArrayIndex.indices(toLong(order)), NDArrayIndex.all()));
            List<RecordMetaDataLine> m = new ArrayList<>();
            for (int r : order) {
                m.add(new RecordMetaDataLine(r, URI.create("file:/data/train.csv"), Object.class));
            }
            ds.setExampleMetaData(m);
            long[] idx = meta.identify(ds, ds.getFeatures(), ds.getLabels(), e);
            long[] expected = e == 0 ? new long[]{0, 1, 2, 3} : new long[]{1, 3, 0, 2};
            assertThat(idx).as("epoch %d", e).containsExactly(expected);
        }
        assertThat(meta.source()).isEqualTo(ExampleIdentity.Source.METADATA);
    }
}
