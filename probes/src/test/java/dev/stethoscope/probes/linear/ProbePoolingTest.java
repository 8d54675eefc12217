package dev.stethoscope.probes.linear;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The width cap of probes on conv layers ({@link LinearProbe.Options#withMaxFeatures}). */
class ProbePoolingTest {

    @Test
    void windowIsTheSmallestThatFits() {
        // LeNet's layers: conv1 20x24x24 (11520), pool1 20x12x12 (2880), conv2 50x8x8 (3200), pool2 50x4x4 (800)
        assertThat(LinearProbe.poolWindow(new long[]{7, 20, 24, 24}, 2048)).isEqualTo(3); // 20*8*8 = 1280; k=2: 2880
        assertThat(LinearProbe.poolWindow(new long[]{7, 20, 12, 12}, 2048)).isEqualTo(2); // 720
        assertThat(LinearProbe.poolWindow(new long[]{7, 50, 8, 8}, 2048)).isEqualTo(2);   // 800
        assertThat(LinearProbe.poolWindow(new long[]{7, 50, 4, 4}, 2048)).isEqualTo(1);   // fits
        assertThat(LinearProbe.poolWindow(new long[]{7, 20, 24, 24}, 0)).isEqualTo(1);    // 0 = never
        assertThat(LinearProbe.poolWindow(new long[]{7, 500}, 10)).isEqualTo(1);          // dense: never
        assertThat(LinearProbe.poolWindow(new long[]{7, 5000, 3, 3}, 10)).isEqualTo(3);   // at most one position
        assertThat(LinearProbe.poolWindow(new long[]{7, 4, 10}, 12)).isEqualTo(4);        // rank 3: 4*ceil(10/4)=12
    }

    @Test
    void poolingAveragesEachWindowIncludingPartialOnes() {
        // [1, 1, 5, 5] holding 0..24; window 3 (cap 4): outputs 2x2, the last row/column partial
        INDArray a = Nd4j.arange(25).castTo(DataType.DOUBLE).reshape(1, 1, 5, 5);
        INDArray p = LinearProbe.poolPositions(a, 4);
        assertThat(p.shape()).containsExactly(1, 1, 2, 2);
        assertThat(p.getDouble(0, 0, 0, 0)).isCloseTo((0 + 1 + 2 + 5 + 6 + 7 + 10 + 11 + 12) / 9.0, within(1e-12));
        assertThat(p.getDouble(0, 0, 0, 1)).isCloseTo((3 + 4 + 8 + 9 + 13 + 14) / 6.0, within(1e-12));
        assertThat(p.getDouble(0, 0, 1, 0)).isCloseTo((15 + 16 + 17 + 20 + 21 + 22) / 6.0, within(1e-12));
        assertThat(p.getDouble(0, 0, 1, 1)).isCloseTo((18 + 19 + 23 + 24) / 4.0, within(1e-12));
        // channels and examples stay apart
        INDArray two = Nd4j.concat(1, a, a.mul(-1));
        INDArray q = LinearProbe.poolPositions(Nd4j.concat(0, two, two.mul(2)), 8);
        assertThat(q.shape()).containsExactly(2, 2, 2, 2);
        assertThat(q.getDouble(1, 1, 1, 1)).isCloseTo(-2 * (18 + 19 + 23 + 24) / 4.0, within(1e-12));
        // an activation that fits is returned as it is
        assertThat(LinearProbe.poolPositions(a, 25)).isSameAs(a);
    }

    @Test
    void probeOfAWideConvActivationUsesThePooledWidth() {
        Random rnd = new Random(3);
        int n = 200;
        // class c lights up the top-left (c=0) or bottom-right (c=1) quarter of an 8x8 map: pooled 2x2 keeps it
        double[][][][] x = new double[n][2][8][8];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 2;
            for (int c = 0; c < 2; c++) {
                for (int r = 0; r < 8; r++) {
                    for (int q = 0; q < 8; q++) {
                        boolean lit = y[i] == 0 ? r < 4 && q < 4 : r >= 4 && q >= 4;
                        x[i][c][r][q] = (lit ? 1.0 : 0.0) + 0.3 * rnd.nextGaussian();
                    }
                }
            }
        }
        INDArray acts = Nd4j.createFromArray(x);
        INDArray tr = acts.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 100));
        INDArray te = acts.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(100, 200));
        int[] ytr = java.util.Arrays.copyOfRange(y, 0, 100);
        int[] yte = java.util.Arrays.copyOfRange(y, 100, 200);
        ProbeResult full = LinearProbe.train(tr, ytr, te, yte, 2, LinearProbe.Options.defaults().withL2(1e-2));
        ProbeResult pooled = LinearProbe.train(tr, ytr, te, yte, 2,
                LinearProbe.Options.defaults().withL2(1e-2).withMaxFeatures(32));
        assertThat(full.features()).isEqualTo(128);
        assertThat(pooled.features()).isEqualTo(2 * 4 * 4); // window 2
        assertThat(pooled.testAccuracy()).isGreaterThan(0.95);
        // the caller's activations are not touched (the probe frees only its own intermediates)
        assertThat(tr.getDouble(0, 0, 0, 0)).isEqualTo(x[0][0][0][0]);
    }

    @Test
    void negativeCapIsRefusedWithTheValidRange() {
        assertThatThrownBy(() -> LinearProbe.Options.defaults().withMaxFeatures(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(">= 0");
    }
}
