package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.similarity.Similarity;
import dev.stethoscope.probes.similarity.SimilarityMethod;
import dev.stethoscope.probes.similarity.SimilarityOptions;
import dev.stethoscope.probes.similarity.SimilarityResult;
import dev.stethoscope.sample.npy.NpyReader;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * {@code similarity A.npy B.npy [--method svcca|pwcca|cka|cka-debiased] [--keep 0.99]}: compares two
 * representations dumped from anywhere (NumPy .npy, neurons x data points, float32/float64) and
 * prints one JSON object: method, mean (the similarity), the canonical correlations (SVCCA/PWCCA),
 * the PWCCA weights, directions kept, data points and the underdetermined flag.
 */
@Command(name = "similarity", mixinStandardHelpOptions = true,
        description = {"Similarity of two representations stored as NumPy .npy matrices (neurons x data points,"
                + " same data points in the same order), printed as JSON.",
                "Methods: svcca (Raghu et al. 2017), pwcca (Morcos et al. 2018), cka and cka-debiased (Kornblith et al. 2019)."})
public final class SimilarityCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "A.npy", description = "first representation (neurons x data points)")
    Path a;

    @Parameters(index = "1", paramLabel = "B.npy", description = "second representation (neurons x data points)")
    Path b;

    @Option(names = "--method", defaultValue = "svcca", description = "svcca, pwcca, cka or cka-debiased (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--keep", description = "SV step: fraction of variance kept, in (0, 1] (SVCCA default 0.99,"
            + " PWCCA default 1), or a whole number >= 2 of directions")
    Double keep;

    @Option(names = "--epsilon", description = "covariance regularisation relative to the largest variance (default 1e-10)")
    Double epsilon;

    @Option(names = "--transpose", description = "the files are data points x neurons (rows are data points)")
    boolean transpose;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        SimilarityMethod m = SimilarityMethod.parse(method);
        SimilarityOptions opts = SimilarityOptions.defaultsFor(m);
        if (keep != null) {
            if (!(Double.isFinite(keep) && keep > 0)) {
                throw new IllegalArgumentException("--keep must be a fraction in (0, 1] or a whole number of directions, got " + keep);
            }
            if (keep > 1) {
                if (keep != Math.rint(keep)) {
                    throw new IllegalArgumentException("--keep must be a fraction in (0, 1] or a whole number of directions, got " + keep);
                }
                opts = opts.withKeepCount((int) Math.rint(keep));
            } else {
                opts = opts.withKeepFraction(keep);
            }
        }
        if (epsilon != null) {
            if (!(Double.isFinite(epsilon) && epsilon >= 0)) {
                throw new IllegalArgumentException("--epsilon must be a finite number >= 0, got " + epsilon);
            }
            opts = opts.withEpsilon(epsilon);
        }
        INDArray ma = matrix(a);
        INDArray mb = matrix(b);
        if (ma.columns() != mb.columns()) {
            throw new IllegalArgumentException("Data-point dimension mismatch: " + a + " has " + ma.columns()
                    + " data points (columns), " + b + " has " + mb.columns()
                    + (transpose ? "" : "; matrices must be neurons x data points (use --transpose for data points x neurons)"));
        }
        SimilarityResult r = Similarity.compute(m, ma, mb, opts);
        long wider = Math.max(ma.rows(), mb.rows());
        if (ma.columns() < (long) Similarity.MIN_POINTS_PER_NEURON * wider) {
            spec.commandLine().getErr().printf(java.util.Locale.ROOT, "Warning: %d data points for %d neurons (%.1f per"
                    + " neuron, fewer than %d): the value is biased upwards; independent random layers would score about"
                    + " %.2f (CCA) / %.2f (CKA). See docs/PROBES_AND_SIMILARITY.md.%n", ma.columns(), wider,
                    (double) ma.columns() / wider, Similarity.MIN_POINTS_PER_NEURON,
                    Math.min(1.0, 0.85 / Math.sqrt((double) ma.columns() / wider)), 1.0 / (1.0 + (double) ma.columns() / wider));
            spec.commandLine().getErr().flush();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(json(r));
        out.flush();
        return 0;
    }

    private INDArray matrix(Path p) throws IOException {
        INDArray x = NpyReader.read(p);
        if (x.rank() != 2) {
            throw new IllegalArgumentException(p + " has shape " + Arrays.toString(x.shape())
                    + "; a 2-d matrix (neurons x data points) is needed");
        }
        if (transpose) {
            x = x.transpose().dup('c');
        }
        double norm = x.norm2Number().doubleValue();
        if (!Double.isFinite(norm)) {
            throw new IllegalArgumentException(p + " contains NaN or infinite values");
        }
        return x;
    }

    static String json(SimilarityResult r) {
        StringBuilder sb = new StringBuilder("{");
        sb.append("\"method\":\"").append(r.method().id()).append('"');
        sb.append(",\"mean\":").append(num(r.value()));
        sb.append(",\"correlations\":").append(arr(r.correlations()));
        if (r.weights().length > 0) {
            sb.append(",\"weights\":").append(arr(r.weights()));
        }
        sb.append(",\"directionsA\":").append(r.directionsA());
        sb.append(",\"directionsB\":").append(r.directionsB());
        sb.append(",\"dataPoints\":").append(r.dataPoints());
        sb.append(",\"underdetermined\":").append(r.underdetermined());
        return sb.append('}').toString();
    }

    private static String num(double v) {
        return Double.isFinite(v) ? Double.toString(v) : "null";
    }

    private static String arr(double[] a) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < a.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(num(a[i]));
        }
        return sb.append(']').toString();
    }
}
