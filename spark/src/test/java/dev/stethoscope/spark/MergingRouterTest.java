package dev.stethoscope.spark;

import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The re-stamping of a graph's worker records with the driver's counts (no Spark needed). */
class MergingRouterTest {
    private static StethoscopeRecord finding(String unit, long from, long to, int epoch, long iteration) {
        StethoscopeRecord r = StethoscopeRecord.of(new AssertionFinding("d", "WARNING", "m", unit, from, to, true, "record"));
        r.setKey("s", "w_0/assertions", 1234L, epoch, iteration);
        return r;
    }

    @Test
    void aRoundLocalRecordGetsTheDriversEpochAndTheBasePlusItsIteration() {
        StethoscopeRecord r = (StethoscopeRecord) MergingRouter.restamp(finding("step", 1, 3, 0, 3), 2, 10);
        assertThat(r.getEpoch()).isEqualTo(2);
        assertThat(r.getIteration()).isEqualTo(13);
        assertThat(r.getSessionID()).isEqualTo("s");
        assertThat(r.getWorkerID()).isEqualTo("w_0/assertions");
        assertThat(r.getTimeStamp()).as("the storage key keeps its timestamp").isEqualTo(1234L);
        AssertionFinding f = r.payload(AssertionFinding.class);
        assertThat(f.from()).isEqualTo(11);
        assertThat(f.to()).isEqualTo(13);
        assertThat(f.message()).isEqualTo("m");
    }

    @Test
    void aRecordAlreadyAtGlobalCountsKeepsItsIterationAndRange() {
        StethoscopeRecord r = (StethoscopeRecord) MergingRouter.restamp(finding("step", 11, 12, 2, 12), 2, 10);
        assertThat(r.getIteration()).isEqualTo(12);
        assertThat(r.getEpoch()).isEqualTo(2);
        assertThat(r.payload(AssertionFinding.class).from()).isEqualTo(11);
        assertThat(r.payload(AssertionFinding.class).to()).isEqualTo(12);
    }

    @Test
    void onlyAStepRangeMoves() {
        StethoscopeRecord r = (StethoscopeRecord) MergingRouter.restamp(finding("epoch", 0, 0, 0, 1), 1, 4);
        assertThat(r.getIteration()).isEqualTo(5);
        assertThat(r.getEpoch()).isEqualTo(1);
        assertThat(r.payload(AssertionFinding.class).from()).isZero();
        assertThat(r.payload(AssertionFinding.class).to()).isZero();
    }
}
