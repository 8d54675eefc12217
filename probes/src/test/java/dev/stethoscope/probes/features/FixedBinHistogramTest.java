package dev.stethoscope.probes.features;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FixedBinHistogramTest {

    @Test
    void countsSumToNIncludingOutliersInfinitiesAndNaN() {
        FixedBinHistogram h = new FixedBinHistogram(-1, 1, 8);
        h.add(Nd4j.createFromArray(new double[][]{{-1, 1, 0.999, -5, 5}, {Double.NaN, Double.POSITIVE_INFINITY,
                Double.NEGATIVE_INFINITY, 0, -0.25}}));
        h.add(Nd4j.rand(DataType.FLOAT, 3, 4, 5).muli(4).subi(2));
        FixedBinHistogram.Counts c = h.counts();
        assertEquals(10 + 60, c.total());
        assertEquals(1, c.nan());
        assertTrue(c.underflow() >= 2 && c.overflow() >= 2);
        assertEquals(8, h.emptyCopy().counts().bins().length);
        assertEquals(0, h.emptyCopy().counts().total());
    }

    @Test
    void edgesAndExactBinMembership() {
        FixedBinHistogram h = new FixedBinHistogram(0, 4, 4);
        // 0 -> bin 0, 1 (an inner edge) -> bin 1, 3.5 -> bin 3, 4 (= hi) -> last bin, 2 five times -> bin 2
        h.add(Nd4j.createFromArray(0.0, 1.0, 3.5, 4.0, 2, 2, 2, 2, 2));
        assertArrayEquals(new long[]{1, 1, 5, 2}, h.counts().bins());
        assertArrayEquals(new double[]{0, 1, 2, 3, 4}, h.counts().edges(), 1e-15);
    }

    /** Gaussian samples: each bin's share matches the normal CDF difference within 5 binomial standard errors. */
    @Test
    void knownDistribution() {
        int n = 200_000;
        Random r = new Random(8);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian();
        }
        FixedBinHistogram h = new FixedBinHistogram(-3, 3, 12);
        h.add(Nd4j.createFromArray(v));
        FixedBinHistogram.Counts c = h.counts();
        double[] e = c.edges();
        for (int i = 0; i < 12; i++) {
            double p = phi(e[i + 1]) - phi(e[i]);
            double se = Math.sqrt(p * (1 - p) / n);
            assertEquals(p, (double) c.bins()[i] / n, 5 * se, "bin " + i);
        }
        double tail = phi(-3);
        assertEquals(tail, (double) c.underflow() / n, 5 * Math.sqrt(tail / n));
        assertEquals(tail, (double) c.overflow() / n, 5 * Math.sqrt(tail / n));
        assertEquals(n, c.total());
    }

    /** Standard normal CDF by Simpson integration of the density from -8 (error far below the tolerances used). */
    private static double phi(double x) {
        double a = -8;
        int m = 20_000;
        double hstep = (x - a) / m;
        double s = 0;
        for (int i = 0; i <= m; i++) {
            double t = a + i * hstep;
            double f = Math.exp(-t * t / 2) / Math.sqrt(2 * Math.PI);
            s += (i == 0 || i == m) ? f : (i % 2 == 1 ? 4 * f : 2 * f);
        }
        return s * hstep / 3;
    }

    @Test
    void rangeFromTheFirstSnapshot() {
        INDArray w = Nd4j.createFromArray(-0.2, 0.1, 0.6);
        FixedBinHistogram.Counts c = FixedBinHistogram.rangeOf(w, 10, 0.5).counts();
        assertEquals(-0.6, c.lo(), 1e-12);
        assertEquals(1.0, c.hi(), 1e-12);
        // ReLU activations: the lower edge stays at 0
        FixedBinHistogram.Counts relu = FixedBinHistogram.rangeOf(Nd4j.createFromArray(0.0, 0.0, 2.0), 10, 0.5).counts();
        assertEquals(0.0, relu.lo());
        assertEquals(3.0, relu.hi(), 1e-12);
        // constant (e.g. zero biases) still gives a valid range; NaN ignored
        FixedBinHistogram.Counts zero = FixedBinHistogram.rangeOf(Nd4j.createFromArray(0.0, 0.0, Double.NaN), 4, 0.5).counts();
        assertTrue(zero.lo() < zero.hi());
        assertThrows(IllegalArgumentException.class, () -> new FixedBinHistogram(1, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> new FixedBinHistogram(0, 1, 0));
    }
}
