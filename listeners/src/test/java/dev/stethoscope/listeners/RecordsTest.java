package dev.stethoscope.listeners;

import dev.stethoscope.listeners.records.HealthRecord;
import dev.stethoscope.listeners.records.MonitorErrorRecord;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.RunInfoRecord;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RecordsTest {

    private static HealthRecord health(long ts) {
        HealthRecord r = new HealthRecord("train-batch", List.of("dense1", "<script>x</script>"),
                new double[]{0.5, 1.5}, new double[]{0.1, 0.2}, new double[]{0.0, Double.NaN},
                new double[]{3.0, 4.0}, new double[]{-3.1, Double.NaN});
        r.setKey("s1", "0/health", ts, 2, 17);
        return r;
    }

    @Test
    void healthRecordRoundTripsThroughBytes() {
        HealthRecord r = health(1000);
        HealthRecord back = new HealthRecord();
        back.decode(r.encode());
        assertThat(back.toJson()).isEqualTo(r.toJson());
        assertThat(back.getActivationMean()).containsExactly(0.5, 1.5);
        assertThat(back.getDeadFraction()[1]).isNaN();
        assertThat(back.getEpoch()).isEqualTo(2);
        assertThat(back.getIteration()).isEqualTo(17);
        assertThat(r.encodingLengthBytes()).isEqualTo(r.encode().length);
    }

    @Test
    void errorAndRunInfoRecordsRoundTrip() {
        MonitorErrorRecord e = new MonitorErrorRecord("health", "iterationDone", new IllegalStateException("boom"));
        e.setKey("s1", "w", 5, 0, 1);
        MonitorErrorRecord e2 = new MonitorErrorRecord();
        e2.decode(e.encode());
        assertThat(e2.toJson()).isEqualTo(e.toJson());
        assertThat(e2.getMessage()).isEqualTo("boom");

        RunInfoRecord ri = new RunInfoRecord(HealthRecord.TYPE_ID, "health", "MultiLayerNetwork", 123, List.of("a", "b"),
                List.of("DenseLayer", "OutputLayer"), Map.of("every", "10"));
        ri.setKey("s1", "w", 6, 0, 0);
        RunInfoRecord ri2 = new RunInfoRecord();
        ri2.decode(ri.encode());
        assertThat(ri2.toJson()).isEqualTo(ri.toJson());
        assertThat(ri2.getSettings()).containsEntry("every", "10");
        assertThat(ri2.getTypeID()).isEqualTo(HealthRecord.TYPE_ID);
    }

    @Test
    void decodingTheWrongTypeOrGarbageFailsClearly() {
        HealthRecord r = health(1);
        assertThatThrownBy(() -> new MonitorErrorRecord().decode(r.encode()))
                .hasMessageContaining("cannot be decoded as Stethoscope.Error");
        assertThatThrownBy(() -> new HealthRecord().decode(new byte[]{1, 2, 3, 4}))
                .hasMessageContaining("Not a Stethoscope record");
    }

    @Test
    void everyRegisteredTypeDecodesItsOwnEmptyInstanceKey() {
        for (String type : RecordTypes.typeIds()) {
            StethoscopeRecord rec = RecordTypes.newRecord(type);
            assertThat(rec.getTypeID()).isEqualTo(type);
        }
    }

    private static RunInfoRecord runInfo() {
        RunInfoRecord ri = new RunInfoRecord(HealthRecord.TYPE_ID, "health", "MultiLayerNetwork", 1, List.of("a"),
                List.of("DenseLayer"), Map.of());
        ri.setKey("s1", "0/health", 9, 0, 0);
        return ri;
    }

    private static void assertStored(StatsStorage storage, List<HealthRecord> written) {
        List<Persistable> got = storage.getAllUpdatesAfter("s1", HealthRecord.TYPE_ID, 0);
        assertThat(got).hasSize(written.size());
        for (int i = 0; i < written.size(); i++) {
            assertThat(got.get(i)).isInstanceOf(HealthRecord.class);
            assertThat(((HealthRecord) got.get(i)).toJson()).isEqualTo(written.get(i).toJson());
        }
    }

    @Test
    void recordsSurviveInMemoryStorage() {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        storage.putStaticInfo(runInfo());
        List<HealthRecord> written = List.of(health(10), health(11), health(12));
        written.forEach(storage::putUpdate);
        assertStored(storage, written);
    }

    @Test
    void recordsSurviveFileStorageReopenedFromDisk(@TempDir File dir) throws Exception {
        File f = new File(dir, "run.dl4j");
        List<HealthRecord> written = List.of(health(10), health(11), health(12));
        FileStatsStorage storage = new FileStatsStorage(f);
        storage.putStaticInfo(runInfo());
        written.forEach(storage::putUpdate);
        storage.close();

        FileStatsStorage reopened = new FileStatsStorage(f);
        try {
            assertThat(reopened.listSessionIDs()).containsExactly("s1");
            assertStored(reopened, written);
            assertThat(reopened.getStaticInfo("s1", HealthRecord.TYPE_ID, "0/health")).isInstanceOf(RunInfoRecord.class);
        } finally {
            reopened.close();
        }
    }
}
