package dev.stethoscope.probes.linalg;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.cpu.nativecpu.blas.CpuLapack;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SafeLapack}: the same results as ND4J's CpuLapack, and no use of freed memory when
 * garbage collections run while LAPACK works (the cause of the native-heap crash, see
 * docs/reliability.md). With ND4J's own CpuLapack the stress test below kills the JVM (SIGSEGV or
 * glibc "corrupted ..." abort) within a few calls; the surefire fork then fails the build.
 */
class SafeLapackTest {

    private static INDArray matrix(long seed, int rows, int cols) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.DOUBLE, rows, cols).subi(0.5);
    }

    @Test
    void installReplacesNd4jsLapackIdempotently() {
        assertThat(SafeLapack.install()).isTrue();
        assertThat(SafeLapack.install()).isTrue();
        assertThat(Nd4j.getBlasWrapper().lapack()).isSameAs(SafeLapack.instance());
        assertThat(SafeLapack.isInstalled()).isTrue();
    }

    @Test
    void gesvdIsBitIdenticalToCpuLapack() {
        for (DataType t : new DataType[]{DataType.DOUBLE, DataType.FLOAT}) {
            INDArray a = matrix(1, 37, 53).castTo(t);
            INDArray s1 = Nd4j.create(t, 37);
            INDArray u1 = Nd4j.create(t, new long[]{37, 37}, 'f');
            INDArray vt1 = Nd4j.create(t, new long[]{53, 53}, 'f');
            new CpuLapack().gesvd(a.dup('f'), s1, u1, vt1);
            INDArray s2 = Nd4j.create(t, 37);
            INDArray u2 = Nd4j.create(t, new long[]{37, 37}, 'f');
            INDArray vt2 = Nd4j.create(t, new long[]{53, 53}, 'f');
            SafeLapack.instance().gesvd(a.dup('f'), s2, u2, vt2);
            assertThat(s2).isEqualTo(s1);
            assertThat(u2).isEqualTo(u1);
            assertThat(vt2).isEqualTo(vt1);
            // and it is an SVD: sum of s^2 = squared Frobenius norm
            double fro = a.castTo(DataType.DOUBLE).norm2Number().doubleValue();
            double ss = s2.castTo(DataType.DOUBLE).norm2Number().doubleValue();
            assertThat(ss).isCloseTo(fro, org.assertj.core.data.Percentage.withPercentage(1e-3));
        }
    }

    @Test
    void syevGetrfPotrfGeqrfAreBitIdenticalToCpuLapack() {
        INDArray m = matrix(2, 40, 40);
        INDArray spd = m.mmul(m.transpose()).addi(Nd4j.eye(40).castTo(DataType.DOUBLE));

        INDArray a1 = spd.dup('f');
        INDArray w1 = Nd4j.create(DataType.DOUBLE, 40);
        new CpuLapack().syev('V', 'L', a1, w1);
        INDArray a2 = spd.dup('f');
        INDArray w2 = Nd4j.create(DataType.DOUBLE, 40);
        SafeLapack.instance().syev('V', 'L', a2, w2);
        assertThat(w2).isEqualTo(w1);
        assertThat(a2).isEqualTo(a1);

        INDArray l1 = spd.dup('f');
        new CpuLapack().potrf(l1, true);
        INDArray l2 = spd.dup('f');
        SafeLapack.instance().potrf(l2, true);
        assertThat(l2).isEqualTo(l1);

        INDArray g1 = m.dup('f');
        INDArray p1 = new CpuLapack().getrf(g1);
        INDArray g2 = m.dup('f');
        INDArray p2 = SafeLapack.instance().getrf(g2);
        assertThat(g2).isEqualTo(g1);
        assertThat(p2.toLongVector()).containsExactly(p1.toLongVector());

        INDArray rect = matrix(3, 30, 12);
        INDArray q1 = rect.dup('f');
        INDArray r1 = Nd4j.create(DataType.DOUBLE, new long[]{12, 12}, 'f');
        new CpuLapack().geqrf(q1, r1);
        INDArray q2 = rect.dup('f');
        INDArray r2 = Nd4j.create(DataType.DOUBLE, new long[]{12, 12}, 'f');
        SafeLapack.instance().geqrf(q2, r2);
        assertThat(q2).isEqualTo(q1);
        assertThat(r2).isEqualTo(r1);
        assertThat(q2.mmul(r2).sub(rect).norm2Number().doubleValue()).isLessThan(1e-9);
    }

    /** Singular values of a copy that the caller drops as soon as LAPACK has it (as SVD callers do). */
    private static double[] svdOfDiscardedCopy(INDArray x) {
        INDArray work = x.dup('f');
        INDArray s = Nd4j.create(DataType.DOUBLE, Math.min(x.rows(), x.columns()));
        Nd4j.getBlasWrapper().lapack().gesvd(work, s, null, null);
        return s.toDoubleVector();
    }

    private static double[] eigenvaluesOfDiscardedCopy(INDArray sym) {
        return Eigen.symmetricGeneralizedEigenvalues(sym.dup('f'), true).toDoubleVector();
    }

    @Test
    void survivesGarbageCollectionsDuringLapackCalls() throws Exception {
        assertThat(SafeLapack.install()).isTrue();
        for (int i = 0; i < 3_000; i++) { // compile the call chain: only compiled code drops dead locals early
            svdOfDiscardedCopy(matrix(i, 4, 5));
        }
        INDArray x = matrix(7, 250, 300);
        INDArray g = x.mmul(x.transpose());
        double[] sRef = svdOfDiscardedCopy(x);
        double[] eRef = eigenvaluesOfDiscardedCopy(g);

        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong collections = new AtomicLong();
        Thread hammer = new Thread(() -> {
            while (!stop.get()) {
                byte[][] junk = new byte[64][];
                for (int j = 0; j < junk.length; j++) {
                    junk[j] = new byte[4096];
                }
                System.gc();
                collections.incrementAndGet();
            }
        }, "gc-hammer");
        hammer.setDaemon(true);
        hammer.start();
        try {
            // at least 5 calls (ND4J's own CpuLapack died within 3 in this test), at most 30 or ~5 s
            long end = System.nanoTime() + 5_000_000_000L;
            for (int i = 0; i < 30 && (i < 5 || System.nanoTime() < end); i++) {
                assertThat(svdOfDiscardedCopy(x)).containsExactly(sRef);
                if (i % 4 == 0) {
                    assertThat(eigenvaluesOfDiscardedCopy(g)).containsExactly(eRef);
                }
            }
        } finally {
            stop.set(true);
            hammer.join();
        }
        assertThat(collections.get()).as("garbage collections forced during the calls").isGreaterThan(5);
    }
}
