package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.Randomization;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistFixture;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CorruptionOptionTest {

    @Test
    void parsesEveryValueAndRejectsOthersListingTheChoices() {
        assertThat(CorruptionOption.parse("none").kind()).isEqualTo(CorruptionOption.Kind.NONE);
        CorruptionOption l = CorruptionOption.parse("labels:0.25");
        assertThat(l.kind()).isEqualTo(CorruptionOption.Kind.LABELS);
        assertThat(l.probability()).isEqualTo(0.25);
        assertThat(l.toString()).isEqualTo("labels:0.25");
        assertThat(CorruptionOption.parse("random-labels").changesLabels()).isTrue();
        assertThat(CorruptionOption.parse("Shuffled-Pixels").kind()).isEqualTo(CorruptionOption.Kind.SHUFFLED_PIXELS);
        assertThat(CorruptionOption.parse("random-pixels").changesPixels()).isTrue();
        assertThat(CorruptionOption.parse("gaussian").changesLabels()).isFalse();
        for (String bad : new String[]{"labels:1.5", "labels:x", "labels:", "blur", ""}) {
            assertThatThrownBy(() -> CorruptionOption.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("random-labels").hasMessageContaining("gaussian");
        }
        assertThatThrownBy(() -> new CorruptionOption.Converter().convert("nope"))
                .isInstanceOf(CommandLine.TypeConversionException.class);
    }

    @Test
    void labelCorruptionAppliesToTrainingOnlyAndPixelTransformsToBoth() {
        LabeledImages train = MnistFixture.mnist().train().head(300);
        LabeledImages test = MnistFixture.mnist().test().head(100);
        DataSetIterator trainIt = train.iterator(10, 100, false, 0);
        DataSetIterator testIt = test.iterator(10, 100, false, 0);

        CorruptionOption.Applied labels = CorruptionOption.parse("random-labels").apply(trainIt, 1);
        assertThat(labels.train(trainIt).next().getLabels()).isNotEqualTo(train.iterator(10, 100, false, 0).next().getLabels());
        assertThat(labels.test(testIt)).isSameAs(testIt);

        CorruptionOption.Applied pixels = CorruptionOption.parse("shuffled-pixels").apply(trainIt, 1);
        DataSet a = pixels.train(train.iterator(10, 100, false, 0)).next();
        DataSet b = pixels.test(test.iterator(10, 100, false, 0)).next();
        DataSet rawA = train.iterator(10, 100, false, 0).next();
        DataSet rawB = test.iterator(10, 100, false, 0).next();
        int[] perm = ((Randomization.PixelPermutation) pixels.randomization()).sharedPermutation(784);
        for (int j = 0; j < 784; j += 37) {
            // the same permutation on training and test images
            assertThat(a.getFeatures().getFloat(3, j)).isEqualTo(rawA.getFeatures().getFloat(3, perm[j]));
            assertThat(b.getFeatures().getFloat(5, j)).isEqualTo(rawB.getFeatures().getFloat(5, perm[j]));
        }
        assertThat(a.getLabels()).isEqualTo(rawA.getLabels());

        CorruptionOption.Applied none = CorruptionOption.none().apply(trainIt, 1);
        assertThat(none.train(trainIt)).isSameAs(trainIt);
        assertThat(none.describe()).isEqualTo("none");
        assertThat(CorruptionOption.parse("gaussian").apply(trainIt, 1).describe()).startsWith("gaussian(mean=0.1");
    }

    /**
     * Gaussian and random-pixel corruption draw per example from (seed, example index); test
     * examples are indexed from 0 like training examples, so test and training draws must come from
     * different streams. Before the fix, test example i was exactly training example i's Gaussian
     * input (correlation 1) and had its pixel permutation.
     */
    @Test
    void heldOutPixelsAreDrawnIndependentlyOfTheTrainingExampleWithTheSameIndex() {
        LabeledImages train = MnistFixture.mnist().train().head(200);
        LabeledImages test = MnistFixture.mnist().test().head(200);
        DataSetIterator trainIt = train.iterator(10, 200, false, 0);

        CorruptionOption.Applied gauss = CorruptionOption.parse("gaussian").apply(trainIt, 7);
        INDArray a = gauss.train(train.iterator(10, 200, false, 0)).next().getFeatures().castTo(DataType.DOUBLE);
        INDArray b = gauss.test(test.iterator(10, 200, false, 0)).next().getFeatures().castTo(DataType.DOUBLE);
        // same distribution ...
        assertThat(b.meanNumber().doubleValue()).isCloseTo(a.meanNumber().doubleValue(), within(0.01));
        assertThat(b.stdNumber().doubleValue()).isCloseTo(a.stdNumber().doubleValue(), within(0.01));
        // ... but independent values: correlation over 200 x 784 pixel pairs is ~N(0, 1/sqrt(156800) = 0.0025)
        INDArray ac = a.sub(a.meanNumber());
        INDArray bc = b.sub(b.meanNumber());
        double corr = ac.mul(bc).sumNumber().doubleValue() / Math.sqrt(ac.mul(ac).sumNumber().doubleValue()
                * bc.mul(bc).sumNumber().doubleValue());
        assertThat(Math.abs(corr)).isLessThan(0.02);
        for (int i = 0; i < 200; i++) {
            assertThat(b.getRow(i)).isNotEqualTo(a.getRow(i));
        }
        // deterministic: the same test inputs every epoch / run
        INDArray b2 = gauss.test(test.iterator(10, 200, false, 0)).next().getFeatures().castTo(DataType.DOUBLE);
        assertThat(b2).isEqualTo(b);

        // random pixels: test image i is not permuted the way training image i is. Feed the same
        // images to both wrappers: equal rows would mean equal permutations.
        CorruptionOption.Applied rp = CorruptionOption.parse("random-pixels").apply(trainIt, 7);
        INDArray pa = rp.train(train.iterator(10, 200, false, 0)).next().getFeatures();
        INDArray pb = rp.test(train.iterator(10, 200, false, 0)).next().getFeatures();
        int same = 0;
        for (int i = 0; i < 200; i++) {
            if (pa.getRow(i).equals(pb.getRow(i))) {
                same++;
            }
        }
        assertThat(same).isZero();
    }
}
