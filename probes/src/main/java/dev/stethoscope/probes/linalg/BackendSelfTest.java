package dev.stethoscope.probes.linalg;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A numerical self-test of the ND4J backend's double-precision linear algebra, run once per JVM
 * (the first call of {@link #result()}) and cached; its cost and the errors measured with each
 * OpenBLAS kernel are in docs/PROBES_AND_SIMILARITY.md ("Trustworthy linear algebra").
 *
 * <p>Why: ND4J 1.0.0-M2.1 bundles OpenBLAS 0.3.19, which on CPUs with AVX-512 selects its SkylakeX
 * kernels; with them double {@code gesvd} and {@code syev} return wrong results on matrices of a
 * few hundred rows and more (non-orthonormal vectors, wrong singular values), silently. Setting the
 * environment variable {@code OPENBLAS_CORETYPE=Haswell} before the JVM starts fixes it.
 *
 * <p>What is checked, on seeded Gaussian matrices (java.util.Random, not ND4J's RNG; the first with a
 * planted rank-one spike so that its top singular value stands apart):
 * <ul>
 *   <li>{@code gesvd} of a {@value #ROWS} x {@value #COLS} matrix A: U^T U = I; V = A^T U S^-1 has
 *       orthonormal columns (so U S V^T reconstructs A's row space); sum s^2 = ||A||_F^2 and the
 *       largest singular value agrees with a pure-Java power iteration;</li>
 *   <li>{@code syev} ({@link Eigen#symmetricGeneralizedEigenvalues}) of the Gram matrix A A^T:
 *       orthonormal eigenvectors, G v = lambda v, eigenvalues = s^2 of the SVD;</li>
 *   <li>a double {@code gemm} ({@code mmul}) of {@value #ROWS} x {@value #COLS} by
 *       {@value #COLS} x {@value #INNER} against a plain Java triple loop.</li>
 * </ul>
 * Each error is relative and must stay below {@value #TOLERANCE}. Any exception counts as a failure.
 *
 * <p>On failure an SLF4J ERROR names the fix; {@link Decompositions} then uses the pure-Java EJML
 * route, and listeners publish the {@link Result#summary()} on the page's Monitor errors panel.
 */
public final class BackendSelfTest {
    static {
        // LAPACK through SafeLapack and ops through SafeOpExecutioner: ND4J's own let garbage collection
        // free buffers a native call still uses (docs/reliability.md), whoever calls this class first
        NativeSafety.install();
    }

    private static final Logger LOG = LoggerFactory.getLogger(BackendSelfTest.class);

    /** Rows of the test matrix: above the ~150 rows from which the broken kernels go wrong. */
    public static final int ROWS = 300;
    /** Columns of the test matrix. */
    public static final int COLS = 500;
    /** Columns of the gemm's right factor. */
    public static final int INNER = 200;
    /** Largest relative error accepted (correct kernels reach about 1e-13). */
    public static final double TOLERANCE = 1e-8;
    /** The fix, as the log and the page state it. */
    public static final String FIX = "set the environment variable OPENBLAS_CORETYPE=Haswell before the JVM starts"
            + " (e.g. `export OPENBLAS_CORETYPE=Haswell`, or `env OPENBLAS_CORETYPE=Haswell java ...`)";

    private static volatile Result cached;

    private BackendSelfTest() {
    }

    /**
     * Outcome of the self-test.
     *
     * @param lapackOk    whether gesvd and syev passed (otherwise {@link Decompositions} uses EJML)
     * @param gemmOk      whether the double matrix product passed (if not, no route is trustworthy)
     * @param errors      the measured relative errors, by check name, in check order
     * @param failures    the checks that failed, human-readable
     * @param millis      time the test took
     * @param coreType    the OPENBLAS_CORETYPE environment variable at JVM start (null if unset)
     */
    public record Result(boolean lapackOk, boolean gemmOk, java.util.Map<String, Double> errors, List<String> failures,
                         long millis, String coreType) {
        /** Whether everything passed. */
        public boolean passed() {
            return lapackOk && gemmOk;
        }

        /** One paragraph for logs and the page: what failed, what Stethoscope does about it, and the fix. */
        public String summary() {
            if (passed()) {
                return "ND4J double-precision linear algebra self-test passed (" + millis + " ms)";
            }
            StringBuilder sb = new StringBuilder("ND4J/OpenBLAS double-precision linear algebra is WRONG on this CPU ("
                    + String.join("; ", failures) + "; OPENBLAS_CORETYPE=" + (coreType == null ? "<unset>" : coreType)
                    + "). ");
            if (gemmOk) {
                sb.append("Stethoscope computes its SVDs and eigendecompositions (SVCCA, PWCCA, CKA) with pure-Java EJML"
                        + " instead, which is slower. ");
            } else {
                sb.append("Even the double matrix product is wrong: every double-precision analysis (similarity, probe"
                        + " statistics, interval bounds) is unreliable. ");
            }
            sb.append("Fix: ").append(FIX).append('.');
            return sb.toString();
        }
    }

    /** The self-test's result, computed on the first call (thread-safe) and cached for the JVM's life. */
    public static Result result() {
        Result r = cached;
        if (r == null) {
            synchronized (BackendSelfTest.class) {
                r = cached;
                if (r == null) {
                    r = run(ROWS, COLS);
                    cached = r;
                    if (r.passed()) {
                        LOG.debug(r.summary());
                    } else {
                        LOG.error(r.summary());
                    }
                }
            }
        }
        return r;
    }

    /** Whether native gesvd/syev can be trusted ({@link #result()}{@code .lapackOk()}). */
    public static boolean lapackTrusted() {
        return result().lapackOk();
    }

    /**
     * Runs the checks now on a {@code rows} x {@code cols} matrix (rows &lt;= cols), without caching or
     * logging; {@link #result()} is what analyses use.
     */
    public static Result run(int rows, int cols) {
        if (rows < 2 || rows > cols) {
            throw new IllegalArgumentException("Self-test needs 2 <= rows <= cols, got " + rows + " x " + cols);
        }
        long t0 = System.nanoTime();
        java.util.Map<String, Double> errors = new java.util.LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        boolean lapackOk = true;
        boolean gemmOk = true;
        Random rnd = new Random(20261128L);
        double[][] a = gaussian(rnd, rows, cols);
        plantSpike(rnd, a); // a clear top singular value, so the power iteration converges in a few dozen steps
        double[][] b = gaussian(rnd, cols, INNER);

        // 1. gemm against a Java loop
        try {
            INDArray p = Nd4j.createFromArray(a).mmul(Nd4j.createFromArray(b));
            double[][] q = multiply(a, b);
            double e = relDiff(p.toDoubleMatrix(), q);
            gemmOk &= check("gemm", e, errors, failures);
        } catch (RuntimeException e) {
            gemmOk = false;
            failures.add("gemm threw " + e);
        }

        // 2. gesvd: orthonormal U, orthonormal V = A^T U S^-1, Frobenius norm, top singular value
        double[] s = null;
        try {
            INDArray x = Nd4j.createFromArray(a);
            INDArray work = x.dup('f');
            INDArray sArr = Nd4j.create(DataType.DOUBLE, rows);
            INDArray u = Nd4j.create(DataType.DOUBLE, new long[]{rows, rows}, 'f');
            Nd4j.getBlasWrapper().lapack().gesvd(work, sArr, u, null);
            s = sArr.toDoubleVector();
            lapackOk &= check("gesvd U^T U = I", orthoError(u), errors, failures);
            INDArray v = x.transpose().mmul(u).diviRowVector(sArr.reshape(1, rows));
            lapackOk &= check("gesvd A^T U S^-1 orthonormal", orthoError(v), errors, failures);
            double fro2 = 0;
            for (double[] row : a) {
                for (double z : row) {
                    fro2 += z * z;
                }
            }
            double ss = 0;
            for (double z : s) {
                ss += z * z;
            }
            lapackOk &= check("gesvd sum s^2 = ||A||_F^2", Math.abs(ss - fro2) / fro2, errors, failures);
            double top = powerIteration(a, 200);
            lapackOk &= check("gesvd s_max vs power iteration", Math.abs(s[0] - top) / top, errors, failures, 1e-6);
        } catch (RuntimeException e) {
            lapackOk = false;
            failures.add("gesvd threw " + e);
        }

        // 3. syev of the Gram matrix A A^T
        try {
            double[][] g = multiply(a, transpose(a));
            INDArray gv = Nd4j.createFromArray(g).dup('f');
            INDArray gOrig = gv.dup('c');
            double[] ev = Eigen.symmetricGeneralizedEigenvalues(gv, true).toDoubleVector(); // ascending; gv = vectors
            lapackOk &= check("syev V^T V = I", orthoError(gv), errors, failures);
            INDArray resid = gOrig.mmul(gv).subi(gv.mulRowVector(Nd4j.createFromArray(ev).reshape(1, rows)));
            double lmax = Math.abs(ev[rows - 1]);
            lapackOk &= check("syev G v = lambda v", maxAbs(resid.toDoubleMatrix()) / lmax, errors, failures);
            if (s != null) {
                double e = 0;
                for (int i = 0; i < rows; i++) {
                    e = Math.max(e, Math.abs(ev[rows - 1 - i] - s[i] * s[i]) / lmax);
                }
                lapackOk &= check("syev eigenvalues = gesvd s^2", e, errors, failures);
            }
        } catch (RuntimeException e) {
            lapackOk = false;
            failures.add("syev threw " + e);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        return new Result(lapackOk, gemmOk, java.util.Collections.unmodifiableMap(errors), List.copyOf(failures), ms,
                System.getenv("OPENBLAS_CORETYPE"));
    }

    private static boolean check(String name, double err, java.util.Map<String, Double> errors, List<String> failures) {
        return check(name, err, errors, failures, TOLERANCE);
    }

    private static boolean check(String name, double err, java.util.Map<String, Double> errors, List<String> failures,
                                 double tol) {
        errors.put(name, err);
        boolean ok = err <= tol; // false for NaN
        if (!ok) {
            failures.add(String.format(java.util.Locale.ROOT, "%s: error %.3g", name, err));
        }
        return ok;
    }

    private static double orthoError(INDArray q) {
        INDArray qtq = q.transpose().mmul(q);
        double[][] d = qtq.toDoubleMatrix();
        double e = 0;
        for (int i = 0; i < d.length; i++) {
            for (int j = 0; j < d[i].length; j++) {
                e = Math.max(e, Math.abs(d[i][j] - (i == j ? 1 : 0)));
            }
        }
        return e;
    }

    private static double[][] gaussian(Random rnd, int rows, int cols) {
        double[][] d = new double[rows][cols];
        for (double[] row : d) {
            for (int j = 0; j < cols; j++) {
                row[j] = rnd.nextGaussian();
            }
        }
        return d;
    }

    /** Adds c u v^T (unit u, v; c twice the bulk's largest singular value) to a. */
    private static void plantSpike(Random rnd, double[][] a) {
        int n = a.length;
        int m = a[0].length;
        double[] u = unit(rnd, n);
        double[] v = unit(rnd, m);
        double c = 2 * (Math.sqrt(n) + Math.sqrt(m));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                a[i][j] += c * u[i] * v[j];
            }
        }
    }

    private static double[] unit(Random rnd, int n) {
        double[] x = new double[n];
        double s = 0;
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextGaussian();
            s += x[i] * x[i];
        }
        s = Math.sqrt(s);
        for (int i = 0; i < n; i++) {
            x[i] /= s;
        }
        return x;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    private static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        int k = b.length;
        int m = b[0].length;
        double[][] c = new double[n][m];
        for (int i = 0; i < n; i++) {
            double[] ci = c[i];
            for (int l = 0; l < k; l++) {
                double x = a[i][l];
                double[] bl = b[l];
                for (int j = 0; j < m; j++) {
                    ci[j] += x * bl[j];
                }
            }
        }
        return c;
    }

    /** Largest singular value of a by power iteration on A A^T (pure Java). */
    private static double powerIteration(double[][] a, int iterations) {
        int n = a.length;
        int m = a[0].length;
        double[] x = new double[n];
        java.util.Arrays.fill(x, 1.0 / Math.sqrt(n));
        double lambda = 0;
        for (int it = 0; it < iterations; it++) {
            double[] y = new double[m];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    y[j] += a[i][j] * x[i];
                }
            }
            double[] z = new double[n];
            for (int i = 0; i < n; i++) {
                double acc = 0;
                for (int j = 0; j < m; j++) {
                    acc += a[i][j] * y[j];
                }
                z[i] = acc;
            }
            double norm = 0;
            for (double v : z) {
                norm += v * v;
            }
            norm = Math.sqrt(norm);
            double prev = lambda;
            lambda = norm;
            for (int i = 0; i < n; i++) {
                x[i] = z[i] / norm;
            }
            if (it > 10 && Math.abs(lambda - prev) <= 1e-15 * lambda) {
                break;
            }
        }
        return Math.sqrt(lambda);
    }

    private static double relDiff(double[][] p, double[][] q) {
        return maxAbs(sub(p, q)) / Math.max(maxAbs(q), Double.MIN_NORMAL);
    }

    private static double[][] sub(double[][] p, double[][] q) {
        double[][] d = new double[p.length][];
        for (int i = 0; i < p.length; i++) {
            d[i] = new double[p[i].length];
            for (int j = 0; j < p[i].length; j++) {
                d[i][j] = p[i][j] - q[i][j];
            }
        }
        return d;
    }

    private static double maxAbs(double[][] d) {
        double e = 0;
        for (double[] row : d) {
            for (double z : row) {
                e = Math.max(e, Double.isNaN(z) ? Double.POSITIVE_INFINITY : Math.abs(z));
            }
        }
        return e;
    }
}
