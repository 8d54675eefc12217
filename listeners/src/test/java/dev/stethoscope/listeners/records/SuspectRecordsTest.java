package dev.stethoscope.listeners.records;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SuspectRecordsTest {

    private static final double[] NINE = {3.5, -2.0, 0.7, 0.1, 0.5, 2, 1, 0.9, 1.1};

    @Test
    void suspectsRecordRoundTripsAndDecodesFeatures() {
        byte[] feats = {0, (byte) 255, (byte) 128, 10, 20, 30};
        double[] values = new double[18];
        System.arraycopy(NINE, 0, values, 0, 9);
        System.arraycopy(NINE, 0, values, 9, 9);
        values[9 + 1] = Double.NaN; // aum of the second suspect
        Suspects p = Suspects.of("train-pass", 100, 3, List.of("seen"), new double[]{100},
                new long[]{7, 9}, new int[]{1, 2}, new int[]{0, 0}, Suspects.COLUMNS, values, new long[]{3}, feats,
                new float[]{0, Float.NaN}, new float[]{1, Float.NaN})
                .withDataMap(new int[]{7}, new float[]{0.1f}, new float[]{0.2f}, new float[]{0f})
                .withMetrics(5, List.of("combined"), new double[]{0.8}, new double[]{0.6}, new double[]{0.95});
        StethoscopeRecord r = StethoscopeRecord.of(p);
        r.setKey("s", "w", 42, 3, 99);
        StethoscopeRecord rb = RecordTypes.newRecord(Suspects.TYPE_ID);
        rb.decode(r.encode());
        Suspects back = rb.payload(Suspects.class);
        assertThat(back.indices()).containsExactly(7, 9);
        assertThat(back.value(0, "aum")).isEqualTo(-2.0);
        assertThat(back.value(1, "aum")).isNaN();
        assertThat(back.suspects().get(0).features()).containsExactly(0f, 1f, 128 / 255f);
        assertThat(back.suspects().get(1).features()).isNull();
        assertThat(back.metric("combined").auroc()).isEqualTo(0.95);
        assertThat(back.summary("seen")).isEqualTo(100);
        assertThat(rb.getEpoch()).isEqualTo(3);
        Map<String, Object> json = rb.toJson();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> s = (List<Map<String, Object>>) json.get("suspects");
        assertThat(s.get(0).get("pixels")).isEqualTo(java.util.Base64.getEncoder().encodeToString(new byte[]{0, (byte) 255, (byte) 128}));
        assertThat(s.get(0)).containsKeys("rank", "index", "given", "predicted", "lo", "hi");
        assertThat(s.get(0).keySet()).containsAll(Suspects.COLUMNS);
        assertThat(s.get(1).get("pixels")).isNull();
        assertThat(s.get(1).get("aum")).isNull();
        assertThat(s.get(1).get("lo")).isNull();
        assertThatThrownBy(() -> back.value(0, "nope")).hasMessageContaining("combined");
        assertThatThrownBy(() -> back.metric("aum")).hasMessageContaining("combined");
    }

    @Test
    void tableAndMarkRoundTrip() {
        float[][] f = new float[SuspectTable.FLOAT_COLUMNS.size()][2];
        f[1][0] = -1.5f;
        f[1][1] = Float.NaN;
        StethoscopeRecord t = StethoscopeRecord.of(SuspectTable.of(4, 10, new int[]{3, -1}, new int[]{5, -1},
                new int[]{5, 0}, new int[]{1, 0}, new int[]{-1, -1}, f, new long[]{0}));
        t.setKey("s", "w", 1, 4, 0);
        StethoscopeRecord tr = new StethoscopeRecord();
        tr.decode(t.encode());
        SuspectTable tb = tr.payload(SuspectTable.class);
        assertThat(tb.column("aum")[0]).isEqualTo(-1.5f);
        assertThat(tb.column("aum")[1]).isNaN();
        assertThat(tb.flipped()).containsExactly(0);
        assertThat(tb.tableEpoch()).isEqualTo(4);
        assertThat(tb.numExamples()).isEqualTo(2);
        assertThatThrownBy(() -> tb.column("nope")).hasMessageContaining("meanLoss");

        StethoscopeRecord m = StethoscopeRecord.of(new SuspectMark(12, 3, "mislabeled", 5));
        m.setKey("s", "ui", 2, 0, 0);
        StethoscopeRecord mb = new StethoscopeRecord();
        mb.decode(m.encode());
        assertThat(mb.payload(SuspectMark.class).index()).isEqualTo(12);
        assertThat(mb.payload(SuspectMark.class).corrected()).isEqualTo(5);
        assertThat(new SuspectMark(1, 1, "fine", 4).corrected()).isEqualTo(-1);
        assertThatThrownBy(() -> new SuspectMark(1, 1, "maybe", 0)).hasMessageContaining("mislabeled");
        assertThatThrownBy(() -> new SuspectMark(1, 1, "mislabeled", -1)).hasMessageContaining("corrected");
    }
}
