package dev.stethoscope.probes.linalg;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * The double-precision decompositions of the similarity measures (SVD and symmetric
 * eigendecomposition), on a route that passed {@link BackendSelfTest}.
 *
 * <p>Routes ({@link #route()}): {@link Route#LAPACK} (ND4J's OpenBLAS {@code gesvd}/{@code syev}) when
 * the self-test passed, {@link Route#EJML} (pure Java, EJML 0.46) when it failed. The system property
 * {@value #ROUTE_PROPERTY} ({@code auto}, the default, {@code lapack} or {@code ejml}) forces one;
 * forcing {@code lapack} on a machine that failed the self-test gives wrong numbers.
 * Thread-safe; inputs are not modified.
 */
public final class Decompositions {
    static {
        // LAPACK through SafeLapack and ops through SafeOpExecutioner: ND4J's own let garbage collection
        // free buffers a native call still uses (docs/reliability.md), whoever calls this class first
        NativeSafety.install();
    }

    /** System property choosing the route: auto (default), lapack or ejml. */
    public static final String ROUTE_PROPERTY = "stethoscope.linalg";

    private Decompositions() {
    }

    /** Where the decompositions run. */
    public enum Route {
        /** ND4J's native LAPACK (OpenBLAS). */
        LAPACK,
        /** Pure-Java EJML. */
        EJML
    }

    /**
     * The route in use: the {@value #ROUTE_PROPERTY} system property if set, else LAPACK when
     * {@link BackendSelfTest#lapackTrusted()} and EJML otherwise (running the self-test on first use).
     *
     * @throws IllegalArgumentException if the property has a value other than auto, lapack, ejml
     */
    public static Route route() {
        String p = System.getProperty(ROUTE_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        return switch (p) {
            case "auto", "" -> BackendSelfTest.lapackTrusted() ? Route.LAPACK : Route.EJML;
            case "lapack" -> Route.LAPACK;
            case "ejml" -> Route.EJML;
            default -> throw new IllegalArgumentException("System property " + ROUTE_PROPERTY + "=" + p
                    + " is not a route; valid: auto, lapack, ejml");
        };
    }

    /**
     * Singular values, descending, and (optionally) left singular vectors.
     *
     * @param s singular values, length min(rows, cols), descending
     * @param u left singular vectors as columns, rows x min(rows, cols) (double, 'f' or 'c'); null if not asked for
     */
    public record Svd(double[] s, INDArray u) {
    }

    /**
     * Eigenvalues, ascending, and eigenvectors of a symmetric matrix.
     *
     * @param values  eigenvalues, ascending
     * @param vectors n x n, column i the unit eigenvector of {@code values[i]}
     */
    public record SymmetricEigen(double[] values, INDArray vectors) {
    }

    /** {@link #svd(INDArray, boolean, Route)} on {@link #route()}. */
    public static Svd svd(INDArray a, boolean wantU) {
        return svd(a, wantU, route());
    }

    /**
     * Thin SVD {@code a = U diag(s) V^T} of a wide or square matrix, returning s and, if
     * {@code wantU}, U.
     *
     * @param a     a 2-d matrix with rows &lt;= columns (any data type; computed in double)
     * @param wantU whether U is needed (without it EJML is several times faster)
     * @param route where to compute it
     */
    public static Svd svd(INDArray a, boolean wantU, Route route) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(route, "route");
        if (a.rank() != 2 || a.rows() > a.columns()) {
            throw new IllegalArgumentException("svd needs a 2-d matrix with rows <= columns, got shape "
                    + Arrays.toString(a.shape()) + " (decompose the transpose instead)");
        }
        int n = (int) a.rows();
        int m = (int) a.columns();
        if (n == 0) {
            return new Svd(new double[0], wantU ? Nd4j.create(DataType.DOUBLE, 0, 0) : null);
        }
        if (route == Route.LAPACK) {
            INDArray work = a.castTo(DataType.DOUBLE).dup('f');
            INDArray sArr = Nd4j.create(DataType.DOUBLE, n);
            INDArray u = wantU ? Nd4j.create(DataType.DOUBLE, new long[]{n, n}, 'f') : null;
            Nd4j.getBlasWrapper().lapack().gesvd(work, sArr, u, null);
            return new Svd(sArr.toDoubleVector(), u);
        }
        DMatrixRMaj x = toEjml(a);
        SingularValueDecomposition_F64<DMatrixRMaj> dec = DecompositionFactory_DDRM.svd(n, m, wantU, false, true);
        if (!dec.decompose(x)) {
            throw new IllegalStateException("EJML SVD did not converge on a " + n + " x " + m + " matrix");
        }
        DMatrixRMaj w = dec.getW(null);
        DMatrixRMaj u = wantU ? dec.getU(null, false) : null;
        SingularOps_DDRM.descendingOrder(u, false, w, null, false);
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = w.get(i, i);
        }
        return new Svd(s, u == null ? null : fromEjml(u));
    }

    /** {@link #symmetricEigen(INDArray, Route)} on {@link #route()}. */
    public static SymmetricEigen symmetricEigen(INDArray g) {
        return symmetricEigen(g, route());
    }

    /**
     * Eigendecomposition of a symmetric matrix (only the symmetric part {@code (g + g^T)/2} is used).
     *
     * @param g     a square 2-d matrix
     * @param route where to compute it
     */
    public static SymmetricEigen symmetricEigen(INDArray g, Route route) {
        Objects.requireNonNull(g, "g");
        Objects.requireNonNull(route, "route");
        if (g.rank() != 2 || g.rows() != g.columns()) {
            throw new IllegalArgumentException("symmetricEigen needs a square matrix, got shape " + Arrays.toString(g.shape()));
        }
        int n = (int) g.rows();
        INDArray d = g.castTo(DataType.DOUBLE);
        INDArray sym = d.add(d.transpose().dup()).muli(0.5);
        if (route == Route.LAPACK) {
            INDArray v = sym.dup('f');
            double[] ev = Eigen.symmetricGeneralizedEigenvalues(v, true).toDoubleVector(); // ascending; v = vectors
            return new SymmetricEigen(ev, v);
        }
        EigenDecomposition_F64<DMatrixRMaj> dec = DecompositionFactory_DDRM.eig(n, true, true);
        if (!dec.decompose(toEjml(sym))) {
            throw new IllegalStateException("EJML symmetric eigendecomposition did not converge on a " + n + " x " + n
                    + " matrix");
        }
        Integer[] order = new Integer[n];
        double[] raw = new double[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            raw[i] = dec.getEigenvalue(i).getReal();
        }
        Arrays.sort(order, (p, q) -> Double.compare(raw[p], raw[q]));
        double[] values = new double[n];
        double[] vec = new double[n * n]; // column-major
        for (int k = 0; k < n; k++) {
            int i = order[k];
            values[k] = raw[i];
            DMatrixRMaj col = dec.getEigenVector(i);
            System.arraycopy(col.data, 0, vec, k * n, n);
        }
        return new SymmetricEigen(values, Nd4j.create(vec, new long[]{n, n}, 'f'));
    }

    private static DMatrixRMaj toEjml(INDArray a) {
        INDArray c = a.castTo(DataType.DOUBLE).dup('c');
        return new DMatrixRMaj((int) a.rows(), (int) a.columns(), true, c.data().asDouble());
    }

    private static INDArray fromEjml(DMatrixRMaj m) {
        return Nd4j.create(Arrays.copyOf(m.data, m.numRows * m.numCols), new long[]{m.numRows, m.numCols}, 'c');
    }
}
