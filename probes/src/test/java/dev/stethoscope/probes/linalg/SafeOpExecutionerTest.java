package dev.stethoscope.probes.linalg;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SafeOpExecutioner}: installed, ops give the values computed in plain Java, and ops on
 * temporaries stay exact while another thread forces garbage collections (the pattern of
 * {@code Similarity.cca} that crashed in {@code execBroadcast}, docs/reliability.md).
 */
class SafeOpExecutionerTest {
    private static final int KA = 30;
    private static final int KB = 40;

    private static double[] f(int n, double slope) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = 1 + slope * i;
        }
        return v;
    }

    /** diag(fa) t diag(fb), summed, with the scaling vectors as temporaries only the ops refer to. */
    private static double scaledSum(INDArray t, double[] fa, double[] fb) {
        INDArray m = t.dup();
        m.muliColumnVector(Nd4j.createFromArray(fa).reshape(KA, 1));
        m.muliRowVector(Nd4j.createFromArray(fb).reshape(1, KB));
        return Transforms.abs(m, false).sumNumber().doubleValue();
    }

    @Test
    void installedAndOpsMatchPlainJava() {
        assertThat(NativeSafety.install()).isTrue();
        assertThat(Nd4j.getExecutioner()).isInstanceOf(SafeOpExecutioner.class);
        assertThat(NativeSafety.isInstalled()).isTrue();

        Nd4j.getRandom().setSeed(3);
        INDArray t = Nd4j.rand(DataType.DOUBLE, KA, KB).subi(0.5);
        double[] fa = f(KA, 0.01);
        double[] fb = f(KB, -0.01);
        double[][] tv = t.toDoubleMatrix();
        double expected = 0;
        for (int i = 0; i < KA; i++) {
            for (int j = 0; j < KB; j++) {
                expected += Math.abs(fa[i] * tv[i][j] * fb[j]);
            }
        }
        assertThat(scaledSum(t, fa, fb)).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-9));

        INDArray p = t.mmul(t.transpose()); // a custom op
        double p01 = 0;
        for (int j = 0; j < KB; j++) {
            p01 += tv[0][j] * tv[1][j];
        }
        assertThat(p.getDouble(0, 1)).isCloseTo(p01, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(t.argMax(1).getInt(0)).isEqualTo(argMax(tv[0])); // an index reduction
    }

    private static int argMax(double[] v) {
        int b = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[b]) {
                b = i;
            }
        }
        return b;
    }

    @Test
    void opsOnTemporariesStayExactUnderForcedCollections() throws Exception {
        assertThat(NativeSafety.install()).isTrue();
        Nd4j.getRandom().setSeed(4);
        INDArray t = Nd4j.rand(DataType.DOUBLE, KA, KB);
        double[] fa = f(KA, 0.001);
        double[] fb = f(KB, -0.001);
        double ref = scaledSum(t, fa, fb);
        for (int i = 0; i < 2_000; i++) { // compile the call chain (dead locals are dropped only then)
            scaledSum(t, fa, fb);
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread hammer = new Thread(() -> {
            while (!stop.get()) {
                byte[][] junk = new byte[64][];
                for (int j = 0; j < junk.length; j++) {
                    junk[j] = new byte[4096];
                }
                System.gc();
            }
        }, "gc-hammer");
        hammer.setDaemon(true);
        hammer.start();
        try {
            long end = System.nanoTime() + 2_000_000_000L;
            int n = 0;
            while (System.nanoTime() < end) {
                assertThat(scaledSum(t, fa, fb)).isEqualTo(ref);
                n++;
            }
            assertThat(n).isPositive();
        } finally {
            stop.set(true);
            hammer.join();
        }
    }
}
