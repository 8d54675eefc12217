package dev.stethoscope.probes.features;

import dev.stethoscope.probes.linalg.Decompositions;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AlignedPcaTest {

    /** A random orthogonal d x d matrix (U of the SVD of a Gaussian matrix), with a reflection if asked. */
    private static INDArray orthogonal(int d, long seed, boolean reflect) {
        Nd4j.getRandom().setSeed(seed);
        INDArray q = Decompositions.svd(Nd4j.randn(DataType.DOUBLE, d, d), true).u().castTo(DataType.DOUBLE).dup('c');
        double det = det(q);
        if ((det < 0) != reflect) {
            q.getColumn(0).muli(-1);
        }
        return q;
    }

    private static double det(INDArray q) {
        if (q.rows() == 2) {
            return q.getDouble(0, 0) * q.getDouble(1, 1) - q.getDouble(0, 1) * q.getDouble(1, 0);
        }
        return q.getDouble(0, 0) * (q.getDouble(1, 1) * q.getDouble(2, 2) - q.getDouble(1, 2) * q.getDouble(2, 1))
                - q.getDouble(0, 1) * (q.getDouble(1, 0) * q.getDouble(2, 2) - q.getDouble(1, 2) * q.getDouble(2, 0))
                + q.getDouble(0, 2) * (q.getDouble(1, 0) * q.getDouble(2, 1) - q.getDouble(1, 1) * q.getDouble(2, 0));
    }

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return a.sub(b).amaxNumber().doubleValue();
    }

    @Test
    void procrustesRecoversKnownRotationsAndReflections() {
        for (int d : new int[]{2, 3}) {
            for (boolean reflect : new boolean[]{false, true}) {
                INDArray q = orthogonal(d, 11 + d, reflect);
                Nd4j.getRandom().setSeed(5);
                INDArray a = Nd4j.randn(DataType.DOUBLE, 30, d);
                INDArray r = AlignedPca.procrustes(a, a.mmul(q));
                assertTrue(maxAbsDiff(r, q) < 1e-10, "d=" + d + " reflect=" + reflect + ": " + r + " vs " + q);
                assertTrue(maxAbsDiff(r.transpose().mmul(r), Nd4j.eye(d).castTo(DataType.DOUBLE)) < 1e-10, "orthogonal");
                // with noise: still close, and no other orthogonal matrix fits better than the recovered one
                INDArray b = a.mmul(q).addi(Nd4j.randn(DataType.DOUBLE, 30, d).muli(0.01));
                INDArray rn = AlignedPca.procrustes(a, b);
                assertTrue(maxAbsDiff(rn, q) < 0.02, "noisy fit close to the true rotation");
                double best = a.mmul(rn).sub(b).norm2Number().doubleValue();
                assertTrue(best <= a.mmul(q).sub(b).norm2Number().doubleValue() + 1e-12);
                assertTrue(best <= a.mmul(orthogonal(d, 99, reflect)).sub(b).norm2Number().doubleValue());
            }
        }
    }

    @Test
    void rankDeficientTargetStillGivesAnOrthogonalMatrix() {
        INDArray a = Nd4j.createFromArray(new double[][]{{1, 0}, {-1, 0}, {2, 0}});
        INDArray b = Nd4j.createFromArray(new double[][]{{0, 1}, {0, -1}, {0, 2}});
        INDArray r = AlignedPca.procrustes(a, b);
        assertTrue(maxAbsDiff(r.transpose().mmul(r), Nd4j.eye(2).castTo(DataType.DOUBLE)) < 1e-12);
        assertTrue(a.mmul(r).sub(b).norm2Number().doubleValue() < 1e-12);
    }

    /** Anisotropic data, so the two leading axes are well separated. */
    private static INDArray data(int n, int p, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.randn(DataType.DOUBLE, n, p);
        for (int j = 0; j < p; j++) {
            x.getColumn(j).muli(1.0 / (1 + j));
        }
        return x.mmul(orthogonal(p, seed + 1, false)).addi(3.0);
    }

    @Test
    void pcaMatchesTheCovarianceEigenvectors() {
        for (int[] np : new int[][]{{40, 6}, {8, 20}}) {
            INDArray x = data(np[0], np[1], 21);
            AlignedPca.Projection pr = AlignedPca.pca2(x);
            INDArray xc = x.subRowVector(x.mean(0));
            Decompositions.SymmetricEigen eig = Decompositions.symmetricEigen(xc.transpose().mmul(xc));
            int p = np[1];
            double total = 0;
            for (double v : eig.values()) {
                total += Math.max(0, v);
            }
            for (int j = 0; j < 2; j++) {
                INDArray dir = eig.vectors().getColumn(p - 1 - j).castTo(DataType.DOUBLE);
                INDArray want = xc.mmul(dir.reshape(p, 1)).reshape(np[0]);
                INDArray got = pr.points().getColumn(j);
                double sign = Math.signum(want.mul(got).sumNumber().doubleValue());
                assertTrue(maxAbsDiff(got, want.mul(sign)) < 1e-8, "axis " + j + " of " + np[0] + "x" + p);
                assertEquals(eig.values()[p - 1 - j] / total, pr.explained()[j], 1e-9);
            }
        }
    }

    /** Rotating the features (and shifting them) does not move the aligned points. */
    @Test
    void alignedPcaOfARotatedCopyIsTheSamePoints() {
        INDArray x = data(50, 5, 31);
        AlignedPca.Projection first = AlignedPca.project(x, null);
        for (boolean reflect : new boolean[]{false, true}) {
            INDArray rotated = x.mmul(orthogonal(5, 77, reflect)).addi(-4.0);
            AlignedPca.Projection raw = AlignedPca.pca2(rotated);
            AlignedPca.Projection aligned = AlignedPca.project(rotated, first);
            assertTrue(maxAbsDiff(aligned.points(), first.points()) < 1e-8, "aligned points coincide");
            assertEquals(first.explained()[0], aligned.explained()[0], 1e-10);
            // the alignment is doing something: without it the points move
            INDArray flipped = raw.points().dup();
            flipped.getColumn(0).muli(-1);
            assertTrue(maxAbsDiff(flipped, first.points()) > 1e-3 || maxAbsDiff(raw.points(), first.points()) > 1e-3);
        }
    }
}
