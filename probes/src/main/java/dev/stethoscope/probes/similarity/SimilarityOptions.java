package dev.stethoscope.probes.similarity;

/**
 * Options of the CCA-based measures. Immutable; use the {@code with...} methods.
 *
 * <p>The SV step keeps, for each representation, either the top singular directions
 * that explain at least {@link #keepFraction()} of the variance (sum of squared
 * singular values), or a fixed number {@link #keepCount()} of them (capped at the
 * numerical rank). {@link #epsilon()} regularises the covariances as in google/svcca's
 * {@code cca_core}: covariances are scaled by their largest variance, directions whose
 * scaled variance is below epsilon are removed, and epsilon is added to the diagonal
 * before whitening.
 */
public final class SimilarityOptions implements java.io.Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** Default fraction of variance kept by the SV step of SVCCA (Raghu et al.: 99%). */
    public static final double DEFAULT_KEEP = 0.99;
    /** Default covariance regularisation, relative to the largest variance. */
    public static final double DEFAULT_EPSILON = 1e-10;

    private final double keepFraction;
    private final int keepCount;
    private final double epsilon;

    private SimilarityOptions(double keepFraction, int keepCount, double epsilon) {
        this.keepFraction = keepFraction;
        this.keepCount = keepCount;
        this.epsilon = epsilon;
    }

    /** SVCCA defaults: keep 99% of variance, epsilon 1e-10. */
    public static SimilarityOptions defaults() {
        return new SimilarityOptions(DEFAULT_KEEP, 0, DEFAULT_EPSILON);
    }

    /**
     * Defaults for a method: SVCCA keeps 99% of variance; PWCCA keeps every numerically
     * non-zero direction (Morcos et al. apply CCA to the raw activations); CKA ignores these options.
     */
    public static SimilarityOptions defaultsFor(SimilarityMethod method) {
        return method == SimilarityMethod.SVCCA ? defaults() : new SimilarityOptions(1.0, 0, DEFAULT_EPSILON);
    }

    /** Keep directions explaining at least {@code fraction} of the variance, 0 &lt; fraction &lt;= 1. */
    public SimilarityOptions withKeepFraction(double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("keep fraction must be in (0, 1], got " + fraction);
        }
        return new SimilarityOptions(fraction, 0, epsilon);
    }

    /** Keep a fixed number of top directions (capped at the numerical rank), count &gt;= 1. */
    public SimilarityOptions withKeepCount(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("keep count must be >= 1, got " + count);
        }
        return new SimilarityOptions(keepFraction, count, epsilon);
    }

    /** Covariance regularisation relative to the largest variance, 0 &lt;= epsilon &lt; 1. */
    public SimilarityOptions withEpsilon(double eps) {
        if (!(eps >= 0 && eps < 1)) {
            throw new IllegalArgumentException("epsilon must be in [0, 1), got " + eps);
        }
        return new SimilarityOptions(keepFraction, keepCount, eps);
    }

    /** Fraction of variance kept (ignored when {@link #keepCount()} is set). */
    public double keepFraction() {
        return keepFraction;
    }

    /** Fixed number of directions kept, or 0 when the fraction applies. */
    public int keepCount() {
        return keepCount;
    }

    /** Covariance regularisation relative to the largest variance. */
    public double epsilon() {
        return epsilon;
    }

    @Override
    public String toString() {
        return (keepCount > 0 ? "keep=" + keepCount + " directions" : "keep=" + keepFraction + " of variance")
                + ", epsilon=" + epsilon;
    }
}
