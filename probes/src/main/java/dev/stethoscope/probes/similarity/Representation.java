package dev.stethoscope.probes.similarity;

import dev.stethoscope.probes.linalg.Decompositions;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Objects;

/**
 * A layer's representation over m data points, prepared once for any number of
 * comparisons: the matrix (neurons x data points, as google/svcca's
 * {@code cca_core.get_cca_similarity}) with each row (neuron) centred, and its thin SVD
 * {@code A_c = U S V^T} restricted to the numerically non-zero singular values.
 *
 * <p>Computed in double precision by {@link Decompositions} (ND4J's LAPACK when it passed
 * {@link dev.stethoscope.probes.linalg.BackendSelfTest}, pure-Java EJML otherwise): an SVD of {@code A_c}
 * (n x m) when n &lt;= m (then {@code V = A_c^T U S^-1}; a singular value counts as non-zero when it exceeds
 * {@code s_max * max(n, m) * 2.2e-16}); when n &gt; m, the symmetric eigendecomposition of the m x m Gram matrix {@code A_c^T A_c}
 * (eigenvalues {@code s^2}, eigenvectors V; an eigenvalue counts as non-zero above
 * {@code lambda_max * max(n, m) * 2.2e-15}, i.e. singular values below about 1e-6 of the largest
 * are dropped, which the default regularisation would damp anyway).
 * Centring makes the rank at most m - 1: the constant direction is always dropped.
 *
 * <p>Memory: the centred matrix (n x m doubles), V (m x r) and r singular values,
 * r &lt;= min(n, m - 1). The centred matrix is kept for PWCCA's projection weights and
 * debiased CKA's row norms.
 */
