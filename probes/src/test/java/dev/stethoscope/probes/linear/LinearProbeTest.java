package dev.stethoscope.probes.linear;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LinearProbeTest {

    /** Points labelled by argmax of a planted linear map, keeping only those with margin &gt;= 1. */
    private static Object[] separable(Random rnd, double[][] wStar, int count) {
        int d = wStar[0].length;
        List<double[]> xs = new ArrayList<>();
        List<Integer> ys = new ArrayList<>();
        while (xs.size() < count) {
            double[] x = new double[d];
            for (int j = 0; j < d; j++) {
                x[j] = rnd.nextGaussian();
            }
            double best = -1e9;
            double second = -1e9;
            int arg = -1;
            for (int c = 0; c < wStar.length; c++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    s += wStar[c][j] * x[j];
                }
                if (s > best) {
                    second = best;
                    best = s;
                    arg = c;
                } else if (s > second) {
                    second = s;
                }
            }
            if (best - second >= 1.0) {
                xs.add(x);
                ys.add(arg);
            }
        }
        return new Object[]{Nd4j.createFromArray(xs.toArray(new double[0][])), ys.stream().mapToInt(Integer::intValue).toArray()};
    }

    @Test
    void linearlySeparableDataIsProbedAlmostPerfectly() {
        Random rnd = new Random(1);
        int k = 4;
        int d = 10;
        double[][] wStar = new double[k][d];
        for (double[] row : wStar) {
            for (int j = 0; j < d; j++) {
                row[j] = rnd.nextGaussian();
            }
        }
        Object[] tr = separable(rnd, wStar, 800);
        Object[] te = separable(rnd, wStar, 800);
        INDArray trainX = (INDArray) tr[0];
        INDArray before = trainX.dup();
        ProbeResult r = LinearProbe.train(trainX, (int[]) tr[1], (INDArray) te[0], (int[]) te[1], k);
        assertThat(r.testAccuracy()).isGreaterThanOrEqualTo(0.99);
        assertThat(r.trainAccuracy()).isGreaterThanOrEqualTo(0.99);
        assertThat(r.testLoss()).isLessThan(0.2);
        assertThat(r.features()).isEqualTo(d);
        assertThat(trainX).as("probe must not modify its inputs").isEqualTo(before);
    }

    /**
     * Labels independent of the features: test accuracy is Binomial(1000, 1/4)/1000, sd 0.0137;
     * we accept chance +- 0.05 (3.6 sd). The probe can still fit its train set (d = 60 &gt; what chance allows).
     */
    @Test
    void randomLabelsGiveChanceOnTheTestSplit() {
        Random rnd = new Random(2);
        int k = 4;
        INDArray xtr = gaussian(rnd, 300, 60);
        INDArray xte = gaussian(rnd, 1000, 60);
        int[] ytr = rnd.ints(300, 0, k).toArray();
        int[] yte = rnd.ints(1000, 0, k).toArray();
        ProbeResult r = LinearProbe.train(xtr, ytr, xte, yte, k, LinearProbe.Options.defaults().withIterations(150));
        assertThat(r.testAccuracy()).isBetween(0.20, 0.30);
        assertThat(r.trainAccuracy()).isGreaterThan(r.testAccuracy() + 0.2);
        assertThat(r.testLoss()).isGreaterThan(Math.log(k) * 0.95);
    }

    @Test
    void deterministicForASeedAndConvFeatureModes() {
        Random rnd = new Random(3);
        INDArray xtr = gaussian(rnd, 80, 3 * 4 * 4).reshape('c', 80, 3, 4, 4);
        INDArray xte = gaussian(rnd, 40, 3 * 4 * 4).reshape('c', 40, 3, 4, 4);
        int[] ytr = rnd.ints(80, 0, 3).toArray();
        int[] yte = rnd.ints(40, 0, 3).toArray();
        LinearProbe.Options o = LinearProbe.Options.defaults().withIterations(20).withSeed(7);
        ProbeResult a = LinearProbe.train(xtr, ytr, xte, yte, 3, o);
        ProbeResult b = LinearProbe.train(xtr, ytr, xte, yte, 3, o);
        assertThat(a).isEqualTo(b);
        assertThat(a.features()).isEqualTo(48);
        ProbeResult gap = LinearProbe.train(xtr, ytr, xte, yte, 3, o.withFeatures(ProbeFeatures.GLOBAL_AVERAGE_POOL));
        assertThat(gap.features()).isEqualTo(3);
    }

    @Test
    void clearErrors() {
        Random rnd = new Random(4);
        INDArray x = gaussian(rnd, 10, 5);
        int[] y = new int[10];
        assertThatThrownBy(() -> LinearProbe.train(x, y, gaussian(rnd, 10, 6), y, 2)).hasMessageContaining("features");
        assertThatThrownBy(() -> LinearProbe.train(x, new int[]{0, 1, 2, 0, 0, 0, 0, 0, 0, 0}, x, y, 2))
                .hasMessageContaining("outside 0..1");
        assertThat(LinearProbe.classIndices(Nd4j.createFromArray(new double[][]{{0, 1, 0}, {1, 0, 0}})))
                .containsExactly(1, 0);
        assertThatThrownBy(() -> ProbeFeatures.parse("pool")).hasMessageContaining("flatten, gap");
    }

    private static INDArray gaussian(Random rnd, int rows, int cols) {
        double[][] d = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                d[i][j] = rnd.nextGaussian();
            }
        }
        return Nd4j.createFromArray(d);
    }
}
