package dev.stethoscope.probes.similarity;

import dev.stethoscope.probes.linalg.Decompositions;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;

/**
 * SVCCA, PWCCA and linear CKA between two representations A (n1 x m) and B (n2 x m):
 * rows are neurons, columns the same m data points in the same order (the layout of
 * google/svcca's {@code cca_core.get_cca_similarity}). Stateless; thread-safe.
 *
 * <h2>CCA (shared by SVCCA and PWCCA)</h2>
 * Each representation is centred per neuron and reduced by its SVD to its top k singular
 * directions ({@link Representation#directions}); in that basis its covariance is
 * diagonal, {@code diag(s^2)/(m-1)}. As in cca_core, covariances are scaled by their
 * largest variance, epsilon is added to the diagonal and the whitened cross-covariance
 * {@code T = Sxx^-1/2 Sxy Syy^-1/2} is decomposed by SVD; its singular values are the
 * canonical correlations. In the SVD basis {@code T = diag(fa) Va^T Vb diag(fb)} with
 * shrinkage {@code f = sqrt(r / (r + epsilon))}, r the relative variance, so with
 * epsilon = 0 the correlations are the cosines of the principal angles between the two
 * row spaces. There are min(ka, kb) correlations.
 *
 * <h2>n &gt; m</h2>
 * Nothing is inverted, so nothing fails, but m data points span at most m - 1 centred
 * dimensions: the SV step keeps at most m - 1 directions per side and, when ka + kb &gt;
 * m - 1, at least ka + kb - (m - 1) correlations equal 1 by dimension counting. The result
 * is then flagged {@link SimilarityResult#underdetermined()} and a warning is logged; CKA
 * has no such cliff but its value is also biased upwards for small m (use
 * {@link SimilarityMethod#CKA_DEBIASED}).
 *
 * <h2>PWCCA</h2>
 * Morcos et al. 2018: canonical variates {@code h_i} (unit-normalised, in data-point space)
 * of the side with fewer CCA directions (A on a tie) are weighted by
 * {@code alpha_i = sum_j |<h_i, z_j>|} over that side's centred neurons {@code z_j};
 * PWCCA = sum alpha_i rho_i / sum alpha_i. Deviation from google/svcca's pwcca.py, which
 * orthonormalises {@code coef_x (A - mean) + mean} by QR instead of using the whitened
 * canonical variates: we follow the paper's definition. PWCCA keeps every numerically
 * non-zero direction by default ({@link SimilarityOptions#defaultsFor}).
 *
 * <h2>CKA</h2>
 * Linear CKA {@code ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)} with X = A_c^T, computed
 * from the singular values and vectors: {@code ||diag(sa) Va^T Vb diag(sb)||_F^2 /
 * sqrt(sum sa^4 sum sb^4)}. Debiased CKA replaces each HSIC by the unbiased estimator of
 * Song et al. 2012 on the centred features (as Kornblith et al.'s reference code), which
 * needs m &gt;= 4.
 */
public final class Similarity {
    private static final Logger LOG = LoggerFactory.getLogger(Similarity.class);

    /**
     * Points per neuron below which a comparison is flagged as biased: with fewer points, independent
     * random layers score well above 0 by chance in (SV)CCA and CKA (the measured bias is in
     * docs/PROBES_AND_SIMILARITY.md, "How many data points per neuron").
     */
    public static final int MIN_POINTS_PER_NEURON = 10;

    private Similarity() {
    }

    /**
     * Whether comparing {@code a} and {@code b} uses fewer than {@link #MIN_POINTS_PER_NEURON} data points
     * per neuron of the wider one (then every method is biased upwards; debiased CKA the least).
     */
    public static boolean fewPointsPerNeuron(Representation a, Representation b) {
        return (long) a.dataPoints() < (long) MIN_POINTS_PER_NEURON * Math.max(a.neurons(), b.neurons());
    }

    /** Compares two raw matrices (neurons x data points) with {@code method}'s default options. */
    public static SimilarityResult compute(SimilarityMethod method, INDArray a, INDArray b) {
        return compute(method, a, b, SimilarityOptions.defaultsFor(method));
    }

