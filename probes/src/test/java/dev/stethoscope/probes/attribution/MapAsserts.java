package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Assertions on attribution maps shared by the attributor tests. */
final class MapAsserts {
    /** Relative tolerance of "the same map": of the largest absolute expected value. */
    static final double SAME = 1e-9;

    private MapAsserts() {
    }

    /**
     * {@code actual} has {@code expected}'s shape and every value within {@link #SAME} times the largest absolute
     * expected value; the failure names the first value off and the first values of both.
     */
    static void assertSame(INDArray actual, INDArray expected, String what) {
        assertThat(actual.shape()).as(what + " shape").containsExactly(expected.shape());
        double[] a = actual.dup().reshape(actual.length()).toDoubleVector();
        double[] e = expected.dup().reshape(expected.length()).toDoubleVector();
        double scale = 1e-12;
        for (double d : e) {
            scale = Math.max(scale, Math.abs(d));
        }
        for (int i = 0; i < a.length; i++) {
            if (Math.abs(a[i] - e[i]) > SAME * scale) {
                fail(what + ": value " + i + " is " + a[i] + ", expected " + e[i] + " (max |expected| " + scale
                        + "); first values " + Arrays.toString(Arrays.copyOf(a, Math.min(6, a.length))) + " vs "
                        + Arrays.toString(Arrays.copyOf(e, Math.min(6, e.length))));
            }
        }
    }
}
