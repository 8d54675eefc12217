package dev.stethoscope.sample;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OffHeapLimitsTest {
    @Test
    void setsBothLimitsUnlessGivenOnTheCommandLine() {
        String bytes = System.getProperty(OffHeapLimits.MAX_BYTES_PROPERTY);
        String physical = System.getProperty(OffHeapLimits.MAX_PHYSICAL_PROPERTY);
        try {
            System.clearProperty(OffHeapLimits.MAX_BYTES_PROPERTY);
            System.setProperty(OffHeapLimits.MAX_PHYSICAL_PROPERTY, "5G"); // as if given with -D
            OffHeapLimits.apply();
            assertThat(System.getProperty(OffHeapLimits.MAX_BYTES_PROPERTY)).isEqualTo(OffHeapLimits.MAX_BYTES);
            assertThat(System.getProperty(OffHeapLimits.MAX_PHYSICAL_PROPERTY)).isEqualTo("5G");

            System.clearProperty(OffHeapLimits.MAX_PHYSICAL_PROPERTY);
            OffHeapLimits.apply();
            assertThat(System.getProperty(OffHeapLimits.MAX_PHYSICAL_PROPERTY)).isEqualTo(OffHeapLimits.MAX_PHYSICAL_BYTES);
        } finally {
            restore(OffHeapLimits.MAX_BYTES_PROPERTY, bytes);
            restore(OffHeapLimits.MAX_PHYSICAL_PROPERTY, physical);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