    /** Compares two raw matrices (neurons x data points). */
    public static SimilarityResult compute(SimilarityMethod method, INDArray a, INDArray b, SimilarityOptions options) {
        checkPoints(a.rank() == 2 ? a.columns() : -1, b.rank() == 2 ? b.columns() : -1);
        return compute(method, Representation.of(a), Representation.of(b), options);
    }

    /** Compares two prepared representations. */
    public static SimilarityResult compute(SimilarityMethod method, Representation a, Representation b,
                                           SimilarityOptions options) {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(options, "options");
        return switch (method) {
            case SVCCA -> cca(a, b, options, false);
            case PWCCA -> cca(a, b, options, true);
            case CKA -> cka(a, b, false);
            case CKA_DEBIASED -> cka(a, b, true);
        };
    }

    /** SVCCA with default options (keep 99% of variance). */
    public static SimilarityResult svcca(INDArray a, INDArray b) {
        return compute(SimilarityMethod.SVCCA, a, b, SimilarityOptions.defaults());
    }

    /** PWCCA with default options (every numerically non-zero direction). */
    public static SimilarityResult pwcca(INDArray a, INDArray b) {
        return compute(SimilarityMethod.PWCCA, a, b);
    }

    /** Linear CKA. */
    public static double cka(INDArray a, INDArray b) {
        return compute(SimilarityMethod.CKA, a, b).value();
    }

    /** Debiased linear CKA. */
    public static double ckaDebiased(INDArray a, INDArray b) {
        return compute(SimilarityMethod.CKA_DEBIASED, a, b).value();
    }

    private static void checkPoints(Representation a, Representation b) {
        checkPoints(a.dataPoints(), b.dataPoints());
        if (!a.samePoints(b)) {
            throw new IllegalArgumentException("The representations are over different data points (" + a.pointLayout()
                    + " vs " + b.pointLayout() + "); in positions mode only layers of equal spatial size are comparable");
        }
    }

    private static void checkPoints(long ma, long mb) {
        if (ma != mb) {
            throw new IllegalArgumentException("Data-point dimension mismatch: A has " + ma + " data points (columns), B has "
                    + mb + "; both matrices must be neurons x data points over the same data points");
        }
    }

    private static SimilarityResult cca(Representation a, Representation b, SimilarityOptions options, boolean weighted) {
        int m = a.dataPoints();
        checkPoints(a, b);
        SimilarityMethod method = weighted ? SimilarityMethod.PWCCA : SimilarityMethod.SVCCA;
        if (a.rank() == 0 || b.rank() == 0) {
            LOG.warn("{}: a representation is constant over the data points (rank 0); similarity reported as 0", method.id());
            return new SimilarityResult(method, 0.0, new double[0], new double[0], a.rank(), b.rank(), m, false);
        }
        int ka = a.directions(options);
        int kb = b.directions(options);
        INDArray va = a.v().get(NDArrayIndex.all(), NDArrayIndex.interval(0, ka));
        INDArray vb = b.v().get(NDArrayIndex.all(), NDArrayIndex.interval(0, kb));
        double[] fa = shrink(a.singularValues(), ka, options.epsilon());
        double[] fb = shrink(b.singularValues(), kb, options.epsilon());
        INDArray t = va.transpose().mmul(vb);
        t.muliColumnVector(Nd4j.createFromArray(fa).reshape(ka, 1));
        t.muliRowVector(Nd4j.createFromArray(fb).reshape(1, kb));

        boolean aSide = ka <= kb;
        INDArray wide = aSide ? t : t.transpose();
        int k = Math.min(ka, kb);
        Decompositions.Svd svd = Decompositions.svd(wide, weighted);
        INDArray u = svd.u();
        double[] rho = svd.s();
        for (int i = 0; i < rho.length; i++) {
            rho[i] = Math.min(1.0, Math.max(0.0, rho[i]));
        }
        boolean under = ka + kb > m - 1;
        if (under) {
            LOG.warn("{}: {} + {} directions exceed the {} dimensions spanned by {} centred data points;"
                    + " at least {} correlations are 1 by dimension counting", method.id(), ka, kb, m - 1, m, ka + kb - (m - 1));
        }
        double[] weights = new double[0];
        double value;
        if (weighted) {
            Representation side = aSide ? a : b;
            double[] f = aSide ? fa : fb;
            INDArray vSide = aSide ? va : vb;
            // coefficients of the canonical variates in the SVD basis: f (.) u_i, unit-normalised
            INDArray g = u.mulColumnVector(Nd4j.createFromArray(f).reshape(k, 1));
            INDArray norms = g.norm2(0);
            g.diviRowVector(norms.reshape(1, k));
            INDArray h = vSide.mmul(g); // m x k canonical variates, unit columns
            INDArray proj = side.centred().mmul(h); // n x k: <h_i, z_j>
            weights = org.nd4j.linalg.ops.transforms.Transforms.abs(proj, false).sum(0).toDoubleVector();
            double wsum = 0;
            for (double w : weights) {
                wsum += w;
            }
            double acc = 0;
            for (int i = 0; i < k; i++) {
                weights[i] = wsum > 0 ? weights[i] / wsum : 1.0 / k;
                acc += weights[i] * rho[i];
            }
            value = acc;
        } else {
            double acc = 0;
            for (double r : rho) {
                acc += r;
            }
            value = acc / rho.length;
        }
        return new SimilarityResult(method, value, rho, weights, ka, kb, m, under);
    }

