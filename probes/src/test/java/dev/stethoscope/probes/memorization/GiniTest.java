package dev.stethoscope.probes.memorization;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class GiniTest {
    @Test
    void knownValues() {
        assertThat(LossSensitivity.gini(new double[]{1, 1, 1, 1})).isCloseTo(0.0, within(1e-15));
        assertThat(LossSensitivity.gini(new double[]{0, 0, 0, 1})).isCloseTo(0.75, within(1e-15));
        assertThat(LossSensitivity.gini(new double[]{1, 0, 0, 0})).isCloseTo(0.75, within(1e-15));
        // [1,2,3]: (-2*1 + 0*2 + 2*3) / (3*6) = 4/18
        assertThat(LossSensitivity.gini(new double[]{3, 1, 2})).isCloseTo(4.0 / 18, within(1e-15));
        assertThat(LossSensitivity.gini(new double[]{0, 0})).isEqualTo(0.0);
    }

    @Test
    void scaleInvariantAndOrderInvariant() {
        double[] v = {0.3, 5, 1.2, 0.01, 7.5, 2};
        double g = LossSensitivity.gini(v);
        double[] scaled = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            scaled[i] = 1234.5 * v[v.length - 1 - i];
        }
        assertThat(LossSensitivity.gini(scaled)).isCloseTo(g, within(1e-12));
        assertThat(g).isBetween(0.0, 1.0);
    }

    @Test
    void runningAveragePerExample() {
        LossSensitivity s = new LossSensitivity();
        s.add(new long[]{10, 11}, new double[]{1, 3});
        s.add(new long[]{10}, new double[]{3});
        assertThat(s.averages()).containsEntry(10L, 2.0).containsEntry(11L, 3.0);
        // averages 2 and 3: (-1*2 + 1*3) / (2*5) = 0.1
        assertThat(s.gini()).isCloseTo(0.1, within(1e-15));
    }

    @Test
    void rejectsInvalidValues() {
        assertThatThrownBy(() -> LossSensitivity.gini(new double[]{1, -1})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LossSensitivity.gini(new double[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LossSensitivity.gini(new double[]{Double.NaN})).isInstanceOf(IllegalArgumentException.class);
    }
}
