package dev.stethoscope.probes.features;

import org.junit.jupiter.api.Test;

import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExemplarChangeTest {

    private static TopKSnapshot snap(int[] units, long[][] examples) {
        int n = units.length;
        double[][] v = new double[n][];
        int[][] z = new int[n][];
        for (int i = 0; i < n; i++) {
            v[i] = new double[examples[i].length];
            for (int j = 0; j < v[i].length; j++) {
                v[i][j] = 10 - j;
            }
            z[i] = new int[examples[i].length];
        }
        return new TopKSnapshot(units, 3, v, examples, z, z);
    }

    @Test
    void changedFractionAndOverlapOnAConstructedPair() {
        TopKSnapshot a = snap(new int[]{0, 1, 2, 3, 4}, new long[][]{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {}, {1, 2, 3}});
        // unit 0: same top-1, overlap 3/3; unit 1: top-1 changed, overlap 2/3 ({5,6});
        // unit 2: top-1 changed, overlap 0; unit 3: empty in both -> not compared; unit 4 not tracked later;
        // unit 5 only in the new snapshot -> not compared
        TopKSnapshot b = snap(new int[]{5, 0, 1, 2, 3}, new long[][]{{1, 2, 3}, {1, 3, 2}, {5, 6, 4}, {10, 11, 12}, {}});
        ExemplarChange.Change c = ExemplarChange.between(a, b);
        assertEquals(3, c.comparedUnits());
        assertEquals(2, c.changedTop1());
        assertEquals(2.0 / 3, c.changedFraction(), 1e-12);
        assertEquals((1.0 + 1.0 + 0.0) / 3, c.meanOverlap(), 1e-12);
        ExemplarChange.Change same = ExemplarChange.between(a, a);
        assertEquals(0.0, same.changedFraction());
        assertEquals(1.0, same.meanOverlap());
    }

    @Test
    void shorterListsUseTheLongerLength() {
        TopKSnapshot a = snap(new int[]{0}, new long[][]{{7}});
        TopKSnapshot b = snap(new int[]{0}, new long[][]{{7, 8, 9}});
        ExemplarChange.Change c = ExemplarChange.between(a, b);
        assertEquals(0.0, c.changedFraction());
        assertEquals(1.0 / 3, c.meanOverlap(), 1e-12);
        assertTrue(Double.isNaN(ExemplarChange.between(snap(new int[]{0}, new long[][]{{}}), snap(new int[]{1}, new long[][]{{1}}))
                .changedFraction()));
    }

    @Test
    void settledAtOnConstructedSequences() {
        int[] epochs = {1, 2, 5, 10, 20, 30, 40, 64};
        // lower layer: settles after epoch 5
        assertEquals(OptionalInt.of(5), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0.5, 0.3, 0.05, 0, 0, 0.0625, 0}));
        // a late jump resets it
        assertEquals(OptionalInt.of(30), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0.5, 0.05, 0, 0, 0.4, 0, 0}));
        // the last change is large: not settled
        assertEquals(OptionalInt.empty(), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0, 0, 0, 0, 0, 0, 0.2}));
        // never changed after the first snapshot: settled at the first epoch
        assertEquals(OptionalInt.of(1), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0, 0, 0, 0, 0, 0, 0}));
        // exactly at the threshold is not below it
        assertEquals(OptionalInt.of(10), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0, 0, 0.1, 0, 0, 0, 0}));
        // a NaN (no unit compared) counts as not settled
        assertEquals(OptionalInt.of(20), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0, 0, 0, Double.NaN, 0, 0, 0}));
        // custom threshold
        assertEquals(OptionalInt.of(2), ExemplarChange.settledAt(epochs, new double[]{Double.NaN, 0.5, 0.3, 0.2, 0, 0, 0, 0}, 0.35));
        assertEquals(OptionalInt.empty(), ExemplarChange.settledAt(new int[]{1}, new double[]{Double.NaN}));
        assertThrows(IllegalArgumentException.class, () -> ExemplarChange.settledAt(new int[]{2, 1}, new double[]{0, 0}));
    }
}