    private static double[] shrink(double[] s, int k, double eps) {
        double top = s[0] * s[0];
        double[] f = new double[k];
        for (int i = 0; i < k; i++) {
            double r = s[i] * s[i] / top;
            f[i] = Math.sqrt(r / (r + eps));
        }
        return f;
    }

    private static SimilarityResult cka(Representation a, Representation b, boolean debiased) {
        int m = a.dataPoints();
        checkPoints(a, b);
        SimilarityMethod method = debiased ? SimilarityMethod.CKA_DEBIASED : SimilarityMethod.CKA;
        if (debiased && m < 4) {
            throw new IllegalArgumentException("Debiased CKA needs at least 4 data points, got " + m);
        }
        if (a.rank() == 0 || b.rank() == 0) {
            LOG.warn("{}: a representation is constant over the data points (rank 0); similarity reported as 0", method.id());
            return new SimilarityResult(method, 0.0, new double[0], new double[0], a.rank(), b.rank(), m, false);
        }
        if (a.storedDirections() < a.rank() || b.storedDirections() < b.rank()) {
            throw new IllegalStateException("CKA needs every singular direction; a compact representation with fewer"
                    + " was given (Representation.compact)");
        }
        double[] sa = a.singularValues();
        double[] sb = b.singularValues();
        INDArray p = a.v().transpose().mmul(b.v());
        p.muliColumnVector(Nd4j.createFromArray(sa).reshape(sa.length, 1));
        p.muliRowVector(Nd4j.createFromArray(sb).reshape(1, sb.length));
        double xy = sq(p.norm2Number().doubleValue());
        double xx = 0;
        double sumA = 0;
        for (double s : sa) {
            xx += s * s * s * s;
            sumA += s * s;
        }
        double yy = 0;
        double sumB = 0;
        for (double s : sb) {
            yy += s * s * s * s;
            sumB += s * s;
        }
        double value;
        if (!debiased) {
            value = xy / Math.sqrt(xx * yy);
        } else {
            double[] da = a.pointSquaredNorms();
            double[] db = b.pointSquaredNorms();
            double c1 = (double) m / (m - 2);
            double c2 = 1.0 / ((double) (m - 1) * (m - 2));
            double hxy = xy - c1 * dot(da, db) + sumA * sumB * c2;
            double hxx = xx - c1 * dot(da, da) + sumA * sumA * c2;
            double hyy = yy - c1 * dot(db, db) + sumB * sumB * c2;
            if (hxx <= 0 || hyy <= 0) {
                LOG.warn("cka-debiased: a self-HSIC estimate is not positive (m={}), similarity undefined (NaN)", m);
                value = Double.NaN;
            } else {
                value = hxy / Math.sqrt(hxx * hyy);
            }
        }
        return new SimilarityResult(method, value, new double[0], new double[0], a.rank(), b.rank(), m, false);
    }

    private static double sq(double x) {
        return x * x;
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }
}
