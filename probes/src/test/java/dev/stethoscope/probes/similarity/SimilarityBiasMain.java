package dev.stethoscope.probes.similarity;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Not a test: measures the similarity of independent Gaussian representations (true value 0) against
 * points per neuron, for docs/PROBES_AND_SIMILARITY.md. Args: neuron counts (default 64 256 512).
 */
public final class SimilarityBiasMain {
    public static void main(String[] args) {
        int[] widths = args.length == 0 ? new int[]{64, 256, 512} : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        int[] ratios = {1, 2, 4, 8, 16, 32};
        System.out.println("| neurons | points per neuron | SVCCA (0.99) | CCA (all) | PWCCA | CKA | debiased CKA | n/(n+m) |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int n : widths) {
            for (int ratio : ratios) {
                int m = n * ratio;
                if ((long) n * m > 600L * 16000) {
                    continue;
                }
                INDArray a = WideMats.gaussian(1000L * n + ratio, n, m);
                INDArray b = WideMats.gaussian(2000L * n + ratio, n, m);
                Representation ra = Representation.of(a);
                Representation rb = Representation.of(b);
                double sv = Similarity.compute(SimilarityMethod.SVCCA, ra, rb, SimilarityOptions.defaults()).value();
                double cc = Similarity.compute(SimilarityMethod.SVCCA, ra, rb, SimilarityOptions.defaults().withKeepFraction(1.0)).value();
                double pw = Similarity.compute(SimilarityMethod.PWCCA, ra, rb, SimilarityOptions.defaultsFor(SimilarityMethod.PWCCA)).value();
                double ck = Similarity.compute(SimilarityMethod.CKA, ra, rb, SimilarityOptions.defaults()).value();
                double cd = Similarity.compute(SimilarityMethod.CKA_DEBIASED, ra, rb, SimilarityOptions.defaults()).value();
                System.out.printf(java.util.Locale.ROOT, "| %d | %d | %.3f | %.3f | %.3f | %.4f | %.4f | %.4f |%n", n, ratio, sv, cc, pw, ck, cd,
                        (double) n / (n + m));
            }
        }
    }
}
