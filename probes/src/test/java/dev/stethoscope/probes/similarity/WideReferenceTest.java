package dev.stethoscope.probes.similarity;

import dev.stethoscope.probes.linalg.Decompositions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * SVCCA, all-direction CCA and linear CKA at real widths (256-1024 neurons, 600-5000 points, dead
 * units, n close to m, n &gt; m) against google/svcca's cca_core and numpy CKA, to 1e-6. The reference
 * values and the script that made them are in resources similarity/wide; the matrices are regenerated
 * by {@link WideMats}. Runs on whatever route {@link Decompositions#route()} picks, so under
 * {@code OPENBLAS_CORETYPE=SkylakeX} on an AVX-512 CPU it tests the EJML fallback.
 */
class WideReferenceTest {
    private static final double TOL = 1e-6;

    record Case(String name, int na, int nb, int m, long seed, Map<String, double[]> values) {
        @Override
        public String toString() {
            return name + " (" + na + ", " + nb + " neurons x " + m + " points)";
        }
    }

    static List<Case> cases() throws IOException {
        List<Case> out = new ArrayList<>();
        try (InputStream in = WideReferenceTest.class.getResourceAsStream("/similarity/wide/wide_reference.txt")) {
            Case cur = null;
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] t = line.trim().split("\\s+");
                if (t[0].equals("case")) {
                    cur = new Case(t[1], Integer.parseInt(t[2]), Integer.parseInt(t[3]), Integer.parseInt(t[4]),
                            Long.parseLong(t[5]), new HashMap<>());
                    out.add(cur);
                } else {
                    double[] v = new double[t.length - 1];
                    for (int i = 1; i < t.length; i++) {
                        v[i - 1] = Double.parseDouble(t[i]);
                    }
                    cur.values().put(t[0], v);
                }
            }
        }
        assertThat(out).hasSize(7);
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void agreesWithCcaCoreAndNumpyCka(Case c) {
        INDArray[] p = WideMats.pair(c.na(), c.nb(), c.m(), c.seed());
        double[] sums = c.values().get("checksum");
        assertThat(p[0].sumNumber().doubleValue()).as("generator A").isCloseTo(sums[0], within(1e-9 * Math.abs(sums[0])));
        assertThat(p[1].sumNumber().doubleValue()).as("generator B").isCloseTo(sums[1], within(1e-9 * Math.abs(sums[1])));
        Representation a = Representation.of(p[0]);
        Representation b = Representation.of(p[1]);

        double[] sv = c.values().get("svcca");
        SimilarityResult r = Similarity.compute(SimilarityMethod.SVCCA, a, b, SimilarityOptions.defaults());
        assertThat(new int[]{r.directionsA(), r.directionsB()}).as("svcca directions").containsExactly((int) sv[0], (int) sv[1]);
        assertThat(r.value()).as("svcca").isCloseTo(sv[2], within(TOL));

        double[] cc = c.values().get("cca");
        SimilarityResult all = Similarity.compute(SimilarityMethod.SVCCA, a, b,
                SimilarityOptions.defaults().withKeepFraction(1.0));
        assertThat(new int[]{all.directionsA(), all.directionsB()}).as("cca directions").containsExactly((int) cc[0], (int) cc[1]);
        assertThat(all.value()).as("cca, all directions").isCloseTo(cc[2], within(TOL));
        assertThat(all.underdetermined()).as("underdetermined flag").isEqualTo(cc[0] + cc[1] > c.m() - 1);

        double cka = Similarity.compute(SimilarityMethod.CKA, a, b, SimilarityOptions.defaults()).value();
        assertThat(cka).as("cka").isCloseTo(c.values().get("cka")[0], within(TOL));
    }
}
