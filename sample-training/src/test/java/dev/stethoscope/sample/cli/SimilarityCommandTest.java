package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class SimilarityCommandTest {

    /** Runs the command line, returning {exit code, stdout, stderr}. */
    private static Object[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Object[]{code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static double[][] random(Random r, int rows, int cols) {
        double[][] d = new double[rows][cols];
        for (double[] row : d) {
            for (int j = 0; j < cols; j++) {
                row[j] = r.nextGaussian();
            }
        }
        return d;
    }

    @Test
    void printsJsonForSelfSimilarityAndReferenceMatrices(@TempDir Path dir) throws Exception {
        Random r = new Random(1);
        double[][] a = random(r, 6, 80);
        Path pa = dir.resolve("a.npy");
        Path pf = dir.resolve("a_fortran_f32.npy");
        dev.stethoscope.sample.npy.NpyWriterAccess.write(pa, a, "<f8", false);
        dev.stethoscope.sample.npy.NpyWriterAccess.write(pf, a, "<f4", true);
        Object[] res = run("similarity", pa.toString(), pf.toString());
        assertThat(res[0]).as(String.valueOf(res[2])).isEqualTo(0);
        String json = ((String) res[1]).trim();
        assertThat(json).startsWith("{\"method\":\"svcca\",\"mean\":").contains("\"correlations\":[")
                .contains("\"dataPoints\":80");
        double mean = Double.parseDouble(json.replaceAll(".*\"mean\":([^,]*),.*", "$1"));
        assertThat(mean).isGreaterThan(0.9999);
        assertThat((String) res[2]).doesNotContain("Warning"); // 80 points for 6 neurons: 13 per neuron
        Object[] cka = run("similarity", pa.toString(), pf.toString(), "--method", "cka");
        assertThat((String) cka[1]).contains("\"method\":\"cka\"").contains("\"correlations\":[]");
        Object[] pw = run("similarity", pa.toString(), pa.toString(), "--method", "PWCCA", "--keep", "3");
        assertThat((String) pw[1]).contains("\"weights\":[").contains("\"directionsA\":3");
    }

    @Test
    void matchesTheNumpyReferenceFixture() throws Exception {
        Path ra = Path.of("../probes/src/test/resources/similarity/reference_A.npy");
        Path rb = Path.of("../probes/src/test/resources/similarity/reference_B.npy");
        Object[] res = run("similarity", ra.toString(), rb.toString(), "--keep", "0.99");
        assertThat(res[0]).as(String.valueOf(res[2])).isEqualTo(0);
        String ref = Files.readString(Path.of("../probes/src/test/resources/similarity/reference.txt"));
        double expected = Double.parseDouble(ref.replaceAll("(?s).*\\nsvcca_mean ([^\\n]*)\\n.*", "$1"));
        double mean = Double.parseDouble(((String) res[1]).replaceAll("(?s).*\"mean\":([^,]*),.*", "$1"));
        assertThat(mean).isCloseTo(expected, org.assertj.core.api.Assertions.within(1e-8));
        // 60 points for 8 neurons: fewer than 10 per neuron, so the bias warning
        assertThat((String) res[2]).contains("Warning: 60 data points for 8 neurons (7.5 per neuron");
    }

    @Test
    void clearErrorsAndNonZeroExit(@TempDir Path dir) throws Exception {
        Random r = new Random(2);
        Path a = dir.resolve("a.npy");
        Path b = dir.resolve("b.npy");
        dev.stethoscope.sample.npy.NpyWriterAccess.write(a, random(r, 4, 50), "<f8", false);
        dev.stethoscope.sample.npy.NpyWriterAccess.write(b, random(r, 4, 60), "<f8", false);
        Object[] mismatch = run("similarity", a.toString(), b.toString());
        assertThat(mismatch[0]).isNotEqualTo(0);
        assertThat((String) mismatch[2]).contains("Data-point dimension mismatch").contains("50").contains("60");

        double[][] nan = random(r, 4, 50);
        nan[2][7] = Double.NaN;
        Path n = dir.resolve("nan.npy");
        dev.stethoscope.sample.npy.NpyWriterAccess.write(n, nan, "<f8", false);
        Object[] nanRes = run("similarity", a.toString(), n.toString());
        assertThat(nanRes[0]).isNotEqualTo(0);
        assertThat((String) nanRes[2]).contains("NaN").contains("nan.npy");

        Object[] missing = run("similarity", a.toString(), dir.resolve("nope.npy").toString());
        assertThat(missing[0]).isNotEqualTo(0);
        assertThat((String) missing[2]).contains("Cannot read").contains("nope.npy");

        Object[] badMethod = run("similarity", a.toString(), a.toString(), "--method", "cca");
        assertThat(badMethod[0]).isNotEqualTo(0);
        assertThat((String) badMethod[2]).contains("svcca, pwcca, cka, cka-debiased");
    }
}
