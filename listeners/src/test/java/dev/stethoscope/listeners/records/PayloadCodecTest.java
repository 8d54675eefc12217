package dev.stethoscope.listeners.records;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The generic payload codec: round trips of every built-in payload, the JSON keys the page's
 * panels read, append-only versioning (older bytes read with defaults, newer bytes refused),
 * nested records and lists, and bytes that must be refused.
 */
class PayloadCodecTest {

    /** The JSON keys each panel reads today (the payload's components). */
    static final Map<String, List<String>> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put(Health.TYPE_ID, List.of("source", "layers", "activationMean", "activationStd", "deadFraction",
                "paramNorm", "updateRatioLog10"));
        KEYS.put(ProbeAccuracy.TYPE_ID, List.of("snapshotEpoch", "isFinal", "featureMode", "trainExamples",
                "testExamples", "layers", "features", "trainAccuracy", "testAccuracy", "trainLoss", "testLoss", "l2",
                "gradientNorm"));
        KEYS.put(SimilarityTable.TYPE_ID, List.of("kind", "method", "snapshotEpoch", "referenceEpoch", "dataPoints",
                "rows", "rowEpochs", "columns", "values", "underdetermined", "fewPoints"));
        KEYS.put(Memorization.TYPE_ID, List.of("criticalSampleRatio", "criticalCount", "csrExamples",
                "csrMeanIterations", "csrMillis", "csrCertified", "csrRadius", "csrPreset", "trainAccuracy", "trainLoss",
                "trainExamples", "valAccuracy", "valLoss", "valExamples", "trainScoreMean", "sensitivityGini",
                "sensitivityGiniCumulative", "sensitivityMean", "sensitivityMeasurements", "numClasses",
                "perClassSensitivity", "parameters"));
        KEYS.put(FeatureSnapshot.TYPE_ID, List.of("layer", "layerName", "layerType", "snapshotEpoch", "k", "units",
                "comparedUnits", "changedFraction", "meanOverlap", "settledAt", "filters", "weights", "activations",
                "inputs"));
        KEYS.put(FeatureProjection.TYPE_ID, List.of("layer", "layerName", "snapshotEpoch", "xs", "ys", "classes",
                "explained", "alignedError", "unalignedError"));
        KEYS.put(LossSensitivitySample.TYPE_ID, List.of("mean", "gini", "giniRunning", "examples"));
        KEYS.put(AttributionMaps.TYPE_ID, List.of("methods", "exampleIds", "labels", "targets", "height", "width",
                "inputs", "maps", "completenessGap", "aopc", "randomAopc", "targetScores", "inputName",
                "otherInputs"));
        KEYS.put(Suspects.TYPE_ID, List.of("capture", "numExamples", "numClasses", "summary", "columns",
                "featureShape", "suspects", "dataMap", "numFlipped", "metrics"));
        KEYS.put(SuspectTable.TYPE_ID, List.of("tableEpoch", "numExamples", "numClasses", "given", "predicted",
                "count", "forgetting", "learnedSince", "combined", "aum", "confidence", "variability", "correctness",
                "meanLoss", "lastLoss", "flipped"));
        KEYS.put(SuspectMark.TYPE_ID, List.of("index", "given", "decision", "corrected"));
        KEYS.put(MonitorError.TYPE_ID, List.of("monitor", "phase", "exceptionClass", "message", "stackTrace", "count"));
        KEYS.put(AssertionFinding.TYPE_ID, List.of("detector", "severity", "message", "unit", "from", "to", "user",
                "action", "source", "identity", "flagged", "numClasses", "featureShape", "examples", "checkpoint"));
        KEYS.put(RunInfo.TYPE_ID, List.of("monitor", "modelClass", "numParams", "layerNames", "layerTypes",
                "settings"));
    }

    @Test
    void everyBuiltInTypeHasASampleAndItsPanelsKeys() {
        assertThat(SamplePayloads.all().keySet()).containsExactlyInAnyOrderElementsOf(RecordTypes.typeIds());
        assertThat(KEYS.keySet()).containsExactlyInAnyOrderElementsOf(RecordTypes.typeIds());
        SamplePayloads.all().forEach((type, p) -> {
            assertThat(p.getClass()).isEqualTo(RecordTypes.payloadClass(type));
            assertThat(List.copyOf(PayloadCodec.toJson(p).keySet())).as(type).isEqualTo(KEYS.get(type));
        });
    }

    @Test
    void everyBuiltInPayloadRoundTripsThroughTheEnvelope() {
        SamplePayloads.all().forEach((type, p) -> {
            StethoscopeRecord r = type.equals(RunInfo.TYPE_ID) ? StethoscopeRecord.staticInfo(Health.TYPE_ID, p)
                    : StethoscopeRecord.of(p);
            r.setKey("session-ü", "0/" + type, 1234567L, 3, 99L);
            StethoscopeRecord back = new StethoscopeRecord();
            back.decode(r.encode());
            assertThat(back.toJson()).as(type).isEqualTo(r.toJson());
            assertThat(back.payload()).as(type).usingRecursiveComparison()
                    .withComparatorForType(Double::compare, Double.class)
                    .withComparatorForType(Float::compare, Float.class).isEqualTo(p);
            assertThat(back.getPayloadTypeID()).isEqualTo(type);
            assertThat(back.getSessionID()).isEqualTo("session-ü");
            assertThat(back.getEpoch()).isEqualTo(3);
            assertThat(back.getIteration()).isEqualTo(99L);
            assertThat(back.getTimeStamp()).isEqualTo(1234567L);
            assertThat(back.encode()).isEqualTo(r.encode());
        });
    }

    @Test
    void theEnvelopeSurvivesJavaSerialization() throws Exception {
        StethoscopeRecord r = StethoscopeRecord.of(SamplePayloads.all().get(Suspects.TYPE_ID));
        r.setKey("s", "w", 5, 1, 2);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bos)) {
            out.writeObject(r);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bos.toByteArray()))) {
            StethoscopeRecord back = (StethoscopeRecord) in.readObject();
            assertThat(back.toJson()).isEqualTo(r.toJson());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void jsonHasNoNaNAndTheShapesThePanelsRead() {
        Map<String, Record> all = SamplePayloads.all();
        Map<String, Object> h = PayloadCodec.toJson(all.get(Health.TYPE_ID));
        assertThat((List<Object>) h.get("deadFraction")).containsExactly(0.125, 0.0, null);

        Map<String, Object> s = PayloadCodec.toJson(all.get(SimilarityTable.TYPE_ID));
        assertThat((List<Object>) s.get("values")).containsExactly(Arrays.asList(0.41, null), List.of(0.93, 0.88));
        assertThat((List<Object>) s.get("underdetermined")).containsExactly(0, 1, 0, 0);
        assertThat((List<Object>) s.get("fewPoints")).containsExactly(0, 0, 1, 0);

        Map<String, Object> a = PayloadCodec.toJson(all.get(AttributionMaps.TYPE_ID));
        List<List<List<Object>>> maps = (List<List<List<Object>>>) a.get("maps");
        assertThat(maps).hasSize(2);
        assertThat(maps.get(0).get(1)).containsExactly(1f, 2f, 3f, 4f); // method 0, example 1
        assertThat(maps.get(1).get(0)).containsExactly(-1f, -2f, -3f, null);
        assertThat((List<Object>) a.get("completenessGap")).containsExactly(Arrays.asList(null, null),
                List.of(0.01, -0.02));
        assertThat(a.get("inputName")).isEqualTo("top");
        Map<String, Object> bottom = ((List<Map<String, Object>>) a.get("otherInputs")).get(0);
        assertThat(bottom.get("name")).isEqualTo("bottom <b>");
        assertThat(bottom.keySet()).containsExactly("name", "height", "width", "inputs", "maps", "aopc", "randomAopc");
        assertThat(((List<List<List<Object>>>) bottom.get("maps")).get(1).get(1)).containsExactly(0.5f, null);

        Map<String, Object> sus = PayloadCodec.toJson(all.get(Suspects.TYPE_ID));
        Map<String, Object> first = ((List<Map<String, Object>>) sus.get("suspects")).get(0);
        assertThat(first.keySet()).containsSubsequence("rank", "index", "given", "predicted", "combined", "aum",
                "confidence", "variability", "correctness", "forgetting", "learnedSince", "meanLoss", "lastLoss", "lo",
                "hi", "pixels");
        assertThat(first.get("rank")).isEqualTo(1);
        assertThat(first.get("pixels")).isEqualTo("AP8HCQ==");
        assertThat(((Map<String, Object>) sus.get("summary"))).containsEntry("seen", 60000.0).containsEntry("meanAum",
                null);
        assertThat(((Map<String, Object>) sus.get("dataMap")).keySet()).containsExactly("index", "confidence",
                "variability", "correctness");
        assertThat(((List<Map<String, Object>>) sus.get("metrics")).get(1)).containsEntry("score", "aum")
                .containsEntry("auroc", 0.95);

        Map<String, Object> m = PayloadCodec.toJson(all.get(Memorization.TYPE_ID));
        assertThat((Map<String, Object>) m.get("parameters")).containsExactly(Map.entry("radius", "0.0157"),
                Map.entry("steps", "10"));
    }

    // --- versioning, with test records standing for an older and a newer version of one payload ---

    record InnerV1(int id, String name) {
    }

    record InnerV2(int id, String name, double weight, List<String> tags) {
    }

    record OuterV1(String kind, List<InnerV1> items, InnerV1 main) {
    }

    record OuterV2(String kind, List<InnerV2> items, InnerV2 main, long added, boolean flag, float ratio,
                   Map<String, Integer> counts) {
    }

    record Normalising(String label, int count) {
        Normalising {
            count = count == 0 ? 1 : count;
        }
    }

    record Old(String label) {
    }

    @Test
    void anOlderEncodingIsReadByANewerReaderWithDefaults() throws IOException {
        byte[] old = PayloadCodec.encode(new OuterV1("k", List.of(new InnerV1(1, "a"), new InnerV1(2, null)),
                new InnerV1(3, "m")));
        OuterV2 v2 = PayloadCodec.decode(old, OuterV2.class);
        assertThat(v2.kind()).isEqualTo("k");
        assertThat(v2.items()).hasSize(2);
        assertThat(v2.items().get(0).name()).isEqualTo("a");
        assertThat(v2.items().get(0).weight()).isNaN();
        assertThat(v2.items().get(0).tags()).isNull();
        assertThat(v2.items().get(1).name()).isNull();
        assertThat(v2.main().id()).isEqualTo(3);
        assertThat(v2.added()).isZero();
        assertThat(v2.flag()).isFalse();
        assertThat(v2.ratio()).isNaN();
        assertThat(v2.counts()).isNull();
        // the compact constructor may normalise a default
        assertThat(PayloadCodec.decode(PayloadCodec.encode(new Old("x")), Normalising.class).count()).isEqualTo(1);
    }

    @Test
    void aNewerEncodingIsRefusedByAnOlderReader() {
        byte[] newer = PayloadCodec.encode(new OuterV2("k", List.of(), null, 5, true, 0.5f, Map.of("a", 1)));
        assertThatThrownBy(() -> PayloadCodec.decode(newer, OuterV1.class)).isInstanceOf(IOException.class)
                .hasMessageContaining("written by a newer Stethoscope").hasMessageContaining("7 components")
                .hasMessageContaining("knows 3");
        // a newer nested record inside a list is refused the same way
        byte[] nested = PayloadCodec.encode(new OuterV2("k", List.of(new InnerV2(1, "a", 2, List.of("t"))), null, 0,
                false, 0, null));
        byte[] outerCountFixed = nested.clone();
        ByteBuffer.wrap(outerCountFixed).putInt(0, 3); // only the outer part matches OuterV1's count
        assertThatThrownBy(() -> PayloadCodec.decode(outerCountFixed, OuterV1.class))
                .hasMessageContaining("OuterV1.items[0]").hasMessageContaining("written by a newer Stethoscope");
    }

    @Test
    void nullsMapsAndBoxesRoundTrip() throws IOException {
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("z", 1);
        counts.put("a", null);
        OuterV2 v = new OuterV2(null, null, new InnerV2(7, "n", -0.0, List.of("x", "y")), -1, true, Float.NaN,
                counts);
        OuterV2 back = PayloadCodec.decode(PayloadCodec.encode(v), OuterV2.class);
        assertThat(back).usingRecursiveComparison()
                    .withComparatorForType(Double::compare, Double.class)
                    .withComparatorForType(Float::compare, Float.class).isEqualTo(v);
        assertThat(List.copyOf(back.counts().keySet())).containsExactly("z", "a");
        assertThat(PayloadCodec.toJson(v)).containsEntry("ratio", null).containsEntry("kind", null);
    }

    record Unsupported(Object anything) {
    }

    @Test
    void unsupportedComponentTypesAndUnregisteredPayloadsFailClearly() {
        assertThatThrownBy(() -> PayloadCodec.encode(new Unsupported("x")))
                .hasMessageContaining("Unsupported.anything").hasMessageContaining("java.lang.Object");
        assertThatThrownBy(() -> StethoscopeRecord.of(new Old("x")))
                .hasMessageContaining("Old").hasMessageContaining("META-INF/services");
    }

    @Test
    void truncatedTrailingAndCraftedBytesAreRefused() {
        for (Map.Entry<String, Record> e : SamplePayloads.all().entrySet()) {
            Class<? extends Record> type = e.getValue().getClass();
            byte[] full = PayloadCodec.encode(e.getValue());
            for (int len = 0; len < full.length; len++) {
                byte[] cut = Arrays.copyOf(full, len);
                assertThatThrownBy(() -> PayloadCodec.decode(cut, type)).as("%s cut to %d", e.getKey(), len)
                        .isInstanceOf(IOException.class);
            }
            assertThatThrownBy(() -> PayloadCodec.decode(Arrays.copyOf(full, full.length + 1), type))
                    .hasMessageContaining("unexpected bytes");
            Random rnd = new Random(e.getKey().hashCode());
            for (int k = 0; k < 200; k++) {
                byte[] b = full.clone();
                int at = rnd.nextInt(Math.max(1, b.length - 3));
                ByteBuffer.wrap(b).putInt(at, rnd.nextBoolean() ? Integer.MAX_VALUE : -2 - rnd.nextInt(1000));
                try {
                    PayloadCodec.decode(b, type); // may decode: a number that became another number
                } catch (IOException expected) {
                    assertThat(expected.getMessage()).isNotBlank();
                }
            }
        }
        // an inconsistent record is refused by its own constructor, as a corrupt record
        StethoscopeRecord env = StethoscopeRecord.of(SamplePayloads.all().get(SuspectMark.TYPE_ID));
        env.setKey("s", "w", 1, 0, 0);
        byte[] mark = env.encode();
        byte[] decision = "mislabeled".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int at = indexOf(mark, decision);
        mark[at] = 'X';
        assertThatThrownBy(() -> new StethoscopeRecord().decode(mark)).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("Corrupt SuspectMark record").hasMessageContaining("Unknown decision");
    }

    private static int indexOf(byte[] a, byte[] b) {
        outer:
        for (int i = 0; i + b.length <= a.length; i++) {
            for (int j = 0; j < b.length; j++) {
                if (a[i + j] != b[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void oldAndUnknownEnvelopesAreRefusedWithTheReason() {
        StethoscopeRecord r = StethoscopeRecord.of(SamplePayloads.all().get(LossSensitivitySample.TYPE_ID));
        r.setKey("s", "w", 1, 0, 0);
        byte[] v1 = r.encode();
        v1[2] = 1;
        assertThatThrownBy(() -> new StethoscopeRecord().decode(v1))
                .hasMessageContaining("before the versioned record format");
        StethoscopeRecord unknown = StethoscopeRecord.staticInfo("Stethoscope.LossSensitivity",
                SamplePayloads.all().get(LossSensitivitySample.TYPE_ID));
        unknown.setKey("s", "w", 1, 0, 0);
        byte[] b = unknown.encode();
        int at = indexOf(b, "Stethoscope.LossSensitivity".getBytes(java.nio.charset.StandardCharsets.UTF_8)
        );
        // the second occurrence is the payload type id
        int second = indexOf(Arrays.copyOfRange(b, at + 1, b.length),
                "Stethoscope.LossSensitivity".getBytes(java.nio.charset.StandardCharsets.UTF_8)) + at + 1;
        b[second + "Stethoscope.".length()] = 'X';
        assertThatThrownBy(() -> new StethoscopeRecord().decode(b))
                .hasMessageContaining("Unknown Stethoscope record type 'Stethoscope.XossSensitivity'")
                .hasMessageContaining(Health.TYPE_ID);
    }
}
