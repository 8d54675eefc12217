package dev.stethoscope.listeners.records;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SuspectRecordsTest {

    @Test
    void suspectsRecordRoundTripsAndDecodesFeatures() {
        byte[] feats = {0, (byte) 255, (byte) 128, 10, 20, 30};
        SuspectsRecord r = new SuspectsRecord("train-pass", 100, 3, List.of("seen"), new double[]{100},
                new long[]{7, 9}, new int[]{1, 2}, new int[]{0, 0}, List.of("combined", "aum"),
                new double[]{3.5, -2.0, 1.0, Double.NaN}, new long[]{3}, feats, new float[]{0, Float.NaN},
                new float[]{1, Float.NaN})
                .withDataMap(new int[]{7}, new float[]{0.1f}, new float[]{0.2f}, new float[]{0f})
                .withMetrics(5, List.of("combined"), new double[]{0.8}, new double[]{0.6}, new double[]{0.95});
        r.setKey("s", "w", 42, 3, 99);
        SuspectsRecord back = (SuspectsRecord) RecordTypes.newRecord(SuspectsRecord.TYPE_ID);
        back.decode(r.encode());
        assertThat(back.getIndex()).containsExactly(7, 9);
        assertThat(back.value(0, "aum")).isEqualTo(-2.0);
        assertThat(back.value(1, "aum")).isNaN();
        assertThat(back.features(0)).containsExactly(0f, 1f, 128 / 255f);
        assertThat(back.features(1)).isNull();
        assertThat(back.getAuroc()[back.metricIndex("combined")]).isEqualTo(0.95);
        assertThat(back.getEpoch()).isEqualTo(3);
        Map<String, Object> json = back.toJson();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> s = (List<Map<String, Object>>) json.get("suspects");
        assertThat(s.get(0).get("pixels")).isEqualTo(java.util.Base64.getEncoder().encodeToString(new byte[]{0, (byte) 255, (byte) 128}));
        assertThat(s.get(1).get("pixels")).isNull();
        assertThat(s.get(1).get("aum")).isNull();
        assertThatThrownBy(() -> back.value(0, "nope")).hasMessageContaining("combined");
    }

    @Test
    void tableAndMarkRoundTrip() {
        float[][] f = new float[SuspectTableRecord.FLOAT_COLUMNS.size()][2];
        f[1][0] = -1.5f;
        f[1][1] = Float.NaN;
        SuspectTableRecord t = new SuspectTableRecord(4, 10, new int[]{3, -1}, new int[]{5, -1}, new int[]{5, 0},
                new int[]{1, 0}, new int[]{-1, -1}, f, new long[]{0});
        t.setKey("s", "w", 1, 4, 0);
        SuspectTableRecord tb = new SuspectTableRecord();
        tb.decode(t.encode());
        assertThat(tb.column("aum")[0]).isEqualTo(-1.5f);
        assertThat(tb.column("aum")[1]).isNaN();
        assertThat(tb.getFlipped()).containsExactly(0);
        assertThat(tb.getTableEpoch()).isEqualTo(4);

        SuspectMarkRecord m = new SuspectMarkRecord(12, 3, "mislabeled", 5);
        m.setKey("s", "ui", 2, 0, 0);
        SuspectMarkRecord mb = new SuspectMarkRecord();
        mb.decode(m.encode());
        assertThat(mb.getExampleIndex()).isEqualTo(12);
        assertThat(mb.getCorrectedLabel()).isEqualTo(5);
        assertThat(new SuspectMarkRecord(1, 1, "fine", 4).getCorrectedLabel()).isEqualTo(-1);
        assertThatThrownBy(() -> new SuspectMarkRecord(1, 1, "maybe", 0)).hasMessageContaining("mislabeled");
        assertThatThrownBy(() -> new SuspectMarkRecord(1, 1, "mislabeled", -1)).hasMessageContaining("corrected");
    }
}
