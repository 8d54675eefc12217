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
        assertThat(a).usingRecursiveComparison().isEqualTo(b);
        assertThat(a.features()).isEqualTo(48);
        ProbeResult gap = LinearProbe.train(xtr, ytr, xte, yte, 3, o.withFeatures(ProbeFeatures.GLOBAL_AVERAGE_POOL));
        assertThat(gap.features()).isEqualTo(3);
    }

    /**
     * Few examples, many features (as on a real hidden layer: 1000 probe-train points, 512 units): the
     * classes are separable, so with a tiny fixed L2 the loss goes to 0 and the fit never converges.
     * The default probe chooses L2 on a held-out split of probe-train, converges (small gradient norm)
     * and generalises better. Data: 5 classes from a planted map on 10 of 300 features, 10 % label noise.
     */
    @Test
    void heldOutL2ChoiceConvergesAndBeatsATinyFixedL2WhenTheClassesAreSeparable() {
        Random rnd = new Random(11);
        int k = 5;
        int d = 300;
        double[][] wStar = new double[k][10];
        for (double[] row : wStar) {
            for (int j = 0; j < 10; j++) {
                row[j] = rnd.nextGaussian();
            }
        }
        INDArray xtr = gaussian(rnd, 400, d);
        INDArray xte = gaussian(rnd, 2000, d);
        int[] ytr = planted(xtr, wStar, rnd, 0.1);
        int[] yte = planted(xte, wStar, rnd, 0.0);
        ProbeResult chosen = LinearProbe.train(xtr, ytr, xte, yte, k);
        ProbeResult tiny = LinearProbe.train(xtr, ytr, xte, yte, k, LinearProbe.Options.defaults().withL2(1e-4));
        assertThat(tiny.trainAccuracy()).as("separable: a tiny L2 fits the noisy labels").isEqualTo(1.0);
        assertThat(chosen.l2Grid()).containsExactly(LinearProbe.Options.DEFAULT_L2_GRID);
        assertThat(chosen.heldOutLoss()).hasSize(LinearProbe.Options.DEFAULT_L2_GRID.length);
        int best = 0;
        for (int i = 0; i < chosen.heldOutLoss().length; i++) {
            best = chosen.heldOutLoss()[i] < chosen.heldOutLoss()[best] ? i : best;
        }
        assertThat(chosen.l2()).isEqualTo(LinearProbe.Options.DEFAULT_L2_GRID[best]);
        assertThat(chosen.gradientNorm()).as("converged").isLessThan(1e-3);
        assertThat(tiny.gradientNorm()).isGreaterThan(chosen.gradientNorm());
        assertThat(chosen.testAccuracy()).isGreaterThan(tiny.testAccuracy() + 0.02);
        assertThat(chosen.testLoss()).isLessThan(tiny.testLoss());
    }

    /** The L2 choice uses probe-train only: other probe-test labels change nothing but the test numbers. */
    @Test
    void theL2ChoiceNeverLooksAtProbeTest() {
        Random rnd = new Random(12);
        INDArray xtr = gaussian(rnd, 200, 40);
        INDArray xte = gaussian(rnd, 100, 40);
        int[] ytr = rnd.ints(200, 0, 3).toArray();
        int[] yte = rnd.ints(100, 0, 3).toArray();
        int[] yte2 = rnd.ints(100, 0, 3).toArray();
        ProbeResult a = LinearProbe.train(xtr, ytr, xte, yte, 3);
        ProbeResult b = LinearProbe.train(xtr, ytr, xte.mul(3), yte2, 3);
        assertThat(b.l2()).isEqualTo(a.l2());
        assertThat(b.heldOutLoss()).containsExactly(a.heldOutLoss());
        assertThat(b.trainLoss()).isEqualTo(a.trainLoss());
        assertThat(b.gradientNorm()).isEqualTo(a.gradientNorm());
        // a fixed L2 is used as given
        assertThat(LinearProbe.train(xtr, ytr, xte, yte, 3, LinearProbe.Options.defaults().withL2(0.02)).l2())
                .isEqualTo(0.02);
        assertThat(LinearProbe.Options.defaults().withL2Grid(1e-3, 1e-1, 1e-2).l2Grid()).containsExactly(1e-1, 1e-2, 1e-3);
    }

    private static int[] planted(INDArray x, double[][] w, Random rnd, double noise) {
        int n = (int) x.rows();
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            int arg = 0;
            double best = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < w.length; c++) {
                double s = 0;
                for (int j = 0; j < w[c].length; j++) {
                    s += w[c][j] * x.getDouble(i, j);
                }
                if (s > best) {
                    best = s;
                    arg = c;
                }
            }
            y[i] = rnd.nextDouble() < noise ? rnd.nextInt(w.length) : arg;
        }
        return y;
    }

    /**
     * Features that are almost constant on probe-train but spread on probe-test (as border
     * positions of a first conv layer are) must not take over the probe's test predictions: with
     * them the probe stays as accurate as without them. Dividing by their tiny standard deviation
     * (1e-4 against 1 for the informative features) drives the test accuracy towards chance.
     */
    @Test
    void nearConstantTrainFeaturesDoNotExplodeOnProbeTest() {
        Random rnd = new Random(3);
        int k = 3;
        int d = 8;
        double[][] wStar = new double[k][d];
        for (double[] row : wStar) {
            for (int j = 0; j < d; j++) {
                row[j] = rnd.nextGaussian();
            }
        }
        Object[] tr = separable(rnd, wStar, 400);
        Object[] te = separable(rnd, wStar, 400);
        INDArray xtr = (INDArray) tr[0];
        INDArray xte = (INDArray) te[0];
        int junk = 40;
        double[][] jtr = new double[xtr.rows()][junk];
        double[][] jte = new double[xte.rows()][junk];
        for (int i = 0; i < jtr.length; i++) {
            for (int j = 0; j < junk; j++) {
                jtr[i][j] = 1e-4 * rnd.nextGaussian();
            }
        }
        for (int i = 0; i < jte.length; i++) {
            for (int j = 0; j < junk; j++) {
                jte[i][j] = rnd.nextGaussian();
            }
        }
        INDArray wideTr = Nd4j.hstack(xtr, Nd4j.createFromArray(jtr));
        INDArray wideTe = Nd4j.hstack(xte, Nd4j.createFromArray(jte));
        ProbeResult clean = LinearProbe.train(xtr, (int[]) tr[1], xte, (int[]) te[1], k);
        ProbeResult wide = LinearProbe.train(wideTr, (int[]) tr[1], wideTe, (int[]) te[1], k);
        assertThat(clean.testAccuracy()).isGreaterThan(0.9);
        assertThat(wide.testAccuracy()).isGreaterThan(clean.testAccuracy() - 0.05);
    }

    @Test
    void standardisationFloorsTinySpreadsAtATenthOfTheRootMeanSquare() {
        double[] inv = LinearProbe.standardisationScales(new double[]{0, 2, 1e-6, 4, 3});
        // rms = sqrt((4 + 16 + 9) / 5) = sqrt(5.8); floor = 0.1 * sqrt(5.8) = 0.2408...
        double floor = 0.1 * Math.sqrt(5.8);
        assertThat(inv[0]).isZero();
        assertThat(inv[1]).isEqualTo(0.5);
        assertThat(inv[2]).isCloseTo(1 / floor, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(inv[4]).isCloseTo(1 / 3.0, org.assertj.core.api.Assertions.within(1e-12));
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
