package dev.stethoscope.probes.similarity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SimilarityTest {

    private static final SimilarityOptions ALL = SimilarityOptions.defaults().withKeepFraction(1.0);

    @Test
    void selfSimilarityIsOneForEveryMethod() {
        INDArray a = Mats.structured(new Random(1), 12, 300);
        for (SimilarityMethod m : SimilarityMethod.values()) {
            SimilarityResult r = Similarity.compute(m, a, a.dup());
            assertThat(r.value()).as(m.id()).isCloseTo(1.0, within(1e-6));
            for (double rho : r.correlations()) {
                assertThat(rho).as(m.id()).isCloseTo(1.0, within(1e-6));
            }
        }
    }

    @Test
    void ccaIsInvariantToInvertibleTransformsButCkaIsNot() {
        Random rnd = new Random(2);
        INDArray a = Mats.gaussian(rnd, 10, 400);
        // ill-conditioned invertible mixing: diag(1..1000) between two rotations
        INDArray d = Nd4j.diag(Nd4j.createFromArray(1.0, 2, 5, 10, 20, 50, 100, 200, 500, 1000));
        INDArray mix = Mats.orthogonal(rnd, 10).mmul(d).mmul(Mats.orthogonal(rnd, 10));
        INDArray b = mix.mmul(a);
        SimilarityResult cca = Similarity.compute(SimilarityMethod.SVCCA, a, b, ALL.withEpsilon(0));
        assertThat(cca.correlations()).hasSize(10);
        assertThat(cca.value()).isCloseTo(1.0, within(1e-9));
        // the default regularisation (1e-10 of the largest variance) shrinks the weakest direction of B,
        // whose relative variance is about 1e-6 here, by sqrt(1e-6 / (1e-6 + 1e-10)): at most 1e-4 off
        assertThat(Similarity.compute(SimilarityMethod.SVCCA, a, b, ALL).value()).isCloseTo(1.0, within(1e-4));
        assertThat(Similarity.compute(SimilarityMethod.PWCCA, a, b).value()).isCloseTo(1.0, within(1e-4));
        // CKA is not invariant to non-orthogonal transforms: a strongly anisotropic map lowers it
        assertThat(Similarity.cka(a, b)).isLessThan(0.9);
    }

    @Test
    void ckaIsInvariantToOrthogonalTransformAndIsotropicScaling() {
        Random rnd = new Random(3);
        INDArray a = Mats.structured(rnd, 15, 250);
        INDArray b = Mats.orthogonal(rnd, 15).mmul(a).muli(3.7);
        assertThat(Similarity.cka(a, b)).isCloseTo(1.0, within(1e-9));
        assertThat(Similarity.ckaDebiased(a, b)).isCloseTo(1.0, within(1e-9));
        // and a different representation is clearly below 1
        assertThat(Similarity.cka(a, Mats.structured(rnd, 15, 250))).isLessThan(0.9);
    }

    /**
     * Independent Gaussian A (n x m) and B (n x m): under the null, the expected sum of squared
     * canonical correlations (Pillai's trace) is n*n/(m-1), so the mean squared correlation is
     * n/(m-1) and by Jensen the mean correlation is at most sqrt(n/(m-1)) (0.071 here); the
     * largest one tends to the Wachter edge 2*sqrt(p(1-p)) with p = n/m (0.141 here). We allow
     * 20% over the first and 40% over the second for finite-sample fluctuation, and check the
     * mean is not degenerate (above 0.3*sqrt(n/m)).
     */
    @Test
    void independentRandomMatricesHaveSvccaNearZero() {
        int n = 10;
        int m = 2000;
        double meanBound = 1.2 * Math.sqrt(n / (m - 1.0));
        double p = (double) n / m;
        double maxBound = 1.4 * 2 * Math.sqrt(p * (1 - p));
        for (long seed = 10; seed < 13; seed++) {
            Random rnd = new Random(seed);
            SimilarityResult r = Similarity.compute(SimilarityMethod.SVCCA, Mats.gaussian(rnd, n, m),
                    Mats.gaussian(rnd, n, m), ALL);
            assertThat(r.value()).isLessThan(meanBound).isGreaterThan(0.3 * Math.sqrt(p));
            assertThat(r.correlations()[0]).isLessThan(maxBound);
            assertThat(r.underdetermined()).isFalse();
        }
    }

    /**
     * A and B share 3 latent signals z_i; A sees z_i + s_i e_i, B sees z_i + s_i e'_i (independent
     * unit noise), plus private noise rows, each mixed by a random invertible matrix. The
     * canonical correlations are then exactly 1/(1+s_i^2) for the shared signals and 0 for the
     * rest. With m = 4000 the sampling error is about (1-rho^2)/sqrt(m) &lt; 0.016 plus an upward
     * bias of order sqrt(n/m) &lt; 0.05 for the zero ones.
     */
    @Test
    void plantedCanonicalCorrelationsAreRecovered() {
        Random rnd = new Random(4);
        int m = 4000;
        double[] planted = {0.95, 0.8, 0.5};
        INDArray z = Mats.gaussian(rnd, 3, m);
        INDArray sa = Mats.gaussian(rnd, 8, m);
        INDArray sb = Mats.gaussian(rnd, 7, m);
        for (int i = 0; i < 3; i++) {
            double s = Math.sqrt(1 / planted[i] - 1);
            sa.getRow(i).assign(z.getRow(i).add(Mats.gaussian(rnd, 1, m).muli(s).reshape(m)));
            sb.getRow(i).assign(z.getRow(i).add(Mats.gaussian(rnd, 1, m).muli(s).reshape(m)));
        }
        INDArray a = Mats.gaussian(rnd, 8, 8).mmul(sa);
        INDArray b = Mats.gaussian(rnd, 7, 7).mmul(sb);
        SimilarityResult r = Similarity.compute(SimilarityMethod.SVCCA, a, b, ALL);
        double[] rho = r.correlations();
        assertThat(rho).hasSize(7);
        for (int i = 0; i < 3; i++) {
            assertThat(rho[i]).as("rho_" + i).isCloseTo(planted[i], within(0.04));
        }
        for (int i = 3; i < rho.length; i++) {
            assertThat(rho[i]).as("rho_" + i).isLessThan(0.1);
        }
        for (int i = 1; i < rho.length; i++) {
            assertThat(rho[i]).isLessThanOrEqualTo(rho[i - 1]);
        }
    }

    @Test
    void svStepKeepsTheRequestedVariance() {
        Random rnd = new Random(5);
        // 3 strong directions (variance ~100) and 7 weak ones (variance 0.01): 99% is reached with 3
        INDArray z = Mats.gaussian(rnd, 10, 500);
        for (int i = 0; i < 3; i++) {
            z.getRow(i).muli(10);
        }
        for (int i = 3; i < 10; i++) {
            z.getRow(i).muli(0.1);
        }
        Representation rep = Representation.of(Mats.orthogonal(rnd, 10).mmul(z));
        assertThat(rep.directions(SimilarityOptions.defaults())).isEqualTo(3);
        assertThat(rep.directions(SimilarityOptions.defaults().withKeepFraction(1.0))).isEqualTo(10);
        assertThat(rep.directions(SimilarityOptions.defaults().withKeepCount(5))).isEqualTo(5);
        assertThat(rep.directions(SimilarityOptions.defaults().withKeepCount(50))).isEqualTo(10);
    }

    @Test
    void moreNeuronsThanDataPointsDoesNotCrashAndIsFlagged() {
        Random rnd = new Random(6);
        INDArray a = Mats.gaussian(rnd, 50, 20);
        INDArray b = Mats.gaussian(rnd, 40, 20);
        SimilarityResult r = Similarity.compute(SimilarityMethod.SVCCA, a, b, ALL);
        // centred data over 20 points spans 19 dimensions: both subspaces are all of it
        assertThat(r.directionsA()).isEqualTo(19);
        assertThat(r.directionsB()).isEqualTo(19);
        assertThat(r.underdetermined()).isTrue();
        assertThat(r.value()).isCloseTo(1.0, within(1e-6));
        double cka = Similarity.cka(a, b);
        assertThat(cka).isBetween(0.0, 1.0);
        assertThat(Similarity.compute(SimilarityMethod.PWCCA, a, b).value()).isBetween(0.0, 1.0 + 1e-9);
        assertThat(Similarity.cka(a, a)).isCloseTo(1.0, within(1e-9));
    }

    /** The n &gt; m path (Gram eigendecomposition) against CKA written out directly. */
    @Test
    void wideRepresentationsAgreeWithDirectCka() {
        Random rnd = new Random(8);
        INDArray a = Mats.structured(rnd, 70, 30);
        INDArray b = Mats.gaussian(rnd, 45, 30).addi(a.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 45),
                org.nd4j.linalg.indexing.NDArrayIndex.all()));
        INDArray ac = a.subColumnVector(a.mean(true, 1));
        INDArray bc = b.subColumnVector(b.mean(true, 1));
        double xy = Math.pow(ac.mmul(bc.transpose()).norm2Number().doubleValue(), 2);
        double xx = ac.mmul(ac.transpose()).norm2Number().doubleValue();
        double yy = bc.mmul(bc.transpose()).norm2Number().doubleValue();
        assertThat(Similarity.cka(a, b)).isCloseTo(xy / (xx * yy), within(1e-9));
        Representation r = Representation.of(a);
        assertThat(r.rank()).isEqualTo(29);
        double total = 0;
        for (double sv : r.singularValues()) {
            total += sv * sv;
        }
        assertThat(total).isCloseTo(Math.pow(ac.norm2Number().doubleValue(), 2), within(1e-6 * total));
    }

    @Test
    void agreesWithNumpyReference() throws IOException {
        Map<String, double[]> ref = new HashMap<>();
        Map<String, INDArray> mats = new HashMap<>();
        try (InputStream in = getClass().getResourceAsStream("/similarity/reference.txt")) {
            List<String> lines = Arrays.asList(new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n"));
            for (int i = 0; i < lines.size(); i++) {
                String[] t = lines.get(i).trim().split("\\s+");
                if (t[0].equals("A") || t[0].equals("B")) {
                    int rows = Integer.parseInt(t[1]);
                    double[][] d = new double[rows][];
                    for (int r = 0; r < rows; r++) {
                        d[r] = Arrays.stream(lines.get(i + 1 + r).trim().split("\\s+")).mapToDouble(Double::parseDouble).toArray();
                    }
                    mats.put(t[0], Nd4j.createFromArray(d));
                    i += rows;
                } else {
                    ref.put(t[0], Arrays.stream(t).skip(1).mapToDouble(Double::parseDouble).toArray());
                }
            }
        }
        INDArray a = mats.get("A");
        INDArray b = mats.get("B");
        SimilarityResult sv = Similarity.svcca(a, b);
        assertThat(new double[]{sv.directionsA(), sv.directionsB()}).containsExactly(ref.get("svcca_directions"));
        assertThat(sv.correlations()).containsExactly(ref.get("svcca_correlations"), within(1e-8));
        assertThat(sv.value()).isCloseTo(ref.get("svcca_mean")[0], within(1e-8));
        SimilarityResult pw = Similarity.pwcca(a, b);
        assertThat(pw.correlations()).containsExactly(ref.get("pwcca_correlations"), within(1e-8));
        assertThat(pw.value()).isCloseTo(ref.get("pwcca")[0], within(1e-8));
        assertThat(Similarity.cka(a, b)).isCloseTo(ref.get("cka")[0], within(1e-10));
        assertThat(Similarity.ckaDebiased(a, b)).isCloseTo(ref.get("cka_debiased")[0], within(1e-10));
    }

    @Test
    void clearErrors() {
        Random rnd = new Random(7);
        assertThatThrownBy(() -> Similarity.svcca(Mats.gaussian(rnd, 3, 10), Mats.gaussian(rnd, 3, 11)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mismatch").hasMessageContaining("10")
                .hasMessageContaining("11");
        INDArray nan = Mats.gaussian(rnd, 3, 10);
        nan.putScalar(1, 2, Double.NaN);
        assertThatThrownBy(() -> Similarity.svcca(nan, Mats.gaussian(rnd, 3, 10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
        assertThatThrownBy(() -> SimilarityMethod.parse("cca2"))
                .hasMessageContaining("svcca, pwcca, cka, cka-debiased");
        assertThat(SimilarityMethod.parse("PWCCA")).isEqualTo(SimilarityMethod.PWCCA);
        assertThatThrownBy(() -> SimilarityOptions.defaults().withKeepFraction(1.5)).hasMessageContaining("(0, 1]");
    }
}
