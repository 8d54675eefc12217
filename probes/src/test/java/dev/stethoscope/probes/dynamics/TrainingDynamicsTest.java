package dev.stethoscope.probes.dynamics;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TrainingDynamicsTest {

    /** Logits for 3 classes with z_label - max_other = margin. */
    private static double[] logitsWithMargin(int label, double margin) {
        double[] z = {0.3, -0.2, 0.1};
        double maxOther = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < 3; k++) {
            if (k != label) {
                maxOther = Math.max(maxOther, z[k]);
            }
        }
        z[label] = maxOther + margin;
        return z;
    }

    @Test
    void aumIsTheMeanMargin() {
        TrainingDynamics d = new TrainingDynamics(4, 3);
        d.observe(2, logitsWithMargin(1, 1.26), 1, 0);
        d.observe(2, logitsWithMargin(1, 1.15), 1, 1);
        assertThat(d.aum(2)).isCloseTo(1.205, within(1e-12));
        assertThat(d.count(2)).isEqualTo(2);
        assertThat(d.correctness(2)).isEqualTo(1.0);
        assertThat(d.predictedLabel(2)).isEqualTo(1);
        assertThat(d.seen(0)).isFalse();
        assertThat(d.aum(0)).isNaN();
        assertThat(d.scores(SuspectScore.AUM)[2]).isCloseTo(-1.205, within(1e-12));
        assertThat(d.scores(SuspectScore.AUM)[0]).isNaN();
    }

    @Test
    void marginUsesLargestOtherLogitAndPredictedLabelIsArgmax() {
        TrainingDynamics d = new TrainingDynamics(1, 4);
        d.observe(0, new double[]{2.0, 0.5, 3.5, 1.0}, 1, 0);
        assertThat(d.lastMargin(0)).isCloseTo(0.5 - 3.5, within(1e-6));
        assertThat(d.predictedLabel(0)).isEqualTo(2);
        assertThat(d.lastCorrect(0)).isFalse();
        double sum = Math.exp(2.0) + Math.exp(0.5) + Math.exp(3.5) + Math.exp(1.0);
        assertThat(d.confidence(0)).isCloseTo(Math.exp(0.5) / sum, within(1e-12));
        assertThat(d.meanLoss(0)).isCloseTo(-Math.log(Math.exp(0.5) / sum), within(1e-12));
    }

    @Test
    void incrementalUpdatesEqualTheBatchFormulas() {
        int n = 50;
        int c = 5;
        int epochs = 7;
        Random rnd = new Random(42);
        double[][][] logits = new double[epochs][n][c];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = rnd.nextInt(c);
        }
        TrainingDynamics d = new TrainingDynamics(n, c);
        for (int e = 0; e < epochs; e++) {
            // whole batch through the INDArray entry point, rows in shuffled order
            long[] idx = new long[n];
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                long t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
            INDArray z = Nd4j.create(DataType.FLOAT, n, c);
            INDArray y = Nd4j.zeros(DataType.FLOAT, n, c);
            for (int r = 0; r < n; r++) {
                int i = (int) idx[r];
                for (int k = 0; k < c; k++) {
                    // float values, so the float INDArray holds them exactly
                    logits[e][i][k] = (float) (rnd.nextGaussian() * 3);
                    z.putScalar(r, k, logits[e][i][k]);
                }
                y.putScalar(r, labels[i], 1.0);
            }
            d.observe(idx, z, y, e);
        }
        for (int i = 0; i < n; i++) {
            double[] p = new double[epochs];
            double[] m = new double[epochs];
            double lossSum = 0;
            int correct = 0;
            for (int e = 0; e < epochs; e++) {
                double[] z = logits[e][i];
                double sum = 0;
                double maxOther = Double.NEGATIVE_INFINITY;
                int argmax = 0;
                for (int k = 0; k < c; k++) {
                    sum += Math.exp(z[k]);
                    if (k != labels[i]) {
                        maxOther = Math.max(maxOther, z[k]);
                    }
                    if (z[k] > z[argmax]) {
                        argmax = k;
                    }
                }
                p[e] = Math.exp(z[labels[i]]) / sum;
                m[e] = z[labels[i]] - maxOther;
                lossSum += -Math.log(p[e]);
                if (argmax == labels[i]) {
                    correct++;
                }
            }
            double meanP = java.util.Arrays.stream(p).average().orElseThrow();
            double varP = java.util.Arrays.stream(p).map(v -> (v - meanP) * (v - meanP)).sum() / epochs;
            assertThat(d.aum(i)).isCloseTo(java.util.Arrays.stream(m).average().orElseThrow(), within(1e-9));
            assertThat(d.confidence(i)).isCloseTo(meanP, within(1e-9));
            assertThat(d.variability(i)).isCloseTo(Math.sqrt(varP), within(1e-9));
            assertThat(d.correctness(i)).isCloseTo((double) correct / epochs, within(1e-12));
            assertThat(d.meanLoss(i)).isCloseTo(lossSum / epochs, within(1e-9));
            assertThat(d.givenLabel(i)).isEqualTo(labels[i]);
        }
    }

    @Test
    void forgettingEventsAndLearnedEpochOnAScriptedSequence() {
        // example 0: R W R R W W R R R  -> forgetting events at 1 and 4 = 2, learned since epoch 6
        // example 1: W W R R R R R R R  -> 0 events, learned since epoch 2
        // example 2: R R R R R R R R W  -> 1 event, not learned (-1)
        // example 3: W W W W W W W W W  -> 0 events, never learned
        String[] script = {"RWRRWWRRR", "WWRRRRRRR", "RRRRRRRRW", "WWWWWWWWW"};
        TrainingDynamics d = new TrainingDynamics(4, 3);
        for (int e = 0; e < 9; e++) {
            for (int i = 0; i < 4; i++) {
                boolean right = script[i].charAt(e) == 'R';
                d.observe(i, logitsWithMargin(0, right ? 1.0 : -1.0), 0, e);
            }
        }
        assertThat(d.forgettingEvents(0)).isEqualTo(2);
        assertThat(d.learnedSinceEpoch(0)).isEqualTo(6);
        assertThat(d.forgettingEvents(1)).isEqualTo(0);
        assertThat(d.learnedSinceEpoch(1)).isEqualTo(2);
        assertThat(d.forgettingEvents(2)).isEqualTo(1);
        assertThat(d.learnedSinceEpoch(2)).isEqualTo(-1);
        assertThat(d.forgettingEvents(3)).isEqualTo(0);
        assertThat(d.learnedSinceEpoch(3)).isEqualTo(-1);
        assertThat(d.correctness(0)).isCloseTo(6 / 9.0, within(1e-12));
        // never learned ranks above all in the forgetting score; then by events
        double[] f = d.scores(SuspectScore.FORGETTING);
        assertThat(f[3]).isGreaterThan(f[0]);
        assertThat(f[0]).isGreaterThan(f[1]);
        // Toneva et al.: only an example never classified correctly is "never learned". Example 2
        // was learned and forgotten once at the end: its score is its one event, below example 0's two
        // (before the fix it got 1e6 because its latest observation was wrong)
        assertThat(f).containsExactly(2, 0, 1, SuspectScore.NEVER_LEARNED);
    }

    @Test
    void forgettingScoreGivesTheNeverLearnedValueOnlyToExamplesNeverCorrect() {
        // R W (learned, then forgotten), W W (never), W R W R W (learned twice, forgotten twice)
        String[] script = {"RWWWW", "WWWWW", "WRWRW", "RRRRR"};
        TrainingDynamics d = new TrainingDynamics(4, 3);
        for (int e = 0; e < 5; e++) {
            for (int i = 0; i < 4; i++) {
                boolean right = script[i].charAt(e) == 'R';
                d.observe(i, logitsWithMargin(1, right ? 2.0 : -2.0), 1, e);
            }
        }
        double[] f = d.scores(SuspectScore.FORGETTING);
        assertThat(f).containsExactly(1, SuspectScore.NEVER_LEARNED, 2, 0);
        // every example but 3 is wrong at its latest observation; only example 1 was never learned
        assertThat(d.lastCorrect(0)).isFalse();
        assertThat(d.lastCorrect(2)).isFalse();
    }

    @Test
    void storedValuesAreLinearInNAndDoNotGrowWithEpochs() {
        for (int n : new int[]{10, 1000}) {
            TrainingDynamics d = new TrainingDynamics(n, 10);
            long before = d.storedValues();
            assertThat(before).isEqualTo((long) TrainingDynamics.VALUES_PER_EXAMPLE * n);
            Random rnd = new Random(1);
            for (int e = 0; e < 20; e++) {
                for (int i = 0; i < n; i++) {
                    double[] z = new double[10];
                    for (int k = 0; k < 10; k++) {
                        z[k] = rnd.nextGaussian();
                    }
                    d.observe(i, z, i % 10, e);
                }
            }
            assertThat(d.observations()).isEqualTo(20L * n);
            assertThat(d.storedValues()).isEqualTo(before);
        }
    }

    @Test
    void unstableIndicesAndOutOfRangeIndicesFailClearly() {
        TrainingDynamics d = new TrainingDynamics(3, 3);
        d.observe(1, new double[]{1, 0, 0}, 0, 0);
        assertThatThrownBy(() -> d.observe(1, new double[]{1, 0, 0}, 2, 1))
                .hasMessageContaining("not stable");
        assertThatThrownBy(() -> d.observe(3, new double[]{1, 0, 0}, 0, 0))
                .hasMessageContaining("outside [0, 3)");
    }

    @Test
    void combinedScoreRanksAPlantedFlipAboveCleanHardExamples() {
        // clean hard example: margins around zero, right half the time;
        // flipped example memorised late: strongly negative, then positive.
        TrainingDynamics d = new TrainingDynamics(3, 3);
        double[] hard = {-0.8, 0.6, -0.7, 0.5, -0.6, 0.7, -0.5, 0.8, 0.4, 0.6};
        double[] flipped = {-4, -3.5, -3, -2, -1, -0.5, 0.5, 1.5, 2.5, 3};
        double[] easy = {2, 3, 4, 5, 5, 6, 6, 7, 7, 8};
        for (int e = 0; e < 10; e++) {
            d.observe(0, logitsWithMargin(0, hard[e]), 0, e);
            d.observe(1, logitsWithMargin(0, flipped[e]), 0, e);
            d.observe(2, logitsWithMargin(0, easy[e]), 0, e);
        }
        double[] c = d.scores(SuspectScore.COMBINED);
        assertThat(c[1]).isGreaterThan(c[0]);
        assertThat(c[0]).isGreaterThan(c[2]);
        assertThatThrownBy(() -> SuspectScore.parse("nope")).hasMessageContaining("combined");
        assertThat(SuspectScore.parse("aum")).isEqualTo(SuspectScore.AUM);
    }
}
