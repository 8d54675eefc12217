package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.RunInfo;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.probes.memorization.LassParameters;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Untrusted record bytes: real records of every type (from a training with every monitor) are
 * truncated, bit-flipped and given huge length fields; decoding either succeeds or fails with an
 * {@link UncheckedIOException} naming the problem: never an OutOfMemoryError, another runtime
 * exception or a hang. A corrupt record inside a real stats file is skipped by the UI's route,
 * which still serves the others.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CorruptRecordsTest {
    final Map<String, StethoscopeRecord> samples = new LinkedHashMap<>();

    @BeforeAll
    void recordsOfEveryType() {
        InMemoryStatsStorage st = new InMemoryStatsStorage();
        MultiLayerNetwork net = FaultInjectionTest.net();
        DataSet data = FaultInjectionTest.blobs(11, 96);
        DataSet held = FaultInjectionTest.blobs(12, 60);
        HealthListener health = HealthListener.builder(net, st).schedule(Schedule.iterations(1)).attach();
        LinearProbeListener probes = LinearProbeListener.builder(net, st).probeData(held).schedule(Schedule.epochs(1).andLast().totalEpochs(2)).attach();
        SvccaListener svcca = SvccaListener.builder(net, st).probeInputs(held.getFeatures()).schedule(Schedule.epochs(1).andLast().totalEpochs(2)).attach();
        MemorizationListener mem = MemorizationListener.builder(net, st)
                .training(IndexedArrayIterator.builder(data.getFeatures(), data.getLabels()).batchSize(16).noShuffle().build())
                .validation(held).trainingSize(32).validationSize(20)
                .lass(LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                        .withMaxIterations(5).withSeed(3)).csrBatchSize(20).sensitivitySchedule(Schedule.iterations(3)).attach();
        TrainingDynamicsListener dyn = TrainingDynamicsListener.builder(net, st).numExamples(96).topK(5)
                .featureShape(8).attach();
        AttributionListener.builder(net, st).methods("saliency", "ig").examplesPerClass(held, 1).schedule(Schedule.epochs(1).andLast().totalEpochs(2)).attach();
        dev.stethoscope.listeners.features.FeatureEvolutionListener features = dev.stethoscope.listeners.features
                .FeatureEvolutionListener.builder(net, st).schedule(Schedule.atEpochs(1)).projectionData(held).attach();
        dev.stethoscope.listeners.assertions.ModelAssertions.builder(net, st).assertThat("one-record",
                w -> w.latest().step() == 2 ? dev.stethoscope.probes.assertions.Severity.WARNING
                        : dev.stethoscope.probes.assertions.Severity.NONE).attach();
        health.setFaultHook((m, phase, bg) -> {
            if (phase.equals("onEpochEnd")) {
                throw new IllegalStateException("one error record");
            }
        });
        net.fit(dyn.track(IndexedArrayIterator.builder(data.getFeatures(), data.getLabels()).batchSize(16)
                .noShuffle().build()), 2);
        probes.close();
        svcca.close();
        mem.close();
        dyn.close();
        features.close();
        SuspectExport.putMark(st, dyn.sessionId(), new SuspectMark(3, 0, SuspectMark.DECISIONS.get(0), 1), 1);
        String session = health.sessionId();
        for (String type : st.listTypeIDsForSession(session)) {
            for (Persistable p : st.getAllStaticInfos(session, type)) {
                samples.putIfAbsent(((StethoscopeRecord) p).getPayloadTypeID(), (StethoscopeRecord) p);
            }
            for (Persistable p : st.getAllUpdatesAfter(session, type, 0)) {
                samples.putIfAbsent(((StethoscopeRecord) p).getPayloadTypeID(), (StethoscopeRecord) p);
            }
        }
        assertThat(samples.keySet()).contains(RunInfo.TYPE_ID);
        for (String type : RecordTypes.typeIds()) {
            if (!type.startsWith("Stethoscope.")) {
                continue; // the example monitor of the test sources (docs/ADDING_A_MONITOR.md) is not trained here
            }
            assertThat(samples.keySet()).as("a sample of " + type).contains(type);
        }
    }

    /** Decodes {@code bytes} as a fresh instance of {@code like}'s class; only a clear failure is allowed. */
    static boolean decodes(StethoscopeRecord like, byte[] bytes) {
        StethoscopeRecord r;
        try {
            r = like.getClass().getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
        try {
            r.decode(bytes);
            return true;
        } catch (UncheckedIOException e) {
            assertThat(e.getCause().getMessage()).isNotBlank();
            return false;
        }
    }

    @Test
    void truncatedRecordsOfEveryTypeFailClearly() {
        for (StethoscopeRecord r : samples.values()) {
            byte[] full = r.encode();
            assertThat(decodes(r, full)).as(r.getPayloadTypeID()).isTrue();
            for (int len = 0; len < full.length; len += Math.max(1, full.length / 200)) {
                assertThat(decodes(r, Arrays.copyOf(full, len))).as("%s cut to %d of %d bytes", r.getPayloadTypeID(), len,
                        full.length).isFalse();
            }
            assertThat(decodes(r, Arrays.copyOf(full, full.length + 3))).as("trailing bytes").isFalse();
        }
    }

    @Test
    void hugeLengthFieldsAnywhereNeverAllocate() {
        for (StethoscopeRecord r : samples.values()) {
            byte[] full = r.encode();
            int step = Math.max(1, full.length / 400);
            for (int at = 0; at + 4 <= full.length; at += step) {
                for (int huge : new int[]{Integer.MAX_VALUE, 0x7ffffff0, 1 << 29, -2}) {
                    byte[] b = full.clone();
                    ByteBuffer.wrap(b).putInt(at, huge);
                    decodes(r, b); // an OutOfMemoryError or another exception fails the test
                }
            }
        }
    }

    @Test
    void bitFlipsNeverEscapeAsAnythingButAClearError() {
        Random rnd = new Random(7);
        for (StethoscopeRecord r : samples.values()) {
            byte[] full = r.encode();
            for (int k = 0; k < 300; k++) {
                byte[] b = full.clone();
                for (int f = 0; f < 1 + rnd.nextInt(3); f++) {
                    int i = rnd.nextInt(b.length);
                    b[i] ^= (byte) (1 << rnd.nextInt(8));
                }
                decodes(r, b);
            }
        }
    }

    @Test
    void aNewerHeaderOrPayloadVersionIsRefusedNotMisread() {
        for (StethoscopeRecord r : samples.values()) {
            byte[] b = r.encode();
            b[2] = 3; // magic (2 bytes), then the header version
            assertThatThrownBy(() -> new StethoscopeRecord().decode(b)).isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining("header version 3").hasMessageContaining("newer Stethoscope");

            // the payload's component count follows the header: one more component than this version knows
            byte[] p = r.encode();
            int at = 3 + utf8Field(r.getTypeID()) + utf8Field(r.getPayloadTypeID()) + utf8Field(r.getSessionID())
                    + utf8Field(r.getWorkerID()) + 8 + 4 + 8;
            ByteBuffer buf = ByteBuffer.wrap(p);
            buf.putInt(at, buf.getInt(at) + 1);
            assertThatThrownBy(() -> new StethoscopeRecord().decode(p)).as(r.getPayloadTypeID())
                    .isInstanceOf(UncheckedIOException.class).hasMessageContaining("written by a newer Stethoscope");
        }
    }

    private static int utf8Field(String s) {
        return 4 + s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    /**
     * A health record whose stored bytes are cut short, as a damaged file holds them (a
     * {@link Persistable} of its own, since the record envelope is final; it decodes as the
     * envelope does, and fails).
     */
    public static final class DamagedHealthRecord implements Persistable {
        private static final long serialVersionUID = 1L;
        private StethoscopeRecord inner = StethoscopeRecord.of(new Health("train-batch", List.of("a"),
                new double[]{1}, new double[]{1}, new double[]{0}, new double[]{1}, new double[]{-3}));

        @Override
        public String getSessionID() {
            return inner.getSessionID();
        }

        @Override
        public String getTypeID() {
            return inner.getTypeID();
        }

        @Override
        public String getWorkerID() {
            return inner.getWorkerID();
        }

        @Override
        public long getTimeStamp() {
            return inner.getTimeStamp();
        }

        void setKey(String session, String worker, long timestamp, int epoch, long iteration) {
            inner.setKey(session, worker, timestamp, epoch, iteration);
        }

        @Override
        public int encodingLengthBytes() {
            return encode().length;
        }

        @Override
        public byte[] encode() {
            byte[] b = inner.encode();
            return Arrays.copyOf(b, b.length / 2);
        }

        @Override
        public void encode(ByteBuffer buffer) {
            buffer.put(encode());
        }

        @Override
        public void encode(java.io.OutputStream outputStream) throws java.io.IOException {
            outputStream.write(encode());
        }

        @Override
        public void decode(byte[] decode) {
            inner = new StethoscopeRecord();
            inner.decode(decode);
        }

        @Override
        public void decode(ByteBuffer buffer) {
            byte[] b = new byte[buffer.remaining()];
            buffer.get(b);
            decode(b);
        }

        @Override
        public void decode(java.io.InputStream inputStream) throws java.io.IOException {
            decode(inputStream.readAllBytes());
        }
    }

    @Test
    void aCorruptRecordInARealStatsFileIsSkippedAndTheOthersServed(@TempDir Path tmp) throws Exception {
        FileStatsStorage st = new FileStatsStorage(tmp.resolve("stats.dl4j").toFile());
        MultiLayerNetwork net = FaultInjectionTest.net();
        HealthListener h = HealthListener.builder(net, st).sessionId("s").schedule(Schedule.iterations(1)).attach();
        net.fit(new org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator<>(
                FaultInjectionTest.blobs(1, 64).asList(), 16), 1);
        int good = st.getAllUpdatesAfter("s", Health.TYPE_ID, 0).size();
        assertThat(good).isPositive();
        StethoscopeRecord some = (StethoscopeRecord) st.getAllUpdatesAfter("s", Health.TYPE_ID, 0).get(0);
        DamagedHealthRecord bad = new DamagedHealthRecord();
        bad.setKey("s", some.getWorkerID(), some.getTimeStamp() + 1_000_000, 0, 0);
        st.putUpdate(bad);
        st.close();

        FileStatsStorage reopened = StatsFiles.open(tmp.resolve("stats.dl4j").toFile());
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            assertThatThrownBy(() -> reopened.getAllUpdatesAfter("s", Health.TYPE_ID, 0))
                    .as("DL4J's own read fails as a whole").isInstanceOf(RuntimeException.class);
            server.attach(reopened);
            HttpResponse<String> page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + server.port() + "/stethoscope/api/records/s/" + Health.TYPE_ID)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body().split("\"type\":\"" + Health.TYPE_ID + "\"", -1)).hasSize(good + 1);
        } finally {
            reopened.close();
        }
    }
}
