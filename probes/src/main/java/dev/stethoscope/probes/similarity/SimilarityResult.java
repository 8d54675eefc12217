package dev.stethoscope.probes.similarity;

import java.util.Arrays;

/**
 * The similarity of two representations.
 *
 * <p>{@link #value()} is the summary number: the mean canonical correlation (SVCCA), the
 * projection-weighted mean (PWCCA), or the CKA value. {@link #correlations()} holds every
 * canonical correlation, sorted descending (empty for CKA); {@link #weights()} the PWCCA
 * weights aligned with them (empty otherwise).
 */
public final class SimilarityResult {
    private final SimilarityMethod method;
    private final double value;
    private final double[] correlations;
    private final double[] weights;
    private final int directionsA;
    private final int directionsB;
    private final int dataPoints;
    private final boolean underdetermined;

    /**
     * @param method          the measure
     * @param value           the summary similarity
     * @param correlations    canonical correlations sorted descending (empty for CKA)
     * @param weights         PWCCA weights aligned with the correlations (empty otherwise)
     * @param directionsA     directions of A used (SV step), or A's numerical rank for CKA
     * @param directionsB     same for B
     * @param dataPoints      number of data points m
     * @param underdetermined true when directionsA + directionsB &gt; m - 1, see {@link #underdetermined()}
     */
    public SimilarityResult(SimilarityMethod method, double value, double[] correlations, double[] weights,
                            int directionsA, int directionsB, int dataPoints, boolean underdetermined) {
        this.method = method;
        this.value = value;
        this.correlations = correlations.clone();
        this.weights = weights.clone();
        this.directionsA = directionsA;
        this.directionsB = directionsB;
        this.dataPoints = dataPoints;
        this.underdetermined = underdetermined;
    }

    /** The measure. */
    public SimilarityMethod method() {
        return method;
    }

    /** The summary similarity in [0, 1] (debiased CKA can be slightly negative). */
    public double value() {
        return value;
    }

    /** Canonical correlations, descending (a copy; empty for CKA). */
    public double[] correlations() {
        return correlations.clone();
    }

    /** PWCCA weights aligned with {@link #correlations()} (a copy; empty for other methods). */
    public double[] weights() {
        return weights.clone();
    }

    /** Directions of A entering the CCA (after the SV step), or A's numerical rank for CKA. */
    public int directionsA() {
        return directionsA;
    }

    /** Directions of B entering the CCA (after the SV step), or B's numerical rank for CKA. */
    public int directionsB() {
        return directionsB;
    }

    /** Number of data points m. */
    public int dataPoints() {
        return dataPoints;
    }

    /**
     * True when the two subspaces together have more directions than the m - 1 dimensions
     * that centred data over m points can span. At least {@code directionsA + directionsB - (m - 1)}
     * canonical correlations are then 1 by dimension counting alone, whatever the data; use more
     * data points or keep fewer directions.
     */
    public boolean underdetermined() {
        return underdetermined;
    }

    @Override
    public String toString() {
        return method.id() + "=" + value + " (directions " + directionsA + "/" + directionsB + ", m=" + dataPoints
                + (underdetermined ? ", UNDERDETERMINED" : "") + ", correlations="
                + Arrays.toString(Arrays.copyOf(correlations, Math.min(5, correlations.length)))
                + (correlations.length > 5 ? "..." : "") + ")";
    }
}
