package dev.stethoscope.probes.similarity;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Representation-similarity measures (METHODS.md section 4).
 */
public enum SimilarityMethod {
    /** SVCCA (Raghu et al. 2017): SVD step keeping a fraction of variance, then CCA; mean canonical correlation. */
    SVCCA("svcca"),
    /** PWCCA (Morcos et al. 2018): CCA, then the projection-weighted mean of the canonical correlations. */
    PWCCA("pwcca"),
    /** Linear CKA (Kornblith et al. 2019). */
    CKA("cka"),
    /** Linear CKA with the unbiased HSIC estimator (Kornblith et al. 2019, after Song et al. 2012). */
    CKA_DEBIASED("cka-debiased");

    private final String id;

    SimilarityMethod(String id) {
        this.id = id;
    }

    /** The lower-case name used on the command line, in records and in the UI. */
    public String id() {
        return id;
    }

    /** Whether the method produces canonical correlations (SVCCA, PWCCA). */
    public boolean hasCorrelations() {
        return this == SVCCA || this == PWCCA;
    }

    /**
     * Parses a method name (case-insensitive; {@code _} and {@code -} are equivalent).
     *
     * @throws IllegalArgumentException listing the valid names
     */
    public static SimilarityMethod parse(String s) {
        if (s != null) {
            String k = s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
            for (SimilarityMethod m : values()) {
                if (m.id.equals(k)) {
                    return m;
                }
            }
            if (k.equals("debiased-cka") || k.equals("cka-unbiased")) {
                return CKA_DEBIASED;
            }
        }
        throw new IllegalArgumentException("Unknown similarity method '" + s + "'. Valid methods: "
                + Arrays.stream(values()).map(SimilarityMethod::id).collect(Collectors.joining(", ")));
    }
}
