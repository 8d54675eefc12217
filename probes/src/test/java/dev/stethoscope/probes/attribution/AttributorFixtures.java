package dev.stethoscope.probes.attribution;

import org.junit.jupiter.params.provider.Arguments;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** What the attributor tests share: their parameter table and the comparison of maps. */
final class AttributorFixtures {
    /** Relative tolerance of "the same map": of the largest absolute expected value. */
    static final double SAME = 1e-9;

    private AttributorFixtures() {
    }

    /** Every registered method name ({@link Attributors#NAMES}) with every network kind of {@code kinds}. */
    static <E extends Enum<E>> Stream<Arguments> everyMethodOn(Class<E> kinds) {
        List<Arguments> rows = new ArrayList<>();
        for (String name : Attributors.NAMES) {
            for (E kind : kinds.getEnumConstants()) {
                rows.add(Arguments.of(name, kind));
            }
        }
        return rows.stream();
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
