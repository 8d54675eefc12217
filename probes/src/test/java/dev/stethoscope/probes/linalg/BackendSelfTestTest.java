package dev.stethoscope.probes.linalg;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The backend self-test and the decomposition routes. Meaningful under every OpenBLAS kernel setting:
 * with correct kernels the self-test must pass and LAPACK be used; with the broken SkylakeX kernels
 * ({@code OPENBLAS_CORETYPE=SkylakeX} on an AVX-512 CPU) it must fail and EJML be used, and in both
 * cases the route in use must produce exact decompositions at the issue's shape (512 x 1000).
 */
class BackendSelfTestTest {

    private static INDArray gaussian(long seed, int rows, int cols) {
        Random r = new Random(seed);
        double[][] d = new double[rows][cols];
        for (double[] row : d) {
            for (int j = 0; j < cols; j++) {
                row[j] = r.nextGaussian();
            }
        }
        return Nd4j.createFromArray(d);
    }

    private static double orthoError(INDArray q) {
        INDArray e = q.transpose().mmul(q).subi(Nd4j.eye(q.columns()).castTo(DataType.DOUBLE));
        return e.amaxNumber().doubleValue();
    }

    /** Max |U^T U - I|, max |V^T V - I| with V = A^T U S^-1, and max relative |s_i^2 - lambda_i(A A^T)| (EJML eigen). */
    private static double[] svdErrors(INDArray a, Decompositions.Svd svd) {
        int n = (int) a.rows();
        INDArray s = Nd4j.createFromArray(svd.s());
        INDArray v = a.transpose().mmul(svd.u()).diviRowVector(s.reshape(1, n));
        double[] ev = Decompositions.symmetricEigen(a.mmul(a.transpose()), Decompositions.Route.EJML).values();
        double top = ev[n - 1];
        double e = 0;
        for (int i = 0; i < n; i++) {
            e = Math.max(e, Math.abs(ev[n - 1 - i] - svd.s()[i] * svd.s()[i]) / top);
        }
        return new double[]{orthoError(svd.u()), orthoError(v), e};
    }

    @Test
    void selfTestVerdictMatchesAnIndependentCheckAtTheIssueShape() {
        INDArray a = gaussian(7, 512, 1000);
        Decompositions.Svd lapack = Decompositions.svd(a, true, Decompositions.Route.LAPACK);
        double[] err = svdErrors(a, lapack);
        boolean lapackRight = err[0] < 1e-8 && err[1] < 1e-8 && err[2] < 1e-8;
        BackendSelfTest.Result r = BackendSelfTest.result();
        assertThat(r.lapackOk()).as("self-test verdict %s vs direct errors %s", r, java.util.Arrays.toString(err))
                .isEqualTo(lapackRight);
        assertThat(r.gemmOk()).as("double gemm").isTrue();
        assertThat(r.summary()).contains(r.passed() ? "passed" : "OPENBLAS_CORETYPE=Haswell");
    }

    @Test
    void selfTestIsCachedAndQuick() {
        BackendSelfTest.Result r = BackendSelfTest.result();
        assertThat(BackendSelfTest.result()).isSameAs(r);
        assertThat(r.millis()).isLessThan(10_000);
        assertThat(r.errors()).containsKeys("gemm", "gesvd U^T U = I", "syev V^T V = I");
    }

    @Test
    void routeInUseIsExactAtTheIssueShape() {
        INDArray a = gaussian(8, 512, 1000);
        Decompositions.Route route = Decompositions.route();
        assertThat(route).isEqualTo(BackendSelfTest.lapackTrusted() ? Decompositions.Route.LAPACK : Decompositions.Route.EJML);
        double[] err = svdErrors(a, Decompositions.svd(a, true));
        assertThat(err[0]).as("U^T U = I on %s", route).isLessThan(1e-10);
        assertThat(err[1]).as("V^T V = I on %s", route).isLessThan(1e-10);
        assertThat(err[2]).as("s^2 = eigenvalues of A A^T on %s", route).isLessThan(1e-10);
        // singular values only (no U) agree with the full decomposition
        assertThat(Decompositions.svd(a, false).s()).containsExactly(Decompositions.svd(a, true).s(), within(1e-9));
    }

    @Test
    void ejmlRoutesAreExact() {
        INDArray a = gaussian(9, 300, 700);
        double[] err = svdErrors(a, Decompositions.svd(a, true, Decompositions.Route.EJML));
        for (double e : err) {
            assertThat(e).isLessThan(1e-10);
        }
        INDArray g = a.mmul(a.transpose());
        Decompositions.SymmetricEigen eig = Decompositions.symmetricEigen(g, Decompositions.Route.EJML);
        assertThat(orthoError(eig.vectors())).isLessThan(1e-10);
        INDArray resid = g.mmul(eig.vectors()).subi(eig.vectors().mulRowVector(Nd4j.createFromArray(eig.values()).reshape(1, 300)));
        assertThat(resid.amaxNumber().doubleValue() / eig.values()[299]).isLessThan(1e-12);
        for (int i = 1; i < 300; i++) {
            assertThat(eig.values()[i]).isGreaterThanOrEqualTo(eig.values()[i - 1]);
        }
    }

    @Test
    void invalidInputsAndRouteNamesAreRejected() {
        assertThatThrownBy(() -> Decompositions.svd(gaussian(1, 5, 3), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rows <= columns");
        assertThatThrownBy(() -> Decompositions.symmetricEigen(gaussian(1, 3, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("square");
        String old = System.getProperty(Decompositions.ROUTE_PROPERTY);
        try {
            System.setProperty(Decompositions.ROUTE_PROPERTY, "mkl");
            assertThatThrownBy(Decompositions::route).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("auto, lapack, ejml");
        } finally {
            if (old == null) {
                System.clearProperty(Decompositions.ROUTE_PROPERTY);
            } else {
                System.setProperty(Decompositions.ROUTE_PROPERTY, old);
            }
        }
    }
}
