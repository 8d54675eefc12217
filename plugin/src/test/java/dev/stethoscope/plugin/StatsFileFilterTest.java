package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.records.Health;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.stats.StatsListener;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.DataInput2;
import org.mapdb.DataOutput2;
import org.mapdb.Serializer;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The deserialization filter on real stats files: a run written by DL4J's StatsListener and a
 * Stethoscope monitor opens and reads in full with the filter on; a file whose storage keys hold
 * another class is refused with a clear message, without building that class.
 */
class StatsFileFilterTest {
    /** A class a stats file never holds; records whether it was ever deserialised. */
    public static final class Forbidden implements Serializable {
        private static final long serialVersionUID = 1L;
        static volatile boolean built;
        final String payload = "x";

        @Override
        public boolean equals(Object o) {
            return o instanceof Forbidden;
        }

        @Override
        public int hashCode() {
            return 42;
        }

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            built = true;
        }
    }

    /** Writes keys with Java serialisation, as DL4J's key serializers do, but any object. */
    static final class AnyKey implements Serializer<Object> {
        @Override
        public void serialize(DataOutput2 out, Object value) throws IOException {
            ObjectOutputStream o = new ObjectOutputStream(out);
            o.writeObject(value);
            o.flush();
        }

        @Override
        public Object deserialize(DataInput2 input, int available) throws IOException {
            try {
                return new ObjectInputStream(new DataInput2.DataInputToStream(input)).readObject();
            } catch (ClassNotFoundException e) {
                throw new IOException(e);
            }
        }
    }

    @AfterAll
    static void off() {
        StatsFileFilter.suspend(true);
    }

    static Path realRun(Path dir) {
        Path file = dir.resolve("stats.dl4j");
        FileStatsStorage st = new FileStatsStorage(file.toFile());
        MultiLayerNetwork net = FaultInjectionTest.net();
        net.addListeners(new StatsListener(st, null, null, "s-dl4j", null));
        HealthListener.builder(net, st).sessionId("s").schedule(Schedule.iterations(1)).attach();
        net.fit(new ListDataSetIterator<>(FaultInjectionTest.blobs(1, 64).asList(), 16), 2);
        st.close();
        return file;
    }

    @Test
    void aRealRunReadsInFullWithTheFilterOn(@TempDir Path tmp) {
        Path file = realRun(tmp);
        assertThat(StatsFileFilter.install()).isTrue();
        FileStatsStorage st = StatsFiles.open(file.toFile());
        try {
            int n = 0;
            for (String s : st.listSessionIDs()) {
                for (String t : st.listTypeIDsForSession(s)) {
                    n += st.getAllStaticInfos(s, t).size();
                    n += st.getAllUpdatesAfter(s, t, -1).size();
                }
            }
            assertThat(st.getAllUpdatesAfter("s", Health.TYPE_ID, -1)).isNotEmpty();
            assertThat(st.listTypeIDsForSession("s-dl4j")).isNotEmpty(); // DL4J's StatsListener records
            assertThat(n).isGreaterThan(10);
        } finally {
            st.close();
        }
        assertThat(StatsFileFilter.rejectedClasses()).isEmpty();
    }

    @Test
    void aFileWithAForbiddenClassIsRefusedWithoutBuildingIt(@TempDir Path tmp) {
        Path file = realRun(tmp);
        StatsFileFilter.suspend(true); // crafting the file deserialises its keys
        DB db = DBMaker.fileDB(file.toFile()).transactionEnable().make();
        @SuppressWarnings("unchecked")
        Map<Object, byte[]> staticInfo = (Map<Object, byte[]>) (Map<?, ?>) db.hashMap("staticInfo")
                .keySerializer(new AnyKey()).valueSerializer(Serializer.BYTE_ARRAY).open();
        staticInfo.put(new Forbidden(), new byte[]{0, 0, 0, 0});
        db.commit();
        db.close();

        StatsFileFilter.install();
        StatsFileFilter.suspend(false);
        Forbidden.built = false;
        assertThatThrownBy(() -> StatsFiles.open(file.toFile()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining(Forbidden.class.getName())
                .hasMessageContaining("trusted runs only");
        assertThat(Forbidden.built).as("the forbidden class was never deserialised").isFalse();

        // without the filter the same file builds the object: the test above can fail
        StatsFileFilter.suspend(true);
        try {
            try {
                FileStatsStorage st = new FileStatsStorage(file.toFile());
                for (String session : st.listSessionIDs()) {
                    st.listTypeIDsForSession(session);
                }
                st.close();
            } catch (RuntimeException expected) {
                // DL4J then fails on the key's type, after deserialising it
            }
            assertThat(Forbidden.built).isTrue();
        } finally {
            StatsFileFilter.suspend(false);
        }
    }
}
