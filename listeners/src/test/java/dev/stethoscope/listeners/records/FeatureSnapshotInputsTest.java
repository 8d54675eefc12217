package dev.stethoscope.listeners.records;

import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.listeners.records.FeatureSnapshot.InputImages;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The components feature snapshots gained for graphs with several inputs ({@code inputs}; per unit {@code input}
 * and {@code otherInputs}): they round-trip, a record without them (a one-input network, or written before they
 * existed) reads with the defaults, and a unit cannot carry more images in a further input than it has entries.
 */
class FeatureSnapshotInputsTest {
    private static final FeatureImage A = new FeatureImage(1, 1, 2, 0, 3, new float[]{0.5f, 1});
    private static final FeatureImage B = new FeatureImage(1, 2, 1, 1, 0, new float[]{-1, 2});

    static FeatureSnapshot twoInput() {
        FeatureUnit u = new FeatureUnit(2, new double[]{3, 1}, new long[]{5, 9}, new int[]{0, 1}, new int[]{1, 0}, false,
                List.of(A, A), List.of(B, B), "top", List.of(new InputImages("bottom <i>", List.of(B, A), List.of(A, B))));
        return new FeatureSnapshot(4, "mix", "ConvolutionLayer", 2, 2, List.of(u), 0, Double.NaN, Double.NaN, -1,
                List.of(), null, null, List.of("top", "bottom <i>"));
    }

    @Test
    void theInputsOfAUnitBehindAMergeRoundTrip() throws IOException {
        FeatureSnapshot s = twoInput();
        FeatureSnapshot back = PayloadCodec.decode(PayloadCodec.encode(s), FeatureSnapshot.class);
        assertThat(back.inputs()).containsExactly("top", "bottom <i>");
        FeatureUnit u = back.units().get(0);
        assertThat(u.input()).isEqualTo("top");
        assertThat(u.otherInputs()).hasSize(1);
        assertThat(u.otherInputs().get(0).name()).isEqualTo("bottom <i>");
        assertThat(u.otherInputs().get(0).crops().get(0).pixels()).containsExactly(-1, 2);
        assertThat(u.otherInputs().get(0).projections().get(1).y0()).isEqualTo(1);
        Map<String, Object> json = PayloadCodec.toJson(back);
        assertThat(json.get("inputs")).isEqualTo(List.of("top", "bottom <i>"));
    }

    @Test
    void aOneInputSnapshotHasNoInputNames() throws IOException {
        FeatureUnit u = new FeatureUnit(0, new double[]{1}, new long[]{1}, new int[]{0}, new int[]{0}, false,
                List.of(A), List.of());
        FeatureSnapshot s = new FeatureSnapshot(0, "conv1", "ConvolutionLayer", 1, 1, List.of(u), 0, Double.NaN,
                Double.NaN, -1, List.of(), null, null);
        FeatureSnapshot back = PayloadCodec.decode(PayloadCodec.encode(s), FeatureSnapshot.class);
        assertThat(back.inputs()).isEmpty();
        assertThat(back.units().get(0).input()).isNull();
        assertThat(back.units().get(0).otherInputs()).isEmpty();
    }

    @Test
    void moreImagesInAFurtherInputThanEntriesAreRefused() {
        assertThatThrownBy(() -> new FeatureUnit(0, new double[]{1}, new long[]{1}, new int[]{0}, new int[]{0}, false,
                List.of(A), List.of(), "top", List.of(new InputImages("bottom", List.of(A, B), List.of()))))
                .hasMessageContaining("more images than entries in input 'bottom'");
    }
}
