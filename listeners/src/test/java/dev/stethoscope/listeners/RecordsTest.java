package dev.stethoscope.listeners;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.RunInfo;
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

    private static StethoscopeRecord health(long ts) {
        StethoscopeRecord r = StethoscopeRecord.of(new Health("train-batch", List.of("dense1", "<script>x</script>"),
                new double[]{0.5, 1.5}, new double[]{0.1, 0.2}, new double[]{0.0, Double.NaN},
                new double[]{3.0, 4.0}, new double[]{-3.1, Double.NaN}));
        r.setKey("s1", "0/health", ts, 2, 17);
        return r;
    }

    @Test
    void healthRecordRoundTripsThroughBytes() {
        StethoscopeRecord r = health(1000);
        StethoscopeRecord back = new StethoscopeRecord();
        back.decode(r.encode());
        assertThat(back.toJson()).isEqualTo(r.toJson());
        Health h = back.payload(Health.class);
        assertThat(h.activationMean()).containsExactly(0.5, 1.5);
        assertThat(h.deadFraction()[1]).isNaN();
        assertThat(back.getEpoch()).isEqualTo(2);
        assertThat(back.getIteration()).isEqualTo(17);
        assertThat(back.getTypeID()).isEqualTo(Health.TYPE_ID);
        assertThat(r.encodingLengthBytes()).isEqualTo(r.encode().length);
    }

    @Test
    void errorAndRunInfoRecordsRoundTrip() {
        StethoscopeRecord e = StethoscopeRecord.of(MonitorError.of("health", "iterationDone",
                new IllegalStateException("boom")));
        e.setKey("s1", "w", 5, 0, 1);
        StethoscopeRecord e2 = new StethoscopeRecord();
        e2.decode(e.encode());
        assertThat(e2.toJson()).isEqualTo(e.toJson());
        assertThat(e2.payload(MonitorError.class).message()).isEqualTo("boom");

        StethoscopeRecord ri = StethoscopeRecord.staticInfo(Health.TYPE_ID, new RunInfo("health", "MultiLayerNetwork",
                123, List.of("a", "b"), List.of("DenseLayer", "OutputLayer"), Map.of("every", "10")));
        ri.setKey("s1", "w", 6, 0, 0);
        StethoscopeRecord ri2 = new StethoscopeRecord();
        ri2.decode(ri.encode());
        assertThat(ri2.toJson()).isEqualTo(ri.toJson());
        assertThat(ri2.payload(RunInfo.class).settings()).containsEntry("every", "10");
        assertThat(ri2.getTypeID()).isEqualTo(Health.TYPE_ID);
        assertThat(ri2.getPayloadTypeID()).isEqualTo(RunInfo.TYPE_ID);
    }

    @Test
    void askingForTheWrongPayloadOrDecodingGarbageFailsClearly() {
        StethoscopeRecord r = health(1);
        assertThatThrownBy(() -> r.payload(MonitorError.class))
                .hasMessageContaining("Stethoscope.Health").hasMessageContaining("not a MonitorError");
        assertThatThrownBy(() -> new StethoscopeRecord().decode(new byte[]{1, 2, 3, 4}))
                .hasMessageContaining("Not a Stethoscope record");
    }

    @Test
    void everyRegisteredTypeHasItsPayloadClassAndBack() {
        assertThat(RecordTypes.typeIds()).contains(Health.TYPE_ID, MonitorError.TYPE_ID, RunInfo.TYPE_ID);
        for (String type : RecordTypes.typeIds()) {
            assertThat(RecordTypes.typeIdOf(RecordTypes.payloadClass(type))).isEqualTo(type);
            assertThat(RecordTypes.newRecord(type)).isNotNull();
        }
        assertThatThrownBy(() -> RecordTypes.newRecord("Stethoscope.Nope"))
                .hasMessageContaining("Unknown record type 'Stethoscope.Nope'").hasMessageContaining(Health.TYPE_ID);
    }

    private static StethoscopeRecord runInfo() {
        StethoscopeRecord ri = StethoscopeRecord.staticInfo(Health.TYPE_ID, new RunInfo("health", "MultiLayerNetwork",
                1, List.of("a"), List.of("DenseLayer"), Map.of()));
        ri.setKey("s1", "0/health", 9, 0, 0);
        return ri;
    }

    private static void assertStored(StatsStorage storage, List<StethoscopeRecord> written) {
        List<Persistable> got = storage.getAllUpdatesAfter("s1", Health.TYPE_ID, 0);
        assertThat(got).hasSize(written.size());
        for (int i = 0; i < written.size(); i++) {
            assertThat(got.get(i)).isInstanceOf(StethoscopeRecord.class);
            assertThat(((StethoscopeRecord) got.get(i)).payload()).isInstanceOf(Health.class);
            assertThat(((StethoscopeRecord) got.get(i)).toJson()).isEqualTo(written.get(i).toJson());
        }
    }

    @Test
    void recordsSurviveInMemoryStorage() {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        storage.putStaticInfo(runInfo());
        List<StethoscopeRecord> written = List.of(health(10), health(11), health(12));
        written.forEach(storage::putUpdate);
        assertStored(storage, written);
    }

    @Test
    void recordsSurviveFileStorageReopenedFromDisk(@TempDir File dir) throws Exception {
        File f = new File(dir, "run.dl4j");
        List<StethoscopeRecord> written = List.of(health(10), health(11), health(12));
        FileStatsStorage storage = new FileStatsStorage(f);
        storage.putStaticInfo(runInfo());
        written.forEach(storage::putUpdate);
        storage.close();

        FileStatsStorage reopened = new FileStatsStorage(f);
        try {
            assertThat(reopened.listSessionIDs()).containsExactly("s1");
            assertStored(reopened, written);
            Persistable info = reopened.getStaticInfo("s1", Health.TYPE_ID, "0/health");
            assertThat(((StethoscopeRecord) info).payload()).isInstanceOf(RunInfo.class);
        } finally {
            reopened.close();
        }
    }
}
