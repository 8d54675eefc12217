package dev.stethoscope.sample.experiment;

import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.sample.cli.CorruptionOption;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistFixture;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The experiment's studies on a small real MNIST slice (a smoke test of the pipeline, not of the findings). */
class MemorizationStudyTest {
    static final LabeledImages TRAIN = MnistFixture.mnist().train().head(256);
    static final LabeledImages TEST = MnistFixture.mnist().test().head(64);

    @Test
    void arpitRowsPerNoiseLevelAndEpochWithNoisyAndTrueLabelAccuracies() {
        LassParameters lass = LassParameters.defaults().withRadius(0.1).withAlpha(0.02).withBeta(0.01).withMaxIterations(5);
        List<MemorizationStudy.ArpitRow> rows = MemorizationStudy.arpit(TRAIN, TEST, 10,
                new MemorizationStudy.ArpitConfig(new double[]{0, 0.8}, 1, 64, 1, lass, 32, 32, 3), r -> { });
        assertThat(rows).hasSize(2);
        for (MemorizationStudy.ArpitRow r : rows) {
            assertThat(r.csr()).isBetween(0.0, 1.0);
            assertThat(r.csrExamples()).isEqualTo(32);
            assertThat(r.csr()).isEqualTo(r.critical() / 32.0);
            assertThat(r.valAcc()).isBetween(0.0, 1.0);
            if (r.noise() == 0) {
                assertThat(r.trainAccNoisy()).isEqualTo(r.trainAccClean());
            }
        }
        // with 80% noise the accuracies on the noisy and the true labels are measured against different labels
        MemorizationStudy.ArpitRow noisy = rows.get(1);
        assertThat(noisy.noise()).isEqualTo(0.8);
        assertThat(noisy.trainAccNoisy()).isNotEqualTo(noisy.trainAccClean());
        assertThat(noisy.gini()).isBetween(0.0, 1.0);
    }

    @Test
    void zhangStopsAtTheTargetAndReportsEpochs() {
        List<MemorizationStudy.ZhangRow> rows = new ArrayList<>();
        List<MemorizationStudy.ZhangSummary> s = MemorizationStudy.zhang(TRAIN, TEST, 10,
                List.of(CorruptionOption.none(), CorruptionOption.parse("random-labels")), 0.5, 2, 64, 1, rows, r -> { });
        assertThat(s).hasSize(2);
        // true labels: above 50% training accuracy after one epoch of 256 MNIST examples
        assertThat(s.get(0).epochsToTarget()).isEqualTo(1);
        // random labels: not fitted to 50% within 2 epochs
        assertThat(s.get(1).epochsToTarget()).isEqualTo(-1);
        assertThat(s.get(1).epochsRun()).isEqualTo(2);
        assertThat(rows).hasSize(1 + 2);
        assertThat(s.get(1).finalTestAcc()).isLessThan(0.35);
    }
}
