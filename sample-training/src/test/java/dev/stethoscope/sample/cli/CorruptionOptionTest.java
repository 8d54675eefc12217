package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.Randomization;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistFixture;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