public final class Representation implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    private static final double ULP = Math.ulp(1.0);

    private final INDArray centred;
    private final double[] singularValues;
    private final INDArray v;
    private final double[] pointSquaredNorms;
    private final int neurons;
    private final int dataPoints;
    private final String pointLayout;

    private Representation(INDArray centred, double[] singularValues, INDArray v, double[] pointSquaredNorms,
                           int neurons, int dataPoints, String pointLayout) {
        this.pointLayout = pointLayout;
        this.centred = centred;
        this.singularValues = singularValues;
        this.v = v;
        this.pointSquaredNorms = pointSquaredNorms;
        this.neurons = neurons;
        this.dataPoints = dataPoints;
    }

    /**
     * Prepares a representation.
     *
     * @param neuronsByPoints a 2-d array, rows are neurons, columns are data points (any data type; copied)
     * @throws IllegalArgumentException if it is not 2-d, has fewer than 2 data points, or holds NaN/infinite values
     */
    public static Representation of(INDArray neuronsByPoints) {
        return of(neuronsByPoints, null);
    }

    /**
     * Prepares a representation whose data points are described by {@code pointLayout} (see
     * {@link ConvRepresentations#pointLayout}); two representations with different non-null
     * layouts have different data points even when their counts agree, and are not compared.
     */
    public static Representation of(INDArray neuronsByPoints, String pointLayout) {
        Objects.requireNonNull(neuronsByPoints, "neuronsByPoints");
        if (neuronsByPoints.rank() != 2) {
            throw new IllegalArgumentException("A representation must be a 2-d matrix (neurons x data points), got shape "
                    + java.util.Arrays.toString(neuronsByPoints.shape())
                    + "; use ConvRepresentations to turn layer activations into one");
        }
        long n = neuronsByPoints.rows();
        long m = neuronsByPoints.columns();
        if (n < 1 || m < 2) {
            throw new IllegalArgumentException("A representation needs at least 1 neuron and 2 data points, got "
                    + n + " x " + m);
        }
        if (n * m > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Representation " + n + " x " + m + " is too large for the SVD step;"
                    + " subsample data points or neurons");
        }
        INDArray x = neuronsByPoints.castTo(DataType.DOUBLE).dup('c');
        double total = x.norm2Number().doubleValue();
        if (!Double.isFinite(total)) {
            throw new IllegalArgumentException("Representation " + n + " x " + m
                    + " contains NaN or infinite values (or values too large to square)");
        }
        x.subiColumnVector(x.mean(true, 1));

        double[] s;
        INDArray vFull;
        if (n <= m) {
            Decompositions.Svd svd = Decompositions.svd(x, true);
            s = svd.s();
            int r = rank(s, n, m);
            s = java.util.Arrays.copyOf(s, r);
            if (r == 0) {
                vFull = Nd4j.create(DataType.DOUBLE, m, 0);
            } else {
                INDArray ur = svd.u().get(NDArrayIndex.all(), NDArrayIndex.interval(0, r));
                vFull = x.transpose().mmul(ur);
                vFull.diviRowVector(Nd4j.createFromArray(s).reshape(1, r));
            }
        } else {
            // n > m: eigen-decomposition of the m x m Gram matrix A_c^T A_c = V S^2 V^T (one GEMM and one
            // symmetric eigensolver; faster than gesvd on the wide m x n matrix of conv layers, see
            // docs/PROBES_AND_SIMILARITY.md, "Similarity")
            INDArray g = x.transpose().mmul(x);
            Decompositions.SymmetricEigen eig = Decompositions.symmetricEigen(g);
            double[] ev = eig.values(); // ascending
            int mm = ev.length;
            double top = Math.max(0, ev[mm - 1]);
            double tol = top * Math.max(n, m) * ULP * 10;
            int r = 0;
            while (r < mm && ev[mm - 1 - r] > tol && top > 0) {
                r++;
            }
            s = new double[r];
            int[] cols = new int[r];
            for (int i = 0; i < r; i++) {
                s[i] = Math.sqrt(ev[mm - 1 - i]);
                cols[i] = mm - 1 - i;
            }
            vFull = r == 0 ? Nd4j.create(DataType.DOUBLE, m, 0) : eig.vectors().getColumns(cols).dup('c');
        }
        INDArray pn = x.norm2(0);
        double[] pointSq = pn.toDoubleVector();
        for (int i = 0; i < pointSq.length; i++) {
            pointSq[i] *= pointSq[i];
        }
        return new Representation(x, s, vFull, pointSq, (int) n, (int) m, pointLayout);
    }

    private static int rank(double[] s, long n, long m) {
        if (s.length == 0 || !(s[0] > 0)) {
            return 0;
        }
        double tol = s[0] * Math.max(n, m) * ULP;
        int r = 0;
        while (r < s.length && s[r] > tol) {
            r++;
        }
        return r;
    }

    /**
     * A smaller copy for long-term storage (e.g. snapshots kept by a listener): without the
     * centred matrix and with only the top {@code maxDirections} right singular vectors (all
     * singular values are kept). It serves SVCCA with at most that many directions and, when
     * every direction is kept, CKA and debiased CKA; PWCCA needs the full representation.
     * Memory: m x min(r, maxDirections) doubles.
     */
    public Representation compact(int maxDirections) {
        int k = Math.max(0, Math.min(maxDirections, (int) v.columns()));
        INDArray vk = k == v.columns() ? v : v.get(NDArrayIndex.all(), NDArrayIndex.interval(0, k)).dup('c');
        return new Representation(null, singularValues, vk, pointSquaredNorms, neurons, dataPoints, pointLayout);
    }

    /** Whether this is a {@link #compact} copy. */
    public boolean isCompact() {
        return centred == null;
    }

    /** Number of right singular vectors held (the rank, or fewer for a compact copy). */
    public int storedDirections() {
        return (int) v.columns();
    }

    /** Number of neurons n. */
    public int neurons() {
        return neurons;
    }

    /** Number of data points m. */
    public int dataPoints() {
        return dataPoints;
    }

    /** Description of the data points (null when not given). */
    public String pointLayout() {
        return pointLayout;
    }

    /** Whether this and {@code other} are over the same data points (same count and, when both are known, same layout). */
    public boolean samePoints(Representation other) {
        return dataPoints == other.dataPoints
                && (pointLayout == null || other.pointLayout == null || pointLayout.equals(other.pointLayout));
    }

    /** Numerical rank r of the centred matrix. */
    public int rank() {
        return singularValues.length;
    }

    /** The non-zero singular values of the centred matrix, descending (a copy). */
    public double[] singularValues() {
        return singularValues.clone();
    }

    /**
     * Number of directions the SV step keeps under {@code options}: the smallest k whose
     * top-k squared singular values reach the kept fraction of the total (or the fixed
     * count), capped at the numerical rank and at the directions whose variance relative to
     * the largest is at least epsilon (those are removed by the CCA step, as in cca_core).
     */
    public int directions(SimilarityOptions options) {
        int r = rank();
        if (r == 0) {
            return 0;
        }
        double top = singularValues[0] * singularValues[0];
        int usable = 0;
        while (usable < r && singularValues[usable] * singularValues[usable] / top >= options.epsilon()) {
            usable++;
        }
        int k;
        if (options.keepCount() > 0) {
            k = options.keepCount();
        } else {
            double total = 0;
            for (double x : singularValues) {
                total += x * x;
            }
            double target = options.keepFraction() * total;
            double cum = 0;
            k = 0;
            // tolerance so that keep = 1.0 is reached despite rounding
            while (k < r && cum < target * (1 - 1e-12)) {
                cum += singularValues[k] * singularValues[k];
                k++;
            }
        }
        return Math.max(1, Math.min(Math.min(k, usable), storedDirections()));
    }

    /** The centred matrix (n x m); a view of internal state, do not modify. */
    INDArray centred() {
        if (centred == null) {
            throw new IllegalStateException("This is a compact representation without its data matrix;"
                    + " PWCCA needs the full one (Representation.of)");
        }
        return centred;
    }

    /** Right singular vectors (m x r), orthonormal columns; internal state, do not modify. */
    INDArray v() {
        return v;
    }

    /** Squared norm of each data point's centred vector (length m). */
    double[] pointSquaredNorms() {
        return pointSquaredNorms;
    }
}
