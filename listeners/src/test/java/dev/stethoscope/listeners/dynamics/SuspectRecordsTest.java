package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SuspectRecordsTest {
    private static final int N = 12;

    /** Examples 0..9 observed with logits (m, 0, 0), label 0: m = 2 for even, -i for odd; 10, 11 unseen. */
    private static TrainingDynamics dynamics() {
        TrainingDynamics d = new TrainingDynamics(N, 3);
        for (int i = 0; i < 10; i++) {
            d.observe(i, new double[]{i % 2 == 0 ? 2 : -i, 0, 0}, 0, 0);
        }
        return d;
    }

    @Test
    void theRecordRanksTheTopKAndReportsTheirValuesFeaturesAndMetrics() {
        TrainingDynamics d = dynamics();
        SuspectRecords records = new SuspectRecords(d, "train-pass", 3, new long[]{9, 7, 2}, 100);
        FeatureCache cache = new FeatureCache(d, 10, null, new long[]{2});
        cache.offer(new long[]{9}, Nd4j.create(new float[]{0.25f, 0.75f}, new long[]{1, 2}, DataType.FLOAT));
        double scale = d.combinedScale();
        double[] combined = records.combined(scale);
        assertThat(combined[10]).isNaN();
        Suspects r = records.record(combined, cache, 12.5, 4);

        assertThat(r.indices()).containsExactly(9, 7, 5); // the three largest combined scores
        assertThat(r.value(0, "combined")).isEqualTo(combined[9]);
        assertThat(r.value(0, "aum")).isCloseTo(-9, within(1e-9));
        assertThat(r.suspects().get(0).predicted()).isNotZero();
        assertThat(r.suspects().get(0).features()[1]).isCloseTo(0.75f, within(0.5f / 255 + 1e-6f));
        assertThat(r.suspects().get(1).lo()).isNaN(); // 7 is not cached and there is no source
        assertThat(r.summary("seen")).isEqualTo(10);
        assertThat(r.summary("fracLastCorrect")).isCloseTo(0.5, within(1e-12));
        assertThat(r.summary("captureMillis")).isEqualTo(12.5);
        assertThat(r.summary("batches")).isEqualTo(4);
        assertThat(r.summary("featuresCached")).isEqualTo(1);
        assertThat(r.metric("combined").precisionAtK()).isCloseTo(2 / 3.0, within(1e-12)); // 9 and 7 of {9, 7, 2}
        // the data map: every seen example (stride 1) and no unseen one
        assertThat(r.dataMap().index()).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    }

    @Test
    void withoutKnownFlipsNoMetricsAndTheTableMirrorsTheState() {
        TrainingDynamics d = dynamics();
        SuspectRecords records = new SuspectRecords(d, "train-pass", 2, null, 100);
        Suspects r = records.record(records.combined(d.combinedScale()),
                new FeatureCache(d, 10, null, null), 0, 0);
        assertThat(r.numFlipped()).isZero();
        assertThat(r.featureShape()).containsExactly(0L);
        SuspectTable t = records.table(3);
        assertThat(t.tableEpoch()).isEqualTo(3);
        for (int i = 0; i < N; i++) {
            assertThat(t.predicted()[i]).isEqualTo(d.predictedLabel(i));
            assertThat(t.count()[i]).isEqualTo(d.count(i));
        }
    }
}
